"""``zoo train``, ``runs`` and ``evaluate``: train into a run folder, list run folders, and
recompute a run's test metrics."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from zoo.cli.output import MAX_COUNT, FiniteFloatRange, emit_json, get_registry, table, warn
from zoo.core.specs import LR_SCHEDULES
from zoo.training.augment import AUGMENTATIONS
from zoo.training.distribute import STRATEGIES


@click.command("train")
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
@click.option(
    "--augment",
    type=click.Choice(tuple(AUGMENTATIONS)),
    help="Distort the training images: none (default); affine (shift, scale, squeeze, shear; LeCun 1998).",
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
    augment: str | None,
    out: str,
    params: tuple[str, ...],
    resume_dir: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Train NAME with Keras; prints the run folder's path as the last line.

    Every epoch end saves the model with its optimizer state; Ctrl-C (or SIGTERM, SIGHUP) stops
    after the current batch, keeps every complete epoch and exits with 130 (143, 129); --resume
    RUN_DIR goes on from there.
    """
    from zoo.core.hparams import parse_assignments
    from zoo.training.resume import resume
    from zoo.training.train import TrainRequest, train

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
            augment=augment,
        )
    else:
        if not name:
            raise click.UsageError("Missing argument 'NAME' (or --resume RUN_DIR)")
        request = TrainRequest(
            architecture=name,
            # folder:photos is recorded as folder:/cwd/photos: --resume from elsewhere reads it too
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
            augment=augment or "none",
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


@click.command("runs")
@click.argument("folder", default="runs")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, for machines.")
def runs_command(folder: str, as_json: bool) -> None:
    """The run folders in FOLDER: architecture, dataset, status, epochs, test metrics, and the
    headline of their evaluation."""
    from zoo.cli.describe import run_row
    from zoo.runs.run_folder import find_runs

    rows = [run_row(run) for run in find_runs(Path(folder), skipped=warn)]
    for row in rows:
        if row["conflict"]:
            warn(f"{row['path']!r}: {row['conflict']}: resume, evaluate and export refuse it")
        if row["evaluation_damaged"]:
            warn(f"{row['evaluation_damaged']}: its evaluation is not shown (zoo evaluate recomputes it)")
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo(f"No run folders in {folder!r}.", err=True)
        return
    evaluated = any(r["evaluation_headline"] for r in rows)
    cells = [
        [
            r["name"],
            f"{r['architecture']}?" if r["conflict"] else r["architecture"],
            r["dataset"],
            r["status"],
            f"{r['epochs_completed']}/{r['epochs']}",
            r["result"],
            *([r["evaluation_headline"] or "-"] if evaluated else []),
            r["created"],
        ]
        for r in rows
    ]
    header = ["RUN", "ARCHITECTURE", "DATASET", "STATUS", "EPOCHS", "TEST"]
    click.echo(table(cells, [*header, *(["EVALUATION"] if evaluated else []), "CREATED"]))


@click.command("evaluate")
@click.argument("run_dir")
@click.option("--data-dir", help="Folder with dataset files (default: the run's) [env: ZOO_DATA_DIR].")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Folder for the evaluations' figures (default: RUN_DIR/evaluation; replaced whole).",
)
@click.option("--json", "as_json", is_flag=True, help="A JSON object, for machines.")
@click.pass_context
def evaluate_command(
    ctx: click.Context, run_dir: str, data_dir: str | None, out: str | None, as_json: bool
) -> None:
    """Re-compute a run's test metrics and its evaluations (figures included) from model.keras
    and its dataset's test split, next to what training recorded."""
    from zoo.core.errors import EvaluationFailed
    from zoo.training.evaluate import evaluate_run

    report = evaluate_run(get_registry(ctx), run_dir, data_dir=data_dir, out=out)
    for note in report["notes"]:
        warn(note)
    if as_json:
        emit_json(report)
    else:
        _print_evaluation(report)
    if report["errors"]:
        more = f" (and {len(report['errors']) - 1} more)" if len(report["errors"]) > 1 else ""
        raise EvaluationFailed(report["errors"][0] + more)


def _cell(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value).lower()
    if isinstance(value, (int, float)):
        return f"{value:.6g}"
    if isinstance(value, dict):  # per class: the spread, the values are in --json and the card
        numbers = [v for v in value.values() if isinstance(v, (int, float))]
        return f"{len(value)} values, {min(numbers):.4g} to {max(numbers):.4g}" if numbers else "-"
    return str(value)


def _print_evaluation(report: dict) -> None:
    click.echo(
        f"{report['run']}: {report['architecture']} on {report['dataset']} "
        f"({report['test_samples']:,} test images, {report['epochs_completed']} epochs, {report['status']})"
    )
    rows = [
        [name, _cell(value), _cell(recorded[name])]
        for now, recorded in (
            (report["metrics"], report["recorded"]),
            (report["evaluation"], report["evaluation_recorded"]),
        )
        for name, value in now.items()
    ]
    click.echo(table(rows, ["METRIC", "NOW", "RECORDED"]))
    if report["figure_files"]:
        click.echo(f"figures in {report['figures']}: {', '.join(report['figure_files'])}")


COMMANDS = (train_command, runs_command, evaluate_command)
