"""``zoo bench``: ONNX Runtime latency and throughput of a file or of a whole run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo.bench.settings import CONV_ALGO_SEARCHES, OPTIMIZATION_LEVELS, PRECISION_CHOICES, PROVIDER_CHOICES
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
    "--runtime",
    "runtime_list",
    default="onnxruntime",
    show_default=True,
    metavar="LIST",
    help="onnxruntime, openvino or both (comma-separated): timed side by side on the same inputs.",
)
@click.option(
    "--precision",
    "precision_list",
    default="default",
    show_default=True,
    metavar="LIST",
    help=f"OpenVINO's inference precision, comma-separated: {', '.join(PRECISION_CHOICES)} "
    "(default: its own choice, read back; bfloat16 on a CPU with AVX-512 BF16).",
)
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
    runtime_list: str,
    precision_list: str,
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
    """Latency and throughput of MODEL (.onnx) per batch size, in ONNX Runtime or OpenVINO.

    MODEL may be a run folder: every exported part, their chain and (--against keras) the
    run's Keras model, measured side by side in one process.
    """
    from dataclasses import replace

    from zoo.bench.settings import ORT_DEFAULTS, BenchSettings, SessionSettings

    runtimes, precisions = _runtimes(ctx, runtime_list, precision_list, tune, against)

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
        runtimes=runtimes,
        precisions=precisions,
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
    for line in _precision_warnings(report):
        warn(line)
    title = f"{report.get('architecture', '')} {report.get('run') or report['model']} on {_where(report)}"
    _bench_plot(plot_path, report["rows"], title.strip())
    if as_json:
        emit_json(report)
        return
    click.echo(_header(report))
    _echo_rows(report["rows"])
    for line in _speedup_lines(report):
        click.echo(line)


# Options that set ONNX Runtime alone (its providers and session): refused where it is not timed.
ONNXRUNTIME_OPTIONS = (
    "provider",
    "threads",
    "optimization",
    "spinning",
    "io_binding",
    "cuda_graph",
    "conv_algo",
    "prefer_nhwc",
    "tf32",
    "ort_defaults",
    "tune",
)


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE


def _flag(ctx: click.Context, name: str) -> str:
    """The option ``name`` as it was written (``--no-io-binding`` rather than ``--io-binding``)."""
    param = next(p for p in ctx.command.params if p.name == name)
    if isinstance(param, click.Option) and param.secondary_opts and ctx.params.get(name) is False:
        return param.secondary_opts[0]
    return param.opts[0]


def _runtimes(
    ctx: click.Context, runtime_list: str, precision_list: str, tune: bool, against: str | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The runtimes and precisions asked for, refused in one line where an option cannot go with
    them: an ONNX Runtime option without ONNX Runtime, --precision without OpenVINO, --tune
    with OpenVINO, --against keras without ONNX Runtime, OpenVINO not installed."""
    import zoo.runtimes
    from zoo.bench.settings import BENCH_RUNTIMES
    from zoo.core.errors import InvalidOption

    try:
        runtimes = tuple(r.name for r in zoo.runtimes.parse(runtime_list))
    except InvalidOption as exc:
        raise click.BadParameter(str(exc), param_hint="--runtime") from exc
    others = [r for r in runtimes if r not in BENCH_RUNTIMES]
    if others:
        raise click.BadParameter(
            f"zoo bench times {' and '.join(BENCH_RUNTIMES)}, not {', '.join(others)} "
            f"(`zoo verify --runtime {others[0]}` checks a file there)",
            param_hint="--runtime",
        )
    precisions = tuple(dict.fromkeys(p.strip().lower() for p in precision_list.split(",") if p.strip()))
    unknown = [p for p in precisions if p not in PRECISION_CHOICES]
    if unknown or not precisions:
        raise click.BadParameter(
            f"{precision_list!r} is not a list of {', '.join(PRECISION_CHOICES)}", param_hint="--precision"
        )
    asked = ",".join(runtimes)
    if "onnxruntime" not in runtimes:
        for name in ONNXRUNTIME_OPTIONS:
            if _given(ctx, name):
                raise click.UsageError(
                    f"{_flag(ctx, name)} sets ONNX Runtime, which --runtime {asked} does not time: "
                    f"drop it, or add onnxruntime to --runtime"
                )
        if against:
            raise click.UsageError(
                "--against keras compares Keras with ONNX Runtime: add onnxruntime to --runtime"
            )
    if "openvino" not in runtimes and _given(ctx, "precision_list"):
        raise click.UsageError(
            "--precision sets OpenVINO's inference precision (ONNX Runtime computes as the file is "
            "written): add openvino to --runtime, or drop --precision"
        )
    if "openvino" in runtimes:
        if tune:
            raise click.UsageError(
                "--tune tries ONNX Runtime's configurations alone: drop openvino from --runtime"
            )
        from zoo.bench.openvino_models import unavailable_error

        if error := unavailable_error():
            raise error
    return runtimes, precisions


def _where(report: dict[str, Any]) -> str:
    """What ran the rows: ONNX Runtime's providers, OpenVINO's device, or both."""
    where = [f"onnxruntime {report['provider']}"] if report["provider"] else []
    if report.get("openvino"):
        where.append(f"openvino {report['openvino']['device'].lower()}")
    return " and ".join(where)


def _precision_warnings(report: dict[str, Any]) -> list[str]:
    """OpenVINO computing in another precision than the file holds, by default or despite
    --precision: said on stderr, as it moves the outputs (bfloat16: about 1e-3)."""
    vino = report.get("openvino")
    if not vino:
        return []
    lines = []
    for entry in vino["precisions"]:
        if entry["requested"] == "default" and entry["used"] != vino["file_precision"]:
            lines.append(
                f"OpenVINO computes in {entry['used']} by default on this CPU (the file holds "
                f"{vino['file_precision']}): its outputs differ; --precision float32 for parity"
            )
        elif entry["requested"] not in ("default", entry["used"]):
            lines.append(f"OpenVINO was asked for {entry['requested']} but computes in {entry['used']} here")
    return lines


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

    where = report.get("run") or report["model"]
    versions = [
        f"onnxruntime {report['onnxruntime']}" if r == "onnxruntime" else f"{r} {report[r]['version']}"
        for r in report["runtimes"]
    ]
    isolated = "each batch size in its own process" if report.get("isolated") else ""
    lines = [f"{where} on {_where(report)} ({'; '.join(versions)}; {describe(report['machine'])})"]
    if report["provider"]:
        options = ", ".join(f"{k} {v}" for k, v in report["session_options"].items())
        lines.append(
            f"onnxruntime session: {options}; CPU fallback {report['cpu_ep_fallback']}"
            + (f"; {isolated}" if isolated else "")
        )
    elif isolated:
        lines.append(isolated)
    if report.get("openvino"):
        lines.append(_openvino_line(report["openvino"]))
    if len(report["runtimes"]) > 1:
        lines.append(f"runtimes: {', '.join(report['runtimes'])}, one after the other at each batch size")
    if report.get("nodes_per_provider"):
        counts = report["nodes_per_provider"]
        total = sum(counts.values())
        shares = ", ".join(f"{p} {n} of {total} ({n / total:.0%})" for p, n in counts.items())
        lines.append(f"nodes per provider (profiled): {shares}")
    if report["cpu_nodes"]:
        lines.append(f"nodes on the CPU: {', '.join(report['cpu_nodes'])}")
    elif report["cpu_nodes"] == []:
        lines.append("nodes on the CPU: none")
    lines.append(
        f"inputs: {report['input_data']}"
        + (", the same for every runtime" if len(report["runtimes"]) > 1 else "")
    )
    return "\n".join(lines)


def _openvino_line(vino: dict[str, Any]) -> str:
    """OpenVINO's device, the precisions it really computes in and its settings, read back."""
    used = ", ".join(
        f"{e['used']} ("
        + ("its default here" if e["requested"] == "default" else f"--precision {e['requested']}")
        + ")"
        for e in vino["precisions"]
    )
    config = vino["config"]
    streams = config["num_streams"]
    return (
        f"openvino on {vino['device']} ({vino['device_name']}): computes in {used}; the file holds "
        f"{vino['file_precision']}; {config['performance_hint']} hint, "
        f"{config['inference_num_threads']} threads, {streams} stream{'' if streams == 1 else 's'}"
    )


def _echo_rows(rows: list[dict[str, Any]]) -> None:
    gpu = any(r.get("gpu_memory_used_mib") is not None for r in rows)
    headers = [
        "METHOD",
        "PRECISION",
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
        cells = [r["method"] + (" (graph)" if r.get("cuda_graph") else ""), r["precision"] or "-", r["io"]]
        cells.append(str(r["batch_size"]))
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
