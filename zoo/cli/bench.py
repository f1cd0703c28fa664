"""``zoo bench``: ONNX Runtime latency and throughput of a file or of a whole run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo.bench.settings import CONV_ALGO_SEARCHES, OPTIMIZATION_LEVELS, PROVIDER_CHOICES
from zoo.cli.output import FiniteFloatRange, emit_json, get_registry, table, warn
from zoo.runs import exports

MAX_BATCH = 1 << 20
MAX_THREADS = 1024


def _batch_sizes(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(v) for v in value.split(","))
    except ValueError:
        sizes = ()
    if not sizes or any(s < 1 for s in sizes):
        raise click.BadParameter(f"{value!r} is not a comma-separated list of positive integers")
    if max(sizes) > MAX_BATCH:
        raise click.BadParameter(f"{max(sizes)} is larger than {MAX_BATCH:,}, the largest batch bench takes")
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
    help="auto: the GPU if it really works (naming any node run on the CPU), else the CPU and why.",
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
    type=FiniteFloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Timed seconds per cell (at least 10 runs).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=0, max=MAX_THREADS),
    default=0,
    show_default=True,
    help="Intra-op threads (0: ORT's choice).",
)
@click.option(
    "--optimization",
    type=click.Choice(OPTIMIZATION_LEVELS),
    default="all",
    show_default=True,
    help="ONNX Runtime's graph optimization level.",
)
@click.option(
    "--spinning/--no-spinning",
    default=True,
    show_default=True,
    help="Let idle intra-op threads spin (ORT's default; off helps sessions run one after another).",
)
@click.option(
    "--io-binding/--no-io-binding",
    default=True,
    show_default=True,
    help="Bind inputs and outputs in the device's memory; on a GPU a second row adds the host copies.",
)
@click.option(
    "--cuda-graph/--no-cuda-graph",
    default=True,
    show_default=True,
    help="GPU: replay a captured CUDA graph (needs IO binding and every node on the GPU).",
)
@click.option(
    "--cudnn-algo",
    "conv_algo",
    type=click.Choice(CONV_ALGO_SEARCHES),
    default="heuristic",
    show_default=True,
    help="GPU: cuDNN's convolution algorithm search (ONNX Runtime's default is exhaustive).",
)
@click.option(
    "--nhwc/--no-nhwc", "prefer_nhwc", default=True, show_default=True, help="GPU: prefer NHWC kernels."
)
@click.option(
    "--tf32/--no-tf32", default=True, show_default=True, help="GPU: TF32 matrix maths (faster, ~1e-3)."
)
@click.option(
    "--ort-defaults",
    is_flag=True,
    help="Start from ONNX Runtime's own defaults (exhaustive search, NCHW, no graph, no IO binding).",
)
@click.option(
    "--tune",
    is_flag=True,
    help="Try every configuration that matters; report the fastest and zoo's defaults.",
)
@click.option("--isolate", is_flag=True, help="Measure each batch size in a process of its own (GPU memory).")
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
@click.option("--json", "as_json", is_flag=True, help="A JSON object (schema zoo-bench/1), for machines.")
@click.pass_context
def bench_command(
    ctx: click.Context,
    model: str,
    provider: str,
    batch_sizes: tuple[int, ...],
    seconds: float,
    ort_defaults: bool,
    tune: bool,
    isolate: bool,
    height: int | None,
    width: int | None,
    axes: dict[str, int],
    against: str | None,
    plot_path: str | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """ONNX Runtime latency and throughput of MODEL (.onnx) per batch size.

    MODEL may be a run folder: every exported part, their chain and (--against keras) the
    run's Keras model, measured side by side in one process.
    """
    from dataclasses import replace

    from zoo.bench.settings import ORT_DEFAULTS, BenchSettings, SessionSettings

    given = {
        k: v
        for k, v in flags.items()
        if ctx.get_parameter_source(k) is click.core.ParameterSource.COMMANDLINE
    }
    session = replace(ORT_DEFAULTS, **given) if ort_defaults else SessionSettings(**flags)
    sizes = {**axes, **({"height": height} if height else {}), **({"width": width} if width else {})}
    settings = BenchSettings(
        provider=provider,
        batch_sizes=batch_sizes,
        seconds=seconds,
        sizes=sizes,
        debug=ctx.meta.get("zoo.debug", False),
        session=session,
    )
    try:
        is_run = Path(model).is_dir()
    except OSError as exc:
        raise click.BadParameter(
            f"{model!r} cannot be used: {exc.strerror or exc}", param_hint="MODEL"
        ) from exc
    if plot_path:
        _check_plot_path(plot_path)
    if against and not is_run:
        raise click.UsageError("--against keras needs a run folder, not a single .onnx file")
    if not is_run:
        settings = _fitting_batch_sizes(ctx, model, settings)
    if is_run:
        _require_current_export(Path(model), against == "keras")
    if tune:
        if against or isolate:
            raise click.UsageError(
                "--tune times ONNX Runtime alone, in one process: drop --against and --isolate"
            )
        _tune(model, settings, as_json, is_run)
        return
    against_keras = against == "keras"
    if isolate:
        from zoo.bench.isolate import isolated

        report = isolated("run" if is_run else "file", model, settings, against_keras)
    elif is_run:
        from zoo.bench.run import bench_run

        registry = get_registry(ctx) if against_keras else None
        report = bench_run(model, settings, against_keras=against_keras, registry=registry)
    else:
        from zoo.bench.file import bench

        report = bench(model, settings)
    if report["fallback"]:
        click.echo(f"zoo: warning: {report['fallback']}", err=True)
    title = f"{report.get('architecture', '')} {report.get('run') or report['model']} on {report['provider']}"
    _bench_plot(plot_path, report["rows"], title.strip())
    if as_json:
        emit_json(report)
        return
    click.echo(_header(report))
    _echo_rows(report["rows"])
    for line in _speedup_lines(report):
        click.echo(line)


def _require_current_export(run: Path, against_keras: bool) -> None:
    """A run's export that its model has moved on from (a resume after the export) is refused
    beside Keras, whose model is the newer one, and named in a warning when timed alone."""
    folder = exports.run_export(run)
    if against_keras:
        exports.require_current(run, folder)
    elif reason := exports.stale_reason(run, folder):
        warn(f"the export {str(folder)!r} is stale: {reason}; its files are timed as they are")


def _fitting_batch_sizes(ctx: click.Context, model: str, settings: Any) -> Any:
    """``settings`` with the batch sizes ``model`` can take: a file with a fixed batch (1, as
    many are exported) is measured at that batch alone, said in one line, unless --batch-sizes
    were given (then any other size is refused); a file bench cannot feed at all is refused."""
    from dataclasses import replace

    from zoo.bench.feeds import batch_sizes_for

    given = ctx.get_parameter_source("batch_sizes") is click.core.ParameterSource.COMMANDLINE
    sizes, note = batch_sizes_for(Path(model), settings.batch_sizes, given)
    if note:
        warn(note)
    return replace(settings, batch_sizes=sizes)


def _speedup_lines(report: dict[str, Any]) -> list[str]:
    """The speed-up over Keras per batch size, naming the two rows compared and Keras' device."""
    if "speedup_over_keras_tf_function" not in report:
        return [f"keras on {report['keras_device']}"] if "keras_device" in report else []
    keras, ort = report["speedup_rows"]["keras"], report["speedup_rows"]["onnxruntime"]
    lines = [
        f"speed-up: p50 of {keras['method']} ({keras['io']}, on {report['keras_device']}) over p50 of "
        f"{ort['method']} ({ort['io']}); both take host NumPy in and out"
    ]
    for batch, ratio in report["speedup_over_keras_tf_function"].items():
        lines.append(f"batch {batch}: {ort['method']} is {ratio:.2f}x {keras['method']}")
    return lines


def _header(report: dict[str, Any]) -> str:
    from zoo.bench.machine import describe

    options = ", ".join(f"{k} {v}" for k, v in report["session_options"].items())
    where = report.get("run") or report["model"]
    lines = [
        f"{where} on {report['provider']} "
        f"(onnxruntime {report['onnxruntime']}; {describe(report['machine'])})",
        f"session: {options}; CPU fallback {report['cpu_ep_fallback']}"
        + ("; each batch size in its own process" if report.get("isolated") else ""),
    ]
    if report.get("nodes_per_provider"):
        counts = report["nodes_per_provider"]
        total = sum(counts.values())
        shares = ", ".join(f"{p} {n} of {total} ({n / total:.0%})" for p, n in counts.items())
        lines.append(f"nodes per provider (profiled): {shares}")
    if report["cpu_nodes"]:
        lines.append(f"nodes on the CPU: {', '.join(report['cpu_nodes'])}")
    elif report["cpu_nodes"] == []:
        lines.append("nodes on the CPU: none")
    lines.append(f"inputs: {report['input_data']}")
    return "\n".join(lines)


def _echo_rows(rows: list[dict[str, Any]]) -> None:
    gpu = any(r.get("gpu_memory_used_mib") is not None for r in rows)
    headers = [
        "METHOD",
        "IO",
        "BATCH",
        "RUNS",
        "MEAN MS",
        "STD MS",
        "P50 MS",
        "P90 MS",
        "P99 MS",
        "SAMPLES/S",
    ]
    headers += ["FIRST RUN MS"] + (["GPU MIB"] if gpu else [])
    body = []
    for r in rows:
        cells = [r["method"] + (" (graph)" if r.get("cuda_graph") else ""), r["io"], str(r["batch_size"])]
        cells += [str(r["runs"])] + [
            f"{r[k]:.3f}" for k in ("mean_ms", "std_ms", "p50_ms", "p90_ms", "p99_ms")
        ]
        cells += [
            f"{r['samples_per_s']:,.0f}",
            f"{r['first_run_ms']:.2f}" if r["first_run_ms"] is not None else "-",
        ]
        if gpu:
            cells.append(
                f"{r['gpu_memory_used_mib']:.0f}" if r.get("gpu_memory_used_mib") is not None else "-"
            )
        body.append(cells)
    click.echo(table(body, headers))


def _tune(model: str, settings: Any, as_json: bool, is_run: bool) -> None:
    """--tune of a file, or of every file of a run's export."""
    from zoo.bench.tune import tune

    files = [Path(model)]
    if is_run:
        files = sorted(exports.run_export(Path(model)).glob("*.onnx"))
        if not files:
            raise click.UsageError(
                f"{model!r} has no {exports.DEFAULT_EXPORTER}/*.onnx: run `zoo export {model}` first"
            )
    reports = [tune(f, settings) for f in files]
    if as_json:
        emit_json(reports[0] if not is_run else {"run": model, "files": reports})
        return
    for report in reports:
        click.echo(f"{report['model']}: {report['configurations']} configurations on {report['provider']}")
        rows = []
        for best, verdict in zip(report["best"], report["defaults"], strict=True):
            settings = ", ".join(f"{k} {v}" for k, v in best["settings"].items())
            rows.append(
                [
                    str(best["batch_size"]),
                    f"{verdict['best_p50_ms']:.3f}",
                    settings,
                    f"{verdict['defaults_p50_ms']:.3f}",
                    f"{verdict['defaults_over_best']:.2f}x",
                ]
            )
        click.echo(
            table(
                rows, ["BATCH", "BEST P50 MS", "BEST CONFIGURATION", "ZOO DEFAULTS P50 MS", "DEFAULTS/BEST"]
            )
        )


def _check_plot_path(path: str) -> None:
    """Refuse a --plot path that cannot be written, before minutes of timing."""
    from zoo.runs.atomic import check_writable_folder

    target = Path(path)
    try:
        is_dir = target.is_dir()
    except OSError as exc:
        raise click.BadParameter(
            f"{path!r} cannot be used: {exc.strerror or exc}", param_hint="--plot"
        ) from exc
    if is_dir:
        raise click.BadParameter(
            f"{path!r} is a folder; give a file name such as bench.png", param_hint="--plot"
        )
    check_writable_folder(target.parent, "--plot")


def _bench_plot(path: str | None, rows: list[dict[str, Any]], title: str) -> None:
    if path:
        from zoo.bench.plot import bench_png

        modes = {(r["method"], r["io"]) for r in rows}
        several = len(modes) > len({m for m, _ in modes})
        labelled = [{**r, "method": f"{r['method']} ({r['io']})" if several else r["method"]} for r in rows]
        bench_png(labelled, path, title)
        click.echo(f"zoo: plot written to {path}", err=True)


COMMANDS = (bench_command,)
