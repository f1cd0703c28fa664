"""The ``zoo`` command: parses, calls one function of the layer below, prints.

Errors a user can act on (``ZooError``, bad options) are one line on stderr with exit code 2;
anything else is an internal error, exit code 1. ``--debug`` shows the traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from zoo import __version__
from zoo.cli.describe import format_shape
from zoo.cli.output import MAX_COUNT, FiniteFloatRange, emit_json, get_registry, table, warn
from zoo.core import settings
from zoo.core.errors import ZooError
from zoo.core.specs import FAMILIES, LR_SCHEDULES
from zoo.training.distribute import STRATEGIES

MAX_MESSAGE = 400  # an exception may carry a whole tensor; a message is for reading


def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


class ZooGroup(click.Group):
    """A click group whose errors are one line on stderr, never a traceback unless --debug."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any) -> Any:
        args = list(sys.argv[1:] if args is None else args)
        # ZOO_STRICT_PLUGINS is for plugin authors: they get their plugin's traceback.
        debug = "--debug" in args or settings.flag(settings.DEBUG) or settings.flag(settings.STRICT_PLUGINS)
        standalone = extra.pop("standalone_mode", True)
        try:
            code = super().main(args=args, prog_name=prog_name or "zoo", standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
            code = 0
        except click.ClickException as exc:
            click.echo(f"zoo: error: {_one_line(exc.format_message())}", err=True)
            code = exc.exit_code
        except ZooError as exc:
            if debug:
                raise
            click.echo(f"zoo: error: {_one_line(str(exc))}", err=True)
            code = exc.exit_code
        except (click.Abort, KeyboardInterrupt):
            click.echo("zoo: interrupted", err=True)
            code = 130
        except Exception as exc:
            if debug:
                raise
            click.echo(
                f"zoo: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
                "(run with --debug for the traceback)",
                err=True,
            )
            code = 1
        code = code if isinstance(code, int) else 0
        if standalone:
            sys.exit(code)
        return code


@click.group(cls=ZooGroup, no_args_is_help=True)
@click.version_option(__version__, prog_name="zoo")
@click.option("--debug", is_flag=True, help="Show tracebacks and ONNX Runtime's own log.")
@click.option(
    "--unsafe-load-code",
    is_flag=True,
    help="Load model.keras files that carry Python code (Lambda layers) and run it: only for "
    "files you trust [env: ZOO_UNSAFE_LOAD_CODE=1].",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool, unsafe_load_code: bool) -> None:
    """zoo: Keras architectures from plugins, trained, exported to ONNX and benchmarked."""
    ctx.meta["zoo.debug"] = debug
    if debug:
        os.environ[settings.DEBUG] = "1"  # read by the layers below (keras_env)
    ctx.meta["zoo.unsafe_load_code"] = unsafe_load_code or settings.flag(settings.UNSAFE_LOAD_CODE)
    if ctx.meta["zoo.unsafe_load_code"]:
        os.environ[settings.UNSAFE_LOAD_CODE] = "1"  # read by zoo.runs.run_folder.Run.load_model
        warn(
            "--unsafe-load-code: Keras models load outside safe mode, so code in a model file runs; "
            "use it only with files you trust"
        )


@cli.command("list")
@click.argument("pattern", required=False)
@click.option("--family", type=click.Choice(FAMILIES), help="Only this family.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, for machines.")
@click.pass_context
def list_command(ctx: click.Context, pattern: str | None, family: str | None, as_json: bool) -> None:
    """Every registered architecture, or those whose name matches PATTERN (glob or substring)."""
    from zoo.cli.describe import architecture_row, matches

    specs = [
        s
        for s in sorted(get_registry(ctx).architectures.values(), key=lambda s: s.name)
        if matches(s, pattern, family)
    ]
    rows = [architecture_row(s) for s in specs]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("No architectures match.", err=True)
        return
    click.echo(
        table(
            [
                [
                    r["name"],
                    r["family"],
                    ",".join(r["parts"]),
                    format_shape(r["input_shape"]),
                    r["plugin"],
                    r["summary"],
                ]
                for r in rows
            ],
            ["NAME", "FAMILY", "PARTS", "INPUT", "PLUGIN", "SUMMARY"],
        )
    )


@cli.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="A JSON object, for machines.")
@click.pass_context
def info_command(ctx: click.Context, name: str, as_json: bool) -> None:
    """Parts, input shape, hyper-parameters, default dataset and reference of an architecture."""
    from zoo.cli.describe import architecture_info, format_info

    info = architecture_info(get_registry(ctx), name)
    if as_json:
        emit_json(info)
    else:
        click.echo(format_info(info))


@cli.command("plugins")
@click.option("--all", "show_all", is_flag=True, help="Include the built-in plugins.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, for machines.")
@click.pass_context
def plugins_command(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """Installed plugins: distribution, version, hooks, what they registered, and load errors."""
    # A plugin that failed is always shown, built-in or not.
    records = [p for p in get_registry(ctx).plugins if show_all or not p.builtin or p.error]
    if as_json:
        emit_json([p.to_json() for p in records])
        return
    if not records:
        click.echo("No third-party plugins installed (--all shows the built-in ones).", err=True)
        return
    rows = [
        [
            p.name,
            f"{p.distribution or '-'} {p.version or ''}".strip(),
            "yes" if p.builtin else "no",
            ",".join(h.removeprefix("zoo_register_") for h in p.hooks) or "-",
            ", ".join(p.registered) or "-",
            p.path or "-",  # plugins are code: where it runs from
            f"ERROR {p.error}" if p.error else "ok",
        ]
        for p in records
    ]
    click.echo(table(rows, ["PLUGIN", "DISTRIBUTION", "BUILT-IN", "HOOKS", "REGISTERED", "PATH", "STATUS"]))


@cli.command("train")
@click.argument("name", required=False)
@click.option(
    "--dataset", help="Dataset name, or folder:PATH for your own images (default: the architecture's)."
)
@click.option("--data-dir", help="Folder with dataset files such as mnist.npz [env: ZOO_DATA_DIR].")
@click.option(
    "--epochs", type=click.IntRange(min=1, max=MAX_COUNT), help="Epochs (default: the architecture's)."
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1, max=MAX_COUNT),
    help="Batch size (default: the architecture's).",
)
@click.option("--learning-rate", type=FiniteFloatRange(min=0, min_open=True), help="Adam's learning rate.")
@click.option(
    "--lr-schedule",
    type=click.Choice(LR_SCHEDULES),
    help="constant; epoch-decay (x0.8 per epoch); cosine (to 0); plateau (halved when val loss stalls).",
)
@click.option(
    "--early-stopping",
    type=click.IntRange(min=0),
    default=0,
    metavar="PATIENCE",
    help="Stop when the validation loss has not improved for PATIENCE epochs; keep the best.",
)
@click.option("--seed", type=click.IntRange(min=0, max=2**32 - 1), default=0, show_default=True)
@click.option(
    "--deterministic", is_flag=True, help="Deterministic ops: the same seed gives the same weights."
)
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default="none",
    show_default=True,
    help="tf.distribute: mirrored (this machine's GPUs), multiworker (hosts in TF_CONFIG).",
)
@click.option("--out", default="runs", show_default=True, help="Folder the run folder goes into.")
@click.option(
    "-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="A hyper-parameter; repeat."
)
@click.option("--resume", "resume_dir", metavar="RUN_DIR", help="Go on with an interrupted run.")
@click.option("--quiet", is_flag=True, help="No progress; only the run folder's path.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line per epoch, then the result.")
@click.pass_context
def train_command(
    ctx: click.Context,
    name: str | None,
    dataset: str | None,
    data_dir: str | None,
    epochs: int | None,
    batch_size: int | None,
    learning_rate: float | None,
    lr_schedule: str | None,
    early_stopping: int,
    seed: int,
    deterministic: bool,
    strategy: str,
    out: str,
    params: tuple[str, ...],
    resume_dir: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Train NAME with Keras; prints the run folder's path as the last line.

    Every epoch end saves the model with its optimizer state; Ctrl-C stops after the current
    batch, keeps every complete epoch and exits with 130; --resume RUN_DIR goes on from there.
    """
    from zoo.core.hparams import parse_assignments
    from zoo.training.train import TrainRequest, resume, train

    def log(message: str) -> None:
        if not quiet:
            click.echo(f"zoo: {message}", err=True)

    def on_epoch(epoch: int, total: int, row: dict[str, float]) -> None:
        if as_json:  # Keras' progress bar shows the rest, samples/s included
            click.echo(json.dumps({"event": "epoch", "epoch": epoch, "epochs": total, **row}))

    verbose = 0 if quiet or as_json else 1 if sys.stdout.isatty() else 2
    if resume_dir:
        given = [n for n, v in (("NAME", name), ("--dataset", dataset), ("-p", params)) if v]
        if given:
            raise click.UsageError(f"--resume takes the run's own settings; drop {', '.join(given)}")
        result = resume(
            get_registry(ctx),
            resume_dir,
            epochs=epochs,
            data_dir=data_dir,
            verbose=verbose,
            log=log,
            on_epoch=on_epoch,
        )
    else:
        if not name:
            raise click.UsageError("Missing argument 'NAME' (or --resume RUN_DIR)")
        request = TrainRequest(
            architecture=name,
            dataset=dataset,
            data_dir=data_dir,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            lr_schedule=lr_schedule,
            early_stopping=early_stopping,
            seed=seed,
            deterministic=deterministic,
            strategy=strategy,
            out=out,
            hyperparameters=parse_assignments(params),
        )
        result = train(get_registry(ctx), request, verbose=verbose, log=log, on_epoch=on_epoch)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "event": "result",
                    "path": str(result.path),
                    "status": result.status,
                    "epochs_completed": result.epochs_completed,
                    "metrics": result.metrics,
                }
            )
        )
        return
    click.echo(str(result.path))


@cli.command("runs")
@click.argument("folder", default="runs")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, for machines.")
def runs_command(folder: str, as_json: bool) -> None:
    """The run folders in FOLDER: architecture, dataset, status, epochs, test metrics."""
    from zoo.cli.describe import run_row
    from zoo.runs.run_folder import find_runs

    rows = [run_row(run) for run in find_runs(Path(folder), skipped=warn)]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo(f"No run folders in {folder!r}.", err=True)
        return
    cells = [
        [
            r["name"],
            r["architecture"],
            r["dataset"],
            r["status"],
            f"{r['epochs_completed']}/{r['epochs']}",
            r["result"],
            r["created"],
        ]
        for r in rows
    ]
    click.echo(table(cells, ["RUN", "ARCHITECTURE", "DATASET", "STATUS", "EPOCHS", "TEST", "CREATED"]))


@cli.command("evaluate")
@click.argument("run_dir")
@click.option("--data-dir", help="Folder with dataset files (default: the run's) [env: ZOO_DATA_DIR].")
@click.option("--json", "as_json", is_flag=True, help="A JSON object, for machines.")
@click.pass_context
def evaluate_command(ctx: click.Context, run_dir: str, data_dir: str | None, as_json: bool) -> None:
    """Re-compute a run's test metrics from model.keras and its dataset's test split."""
    from zoo.training.evaluate import evaluate_run

    report = evaluate_run(get_registry(ctx), run_dir, data_dir=data_dir)
    if as_json:
        emit_json(report)
        return
    click.echo(
        f"{report['run']}: {report['architecture']} on {report['dataset']} "
        f"({report['test_samples']:,} test images, {report['epochs_completed']} epochs, {report['status']})"
    )
    rows = [
        [name, f"{value:.6g}", "-" if report["recorded"][name] is None else f"{report['recorded'][name]:.6g}"]
        for name, value in report["metrics"].items()
    ]
    click.echo(table(rows, ["METRIC", "NOW", "RECORDED"]))


@cli.command("datasets")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, for machines.")
@click.pass_context
def datasets_command(ctx: click.Context, as_json: bool) -> None:
    """Every registered dataset: image shape, classes, where it comes from."""
    from zoo.cli.describe import dataset_row

    rows = [dataset_row(d) for d in sorted(get_registry(ctx).datasets.values(), key=lambda d: d.name)]
    if as_json:
        emit_json(rows)
        return
    cells = [
        [
            r["usage"],
            "any" if r["image_shape"] is None else format_shape(r["image_shape"]),
            str(r["num_classes"] or "from folders"),
            r["plugin"],
            r["summary"],
        ]
        for r in rows
    ]
    click.echo(table(cells, ["NAME", "IMAGES", "CLASSES", "PLUGIN", "SUMMARY"]))


@cli.command("export")
@click.argument("run_dir", metavar="RUN_DIR|NAME")
@click.option("--out", help="Folder to write (default: RUN_DIR/onnx, onnx-fp16, onnx-nchw, ...).")
@click.option("--format", "exporter", default="onnx", show_default=True, help="Exporter plugin.")
@click.option("--opset", type=click.IntRange(min=7), help="ONNX opset (default: the exporter's).")
@click.option(
    "--parts", default="all", show_default=True, help="all, or a comma list of full and part names."
)
@click.option(
    "--layout",
    type=click.Choice(("nhwc", "nchw")),
    default="nhwc",
    show_default=True,
    help="Layout of 4-D inputs and outputs.",
)
@click.option(
    "--dtype",
    type=click.Choice(("fp32", "fp16")),
    default="fp32",
    show_default=True,
    help="fp16: weights and compute in float16, inputs and outputs float32.",
)
@click.option(
    "--quantize",
    type=click.Choice(("static", "dynamic")),
    help="int8 with ONNX Runtime: static (calibrated on the run's dataset) or dynamic.",
)
@click.option("--untrained", is_flag=True, help="Export architecture NAME as built, without training.")
@click.option(
    "-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="With --untrained: a hyper-parameter."
)
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@click.pass_context
def export_command(
    ctx: click.Context,
    run_dir: str,
    out: str | None,
    exporter: str,
    opset: int | None,
    parts: str,
    layout: str,
    dtype: str,
    quantize: str | None,
    untrained: bool,
    params: tuple[str, ...],
    as_json: bool,
) -> None:
    """Export a run's full model and each part; every file is checked against Keras."""
    from zoo.core.hparams import parse_assignments
    from zoo.export.orchestrate import export_run, export_untrained

    if quantize and dtype != "fp32":
        raise click.UsageError("--quantize makes int8 files from float32: drop --dtype fp16")
    if params and not untrained:
        raise click.UsageError("-p sets hyper-parameters of an untrained export; a run has its own")
    options = {"opset": opset, "stages": parts, "layout": layout, "dtype": dtype, "quantize": quantize}
    if untrained:
        result = export_untrained(
            get_registry(ctx),
            run_dir,
            out=out,
            exporter=exporter,
            options=options,
            hyperparameters=parse_assignments(params),
        )
    else:
        result = export_run(get_registry(ctx), run_dir, out=out, exporter=exporter, options=options)
    if as_json:
        emit_json({"path": str(result.path), **result.manifest})
        return
    rows = [
        [
            f["part"],
            f["file"],
            ", ".join(f"{i['name']} {format_shape(i['shape'])}" for i in f["inputs"]),
            ", ".join(f"{o['name']} {format_shape(o['shape'])}" for o in f["outputs"]),
            f"{f['parity']['max_abs_diff']:.2e}",
        ]
        for f in result.manifest["files"]
    ]
    click.echo(table(rows, ["PART", "FILE", "INPUT", "OUTPUT", "MAX |ONNX-KERAS|"]))
    chain = result.manifest.get("chain")
    if chain:
        click.echo(
            f"chain {' -> '.join(chain['parts'])} vs full model: max abs diff {chain['max_abs_diff']:.2e}"
        )
    click.echo(str(result.path))


@cli.command("verify")
@click.argument("path")
@click.option("--format", "exporter", default="onnx", show_default=True, help="Exporter plugin.")
@click.option("--reference", is_flag=True, help="Also run ONNX's reference evaluator (slow, independent).")
@click.option("--json", "as_json", is_flag=True, help="A JSON object, for machines.")
@click.pass_context
def verify_command(ctx: click.Context, path: str, exporter: str, reference: bool, as_json: bool) -> None:
    """Check exported files from the files alone: PATH is an export folder or one file.

    Exit code 1 if any check fails.
    """
    from zoo.core.registry import resolve

    spec = get_registry(ctx).exporter(exporter)
    if not spec.verifier:
        raise click.UsageError(f"exporter {exporter!r} offers no verification")
    report = resolve(spec.verifier, owner=f"exporter {exporter!r}")(path, reference=reference)
    if as_json:
        emit_json(report)
    else:
        for f in report["files"]:
            click.echo(f"{'ok  ' if f['passed'] else 'FAIL'} {f['file']}")
            for check in f["checks"]:
                click.echo(f"       {check}")
            for failure in f.get("failures", []):
                click.echo(f"       FAILED: {failure}")
    if not report["passed"]:
        ctx.exit(1)


from zoo.cli.bench import bench_command  # noqa: E402  (it uses the group's helpers)

cli.add_command(bench_command)


def main() -> None:
    cli()
