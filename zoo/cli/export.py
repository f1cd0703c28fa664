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
@click.option(
    "--check-runtimes",
    is_flag=True,
    help="Then run each file's test set in every installed runtime (zoo verify --runtime); "
    "the matrix goes into manifest.json and the model card.",
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
    check_runtimes: bool,
    as_json: bool,
) -> None:
    """Export a run's full model and each part; every file is checked against Keras.

    With --check-runtimes, exit code 1 if a runtime fails a file (the export is kept)."""
    from zoo.core.hparams import parse_assignments
    from zoo.export.orchestrate import export_run, export_untrained

    if quantize and dtype != "fp32":
        raise click.UsageError("--quantize makes int8 files from float32: drop --dtype fp16")
    if params and not untrained:
        raise click.UsageError("-p sets hyper-parameters of an untrained export; a run has its own")
    options = {"opset": opset, "stages": parts, "layout": layout, "dtype": dtype, "quantize": quantize}
    runtimes = _runtimes(None) if check_runtimes else None
    if untrained:
        result = export_untrained(
            get_registry(ctx),
            run_dir,
            out=out,
            exporter=exporter,
            options=options,
            hyperparameters=parse_assignments(params),
            runtimes=runtimes,
        )
    else:
        result = export_run(
            get_registry(ctx), run_dir, out=out, exporter=exporter, options=options, runtimes=runtimes
        )
    matrix = result.manifest.get("runtimes")
    if as_json:
        emit_json({"path": str(result.path), **result.manifest})
        _warn_slower(result.manifest)
        _exit_if_failed(ctx, matrix, result.path)
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
    if matrix:
        click.echo(_matrix_text(matrix, explicit=False))
    _warn_slower(result.manifest)
    click.echo(str(result.path))
    _exit_if_failed(ctx, matrix, result.path)


@click.command("verify")
@click.argument("path")
@click.option("--format", "exporter", default=DEFAULT_EXPORTER, show_default=True, help="Exporter plugin.")
@click.option("--reference", is_flag=True, help="Also run ONNX's reference evaluator (slow, independent).")
@click.option(
    "--runtime",
    "runtime_list",
    metavar="LIST",
    help="Comma list of runtimes to run each file's test set in: "
    "onnxruntime, reference, openvino, opencv, tensorrt (default: every installed one).",
)
@click.option("--json", "as_json", is_flag=True, help="A JSON object, for machines.")
@click.pass_context
def verify_command(
    ctx: click.Context, path: str, exporter: str, reference: bool, runtime_list: str | None, as_json: bool
) -> None:
    """Check exported files from the files alone: PATH is a run folder (its export,
    RUN_DIR/onnx), an export folder or one file. Then each file's test set runs in each runtime
    (--runtime): pass or fail against Keras' outputs, the precision used, load and first-run times.

    Exit code 1 if any check fails, or any runtime that ran fails a file ("not run" does not fail).
    """
    from zoo.core.registry import call
    from zoo.runtimes.matrix import check_files

    runtimes = _runtimes(runtime_list)  # an unknown name is refused before any check
    spec = get_registry(ctx).exporter(exporter)
    if not spec.verifier:
        raise click.UsageError(f"exporter {exporter!r} offers no verification")
    report = call(spec, spec.verifier, str(_export_of(path, spec.name)), reference=reference)
    files = report.get("files") or []
    skip = {str(f["file"]): _not_ready(f) for f in files if _not_ready(f)}
    matrix = check_files([(Path(f["file"]), f.get("part")) for f in files], runtimes, skip)
    report = {**report, "runtimes": matrix, "passed": bool(report["passed"] and matrix["passed"])}
    if as_json:
        emit_json(report)
    else:
        for f in files:
            click.echo(f"{'ok  ' if f['passed'] else 'FAIL'} {f['file']}")
            for check in f["checks"]:
                click.echo(f"       {check}")
            for failure in f.get("failures", []):
                click.echo(f"       FAILED: {failure}")
        if len(skip) < len(files):
            click.echo(_matrix_text(matrix, explicit=runtime_list is not None, hide=frozenset(skip)))
    if not report["passed"]:
        ctx.exit(1)


def _not_ready(checked: dict) -> str | None:
    """Why the runtimes must not read a file the verifier checked: only files whose bytes are the
    manifest's and whose test sets ONNX Runtime ran within ZOO_RUN_TIMEOUT are given to them
    (OpenCV's runs cannot be stopped). A verifier that does not count its runs: files that passed."""
    if "test_sets_run" in checked:
        ready = bool(checked["test_sets_run"]) and not checked.get("timed_out")
    else:
        ready = bool(checked.get("passed"))
    return None if ready else "the file failed zoo verify's own checks (above), so no runtime reads it"


def _runtimes(runtime_list: str | None) -> list:
    """The runtimes asked for, or every one zoo knows (those not installed are "not run"); with
    ONNX Runtime on CUDA beside its CPU where a GPU really runs."""
    from zoo.runtimes import RUNTIME_NAMES, parse
    from zoo.runtimes.matrix import expand

    return expand(parse(runtime_list if runtime_list is not None else ",".join(RUNTIME_NAMES)))


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.3g}"


def _number(value: float | None, ran: bool) -> str:
    """A difference; a run whose difference is no number (NaN or infinity on one side) is inf."""
    if value is None:
        return "inf" if ran else "-"
    return f"{value:.2e}"


def _matrix_text(matrix: dict, explicit: bool, hide: frozenset[str] = frozenset()) -> str:
    """The matrix as a table, a row per file and runtime, then each failure's advice. Runtimes
    that cannot run here are rows when asked for by name, else one line at the end; files in
    ``hide`` (those that failed their own checks, said above) are left out, and with them the
    table where no file is left."""
    rows, notes = [], []
    absent = {r["name"]: r["reason"] for r in matrix["runtimes"] if not r["available"]}
    for row in matrix["rows"]:
        if row["file"] in hide or (not explicit and row["runtime"] in absent):
            continue
        note = row.get("reason") or ""
        default = row.get("default")
        if default and default.get("precision"):
            verdict = "within the tolerance" if default.get("passed") else "beyond the tolerance"
            note = note or (
                f"at its default {default['precision']}: max abs {_number(default.get('max_abs'), True)}, "
                f"{verdict}"
            )
        rows.append(
            [
                Path(row["file"]).name,
                row["runtime"] + (f" ({row['device']})" if row.get("device") not in (None, "CPU") else ""),
                row["status"].upper() if row["status"] == "fail" else row["status"],
                row.get("precision") or "-",
                _number(row.get("max_abs"), "first_run_s" in row),
                _number(row.get("max_rel"), "first_run_s" in row),
                _ms(row.get("load_s")),
                _ms(row.get("first_run_s")),
                note,
            ]
        )
        if row.get("advice"):
            notes.append(f"  {Path(row['file']).name} in {row['runtime']}: {row['advice']}")
    lines = [
        table(
            rows,
            [
                "FILE",
                "RUNTIME",
                "RESULT",
                "PRECISION",
                "MAX ABS",
                "MAX REL",
                "LOAD MS",
                "FIRST RUN MS",
                "NOTE",
            ],
        )
    ]
    lines += notes
    if not explicit and absent:
        lines.append("not run: " + "; ".join(f"{name} ({why})" for name, why in absent.items()))
    return "\n".join(lines)


def _exit_if_failed(ctx: click.Context, matrix: dict | None, folder: Path) -> None:
    """``--check-runtimes``: a runtime that failed a file is an error (exit 1), in one line; the
    export is kept and its manifest holds the matrix."""
    if not matrix or matrix["passed"]:
        return
    failed = [f"{Path(r['file']).name} in {r['runtime']}" for r in matrix["rows"] if r["status"] == "fail"]
    click.echo(
        f"zoo: error: {len(failed)} runtime check(s) failed ({', '.join(failed)}); the export in "
        f"{str(folder)!r} is kept, its manifest.json holds the matrix (zoo verify {folder} shows it)",
        err=True,
    )
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
