"""``zoo bench``: ONNX Runtime latency and throughput of a file or of a whole run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo.cli_output import emit_json, get_registry, table

PROVIDER_CHOICES = ("auto", "cuda", "cpu")


def _batch_sizes(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(v) for v in value.split(","))
    except ValueError:
        sizes = ()
    if not sizes or any(s < 1 for s in sizes):
        raise click.BadParameter(f"{value!r} is not a comma-separated list of positive integers")
    return sizes


def _axis_sizes(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, int]:
    sizes = {}
    for item in value:
        name, _, number = item.partition("=")
        if not name or not number.isdigit() or int(number) < 1:
            raise click.BadParameter(f"{item!r} is not NAME=N with N a positive integer")
        sizes[name] = int(number)
    return sizes


@click.command("bench")
@click.argument("model")
@click.option(
    "--provider",
    type=click.Choice(PROVIDER_CHOICES),
    default="auto",
    show_default=True,
    help="auto: CUDA if it really works, else CPU (and says why).",
)
@click.option(
    "--batch-sizes",
    default="1,32,256",
    show_default=True,
    callback=_batch_sizes,
    help="Comma-separated batch sizes.",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Timed seconds per batch size (at least 10 runs).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Intra-op threads (0: ORT's choice).",
)
@click.option(
    "--optimization",
    type=click.Choice(("disable", "basic", "extended", "all")),
    default="all",
    show_default=True,
    help="ONNX Runtime's graph optimization level.",
)
@click.option(
    "--height", type=click.IntRange(min=1), help="Size of a free 'height' axis (fully convolutional models)."
)
@click.option("--width", type=click.IntRange(min=1), help="Size of a free 'width' axis.")
@click.option(
    "--axis",
    "axes",
    multiple=True,
    metavar="NAME=N",
    callback=_axis_sizes,
    help="Size of any other free axis.",
)
@click.option(
    "--against",
    type=click.Choice(("keras",)),
    help="With RUN_DIR: also time the run's Keras model (tf.function and predict) on the same inputs.",
)
@click.option(
    "--plot", "plot_path", metavar="PNG", help="Also draw latency and throughput against batch size."
)
@click.option("--json", "as_json", is_flag=True, help="A JSON object, for machines.")
@click.pass_context
def bench_command(
    ctx: click.Context,
    model: str,
    provider: str,
    batch_sizes: tuple[int, ...],
    seconds: float,
    threads: int,
    optimization: str,
    height: int | None,
    width: int | None,
    axes: dict[str, int],
    against: str | None,
    plot_path: str | None,
    as_json: bool,
) -> None:
    """ONNX Runtime latency and throughput of MODEL (.onnx) per batch size.

    MODEL may be a run folder: every exported part, their chain and (--against keras) the
    run's Keras model, measured side by side in one process.
    """
    from zoo.bench import SessionSettings, bench

    settings = SessionSettings(threads=threads, optimization=optimization)
    if Path(model).is_dir():
        report = _bench_run(ctx, model, provider, batch_sizes, seconds, settings, against, as_json)
        _bench_plot(
            plot_path, report["rows"], f"{report['architecture']}: {report['run']} on {report['provider']}"
        )
        return
    if against:
        raise click.UsageError("--against keras needs a run folder, not a single .onnx file")
    sizes = {**axes, **({"height": height} if height else {}), **({"width": width} if width else {})}
    report = bench(
        model,
        provider=provider,
        batch_sizes=batch_sizes,
        seconds=seconds,
        debug=ctx.meta.get("zoo.debug", False),
        settings=settings,
        sizes=sizes,
    )
    if report["fallback"]:
        click.echo(f"zoo: {report['fallback']}", err=True)
    rows = [{"method": f"onnxruntime {report['provider']}", **r} for r in report["results"]]
    _bench_plot(plot_path, rows, f"{report['model']} on {report['provider']}")
    if as_json:
        emit_json(report)
        return
    m = report["machine"]
    click.echo(
        f"{report['model']} on {report['provider']} (onnxruntime {report['onnxruntime']}, "
        f"{m['cpu']}, {m['cores']} cores; threads {report['session_options']['threads'] or 'auto'}, "
        f"optimization {report['session_options']['optimization']})"
    )
    click.echo(
        f"session created in {report['session_create_ms']:.1f} ms, "
        f"first run {report['first_run_ms']:.2f} ms, peak RSS {report['peak_rss_mib']:.0f} MiB; "
        f"inputs: {report['input_data']}"
    )
    rows = [
        [
            str(r["batch_size"]),
            str(r["runs"]),
            f"{r['mean_ms']:.3f}",
            f"{r['std_ms']:.3f}",
            f"{r['p50_ms']:.3f}",
            f"{r['p90_ms']:.3f}",
            f"{r['p99_ms']:.3f}",
            f"{r['samples_per_s']:,.0f}",
        ]
        for r in report["results"]
    ]
    click.echo(table(rows, ["BATCH", "RUNS", "MEAN MS", "STD MS", "P50 MS", "P90 MS", "P99 MS", "SAMPLES/S"]))


def _bench_run(
    ctx: click.Context,
    run_dir: str,
    provider: str,
    batch_sizes: tuple[int, ...],
    seconds: float,
    settings: Any,
    against: str | None,
    as_json: bool,
) -> dict[str, Any]:
    from zoo.bench_run import bench_run

    report = bench_run(
        run_dir,
        provider=provider,
        batch_sizes=batch_sizes,
        seconds=seconds,
        settings=settings,
        against_keras=against == "keras",
        registry=get_registry(ctx) if against else None,
        debug=ctx.meta.get("zoo.debug", False),
    )
    if report["fallback"]:
        click.echo(f"zoo: {report['fallback']}", err=True)
    if as_json:
        emit_json(report)
        return report
    m = report["machine"]
    click.echo(
        f"{report['run']} ({report['architecture']}) on {report['provider']} "
        f"(onnxruntime {report['onnxruntime']}, {m['cpu']}, {m['cores']} cores); "
        f"inputs: {report['input_data']}"
    )
    rows = [
        [
            r["method"],
            str(r["batch_size"]),
            str(r["runs"]),
            f"{r['p50_ms']:.3f}",
            f"{r['p90_ms']:.3f}",
            f"{r['samples_per_s']:,.0f}",
        ]
        for r in report["rows"]
    ]
    click.echo(table(rows, ["METHOD", "BATCH", "RUNS", "P50 MS", "P90 MS", "SAMPLES/S"]))
    for batch, ratio in report.get("speedup_over_keras_tf_function", {}).items():
        click.echo(f"batch {batch}: onnxruntime full model is {ratio:.2f}x keras tf.function (p50)")
    return report


def _bench_plot(path: str | None, rows: list[dict[str, Any]], title: str) -> None:
    if path:
        from zoo.plots import bench_png

        bench_png(rows, path, title)
        click.echo(f"zoo: plot written to {path}", err=True)
