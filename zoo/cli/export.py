"""``zoo export`` and ``zoo verify``: ONNX files of a run (or of an untrained architecture),
and their checks from the files alone."""

from __future__ import annotations

from pathlib import Path

import click

from zoo.cli.describe import format_shape
from zoo.cli.output import emit_json, get_registry, table, warn
from zoo.core.errors import RunFolderError
from zoo.runs.exports import DEFAULT_EXPORTER, MANIFEST_FILE, run_export
from zoo.runs.run_folder import CONFIG_FILE


@click.command("export")
@click.argument("run_dir", metavar="RUN_DIR|NAME")
@click.option("--out", help="Folder to write (default: RUN_DIR/onnx, onnx-fp16, onnx-nchw, ...).")
@click.option("--format", "exporter", default=DEFAULT_EXPORTER, show_default=True, help="Exporter plugin.")
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
        _warn_slower(result.manifest)
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
    _warn_slower(result.manifest)
    click.echo(str(result.path))


@click.command("verify")
@click.argument("path")
@click.option("--format", "exporter", default=DEFAULT_EXPORTER, show_default=True, help="Exporter plugin.")
@click.option("--reference", is_flag=True, help="Also run ONNX's reference evaluator (slow, independent).")
@click.option("--json", "as_json", is_flag=True, help="A JSON object, for machines.")
@click.pass_context
def verify_command(ctx: click.Context, path: str, exporter: str, reference: bool, as_json: bool) -> None:
    """Check exported files from the files alone: PATH is a run folder (its export,
    RUN_DIR/onnx), an export folder or one file.

    Exit code 1 if any check fails.
    """
    from zoo.core.registry import call

    spec = get_registry(ctx).exporter(exporter)
    if not spec.verifier:
        raise click.UsageError(f"exporter {exporter!r} offers no verification")
    report = call(spec, spec.verifier, str(_export_of(path, spec.name)), reference=reference)
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


def _warn_slower(manifest: dict) -> None:
    """A lower-precision file that runs slower than float32 here is said so: smaller is not faster."""
    for entry in manifest.get("files", []):
        timed = entry.get("speed_vs_float32")
        if not timed or not timed.get("slower"):
            continue
        worst = min(timed["speedup"], key=lambda batch: timed["speedup"][batch])
        warn(
            f"{entry['file']} ({entry.get('precision')}) runs {1 / timed['speedup'][worst]:.1f}x slower than "
            f"float32 on this machine's CPU at batch {worst} ({timed['ms'][worst]:.3g} ms against "
            f"{timed['float32_ms'][worst]:.3g} ms): it is smaller, not faster here"
        )


def _export_of(path: str, exporter: str) -> Path:
    """A run folder's export (``RUN_DIR/onnx``), as ``zoo export`` and ``zoo bench`` take
    RUN_DIR; any other path as given."""
    given = Path(path)
    try:
        is_run = (given / CONFIG_FILE).is_file() and not (given / MANIFEST_FILE).exists()
    except OSError:
        return given  # the verifier says what is wrong with it
    if not is_run:
        return given
    folder = run_export(given, exporter)
    if not folder.is_dir():
        raise RunFolderError(
            f"{path!r} is a run folder with no {exporter} export yet: run `zoo export {path}` first"
        )
    return folder


COMMANDS = (export_command, verify_command)
