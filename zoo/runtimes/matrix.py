"""Which runtimes take which file: each file's test set run in each runtime, judged by zoo's one
comparison rule (``zoo.runtimes.compare``) against the outputs it records (Keras').

Per file and runtime a row: ``pass``, ``fail`` (with the largest absolute and relative errors, or
the refusal in one line and the ops the runtime lacks) or ``not run`` (the runtime is not
installed, no GPU: never a pass), the precision the runtime really computed in, its load time and
its first inference's time. Every runtime is asked for float32 (OpenVINO's bfloat16 default on a
CPU with AVX-512 BF16 is set aside); where a runtime's default is another precision the test set
is also run at that default, and what it gives is recorded beside the row (``default``), so the
cost of not setting it is on record. A refusal comes with what to export instead, or why nothing
helps (``zoo.runtimes.advice``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zoo.runtimes import compare, testsets
from zoo.runtimes.advice import advise
from zoo.runtimes.base import Loaded, Runtime, RuntimeRefused, one_line
from zoo.runtimes.limits import RunTimedOut

PASS, FAIL, NOT_RUN = "pass", "fail", "not run"
FORCED = "float32"  # what every runtime is asked for: no precision lowered behind the user's back


@dataclass
class Row:
    """One file in one runtime."""

    file: str
    runtime: str
    status: str  # pass, fail, not run
    part: str | None = None
    device: str | None = None
    precision: str | None = None  # what the runtime really computed in
    max_abs: float | None = None
    max_rel: float | None = None
    tolerance_used: float | None = None  # the largest difference over its allowance: <= 1 passes
    load_s: float | None = None
    first_run_s: float | None = None
    reason: str | None = None  # why not run, or why it failed, in one line
    ops: list[str] = field(default_factory=list)  # op types the runtime lacks
    advice: str | None = None  # the export that works instead, or why none does
    default: dict[str, Any] | None = None  # the runtime left at its own precision, where that differs

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, [])}


@dataclass
class FileInfo:
    """What the matrix needs of a file besides the file: its part, layout and tolerance."""

    path: Path
    label: str  # the file as rows name it: its path, or its name in an export folder
    part: str | None
    layout: str | None
    precision: str | None
    tolerance: compare.Tolerance


def file_info(path: Path, part: str | None = None, label: str | None = None) -> FileInfo:
    """Part, layout and recorded tolerance from the file's ``metadata_props`` (zoo's keys);
    float32's tolerance for files that record none."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    meta = {p.key: p.value for p in proto.metadata_props}
    part = part or meta.get("zoo.part")
    try:
        validation = json.loads(meta.get("zoo.validation", "{}"))
        tolerance = compare.recorded(validation.get("tolerance"), _zoo_precision(meta))
    except (ValueError, TypeError, AttributeError, KeyError):
        tolerance = compare.tolerance()
    label = label if label is not None else str(path)
    return FileInfo(Path(path), label, part, meta.get("zoo.layout"), meta.get("zoo.precision"), tolerance)


def _zoo_precision(meta: dict[str, str]) -> str:
    value = meta.get("zoo.precision", "fp32")
    return value if value in ("fp32", "fp16", "int8") else "fp32"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def run_test_sets(loaded: Loaded, sets: Sequence[Path], within: compare.Tolerance) -> dict[str, Any]:
    """Every test set through ``loaded``: the worst differences and the first run's time.
    Raises what the runtime raises, ``RuntimeRefused`` included."""
    worst_abs, worst_rel, used, first = 0.0, 0.0, 0.0, None
    for folder in sets:
        feeds = testsets.by_name(loaded.input_names, testsets.named(folder, "input"), "input")
        expected = testsets.by_name(loaded.output_names, testsets.named(folder, "output"), "output")
        started = time.perf_counter()
        got = loaded.run(dict(zip(loaded.input_names, feeds, strict=True)))
        if first is None:
            first = time.perf_counter() - started
        differences = compare.compare_outputs(got, expected, within)
        worst_abs = compare.largest([worst_abs, *(d.max_abs for d in differences)])
        worst_rel = compare.largest([worst_rel, *(d.max_rel for d in differences)])
        used = compare.largest([used, compare.most_used(differences)])
    return {"max_abs": worst_abs, "max_rel": worst_rel, "used": used, "first_run_s": first}


def _failed(row: Row, exc: BaseException, runtime: Runtime) -> Row:
    row.status = FAIL
    if isinstance(exc, RuntimeRefused):
        row.reason, row.ops = exc.reason, list(exc.ops)
    elif isinstance(exc, compare.OutputsDiffer):
        row.reason = f"{runtime.name} gives other outputs: {exc}"
    elif isinstance(exc, RunTimedOut):
        row.reason = str(exc)
    else:
        row.reason = f"{runtime.name} cannot run it: {type(exc).__name__}: {one_line(str(exc))}"
    return row


def check_file(info: FileInfo, runtime: Runtime, unavailable: str | None = None) -> Row:
    """One file in one runtime (``unavailable``: why it cannot run here, asked once per matrix)."""
    row = Row(file=info.label, runtime=runtime.name, status=NOT_RUN, part=info.part)
    row.device = getattr(runtime, "device", None)
    if unavailable:
        row.reason = unavailable
        return row
    sets = testsets.sets_of(info.path, info.part)
    if not sets:
        row.reason = "no test set (test_data_set_*/ beside the file, or test_data/<part>/)"
        return row
    try:
        loaded = runtime.load(info.path, FORCED)
        row.device, row.precision, row.load_s = loaded.device, loaded.precision, round(loaded.load_seconds, 6)
        found = run_test_sets(loaded, sets, info.tolerance)
    except Exception as exc:  # a refusal, a run that fails or times out, outputs of another shape
        _failed(row, exc, runtime)
        row.advice = advise(runtime.name, row.ops, row.reason or "", info)
        return row
    row.max_abs, row.max_rel = _finite(found["max_abs"]), _finite(found["max_rel"])
    row.tolerance_used = _finite(found["used"])
    row.first_run_s = round(found["first_run_s"], 6)
    row.status = PASS if compare.passes(found["used"]) else FAIL
    if row.status == FAIL:
        row.reason = (
            f"{runtime.name} ({row.precision}) differs from the test set by {found['max_abs']:.3g} "
            f"(relative {found['max_rel']:.3g}), beyond {info.tolerance}"
        )
        row.advice = advise(runtime.name, row.ops, row.reason, info)  # other numbers: advice too
    row.default = _at_default(runtime, info, sets, row.precision)
    return row


def _at_default(
    runtime: Runtime, info: FileInfo, sets: Sequence[Path], forced: str | None
) -> dict[str, Any] | None:
    """The runtime left at its own precision, where it has one of its own (OpenVINO's bfloat16):
    the precision and what the test set gives there; None where the default is what was run."""
    default_precision = getattr(runtime, "default_precision", None)
    if default_precision is None:
        return None
    try:
        precision = default_precision()
        if precision == forced:
            return None
        loaded = runtime.load(info.path, None)
        found = run_test_sets(loaded, sets, info.tolerance)
    except Exception as exc:
        return {"precision": None, "error": one_line(str(exc))}
    return {
        "precision": loaded.precision,
        "max_abs": _finite(found["max_abs"]),
        "max_rel": _finite(found["max_rel"]),
        "passed": compare.passes(found["used"]),
    }


def check_files(
    files: Iterable[tuple[Path, str | None]],
    runtimes: Sequence[Runtime],
    skip: dict[str, str] | None = None,
    relative_to: Path | None = None,
) -> dict[str, Any]:
    """The matrix of ``files`` (path, part) by ``runtimes``; ``skip`` maps a file (as given) to
    why it is not run in any runtime (it failed its own checks); rows name a file relative to
    ``relative_to`` where given (a manifest's names). ``passed``: no runtime that ran failed."""
    skip = skip or {}
    reasons = {_key(r): r.unavailable() for r in runtimes}
    rows: list[Row] = []
    for path, part in files:
        label = str(Path(path).relative_to(relative_to)) if relative_to is not None else str(path)
        why = skip.get(str(path))
        if why is None:
            info = file_info(Path(path), part, label)
            if not compare.trusted(info.tolerance):
                why = f"it records a tolerance zoo never writes ({info.tolerance}): it cannot widen its check"
        if why is not None:
            rows += [
                Row(
                    file=label,
                    runtime=r.name,
                    status=NOT_RUN,
                    part=part,
                    device=getattr(r, "device", None),
                    reason=why,
                )
                for r in runtimes
            ]
            continue
        rows += [check_file(info, r, reasons[_key(r)]) for r in runtimes]
    return {
        "runtimes": [
            {
                "name": r.name,
                "device": getattr(r, "device", None),
                "available": reasons[_key(r)] is None,
                "reason": reasons[_key(r)],
            }
            for r in runtimes
        ],
        "rows": [row.as_dict() for row in rows],
        "passed": all(row.status != FAIL for row in rows),
    }


def _key(runtime: Runtime) -> tuple[str, str | None]:
    return runtime.name, getattr(runtime, "device", None)


def check(path: Path, runtimes: Sequence[Runtime]) -> dict[str, Any]:
    """The matrix of an export folder (every file its manifest lists, checked against the
    manifest's sha256 before any runtime reads it) or of one ``.onnx`` file."""
    from zoo.core.errors import ModelFileError
    from zoo.runs.exports import MANIFEST_FILE, read_manifest, sha256

    path = Path(path)
    if path.is_dir():
        if not (path / MANIFEST_FILE).is_file():
            raise ModelFileError(f"{str(path)!r} has no {MANIFEST_FILE}; pass a .onnx file instead")
        manifest = read_manifest(path)
        files, skip = [], {}
        for entry in manifest["files"]:
            file = path / str(entry["file"])
            files.append((file, entry.get("part")))
            if not file.is_file():
                skip[str(file)] = "the file is missing"
            elif entry.get("sha256") and sha256(file) != entry["sha256"]:
                skip[str(file)] = "its sha256 differs from the manifest: not loaded"
        return check_files(files, runtimes, skip, relative_to=path)
    if path.suffix == ".onnx" and path.is_file():
        return check_files([(path, None)], runtimes)
    raise ModelFileError(f"{str(path)!r} is neither an export folder nor a .onnx file")


def expand(runtimes: Sequence[Runtime]) -> list[Runtime]:
    """``onnxruntime`` on the CPU, and on CUDA as well where a GPU really runs it."""
    from zoo.runtimes.onnxruntime import OnnxRuntime

    found: list[Runtime] = []
    for runtime in runtimes:
        found.append(runtime)
        if isinstance(runtime, OnnxRuntime) and runtime.device == "CPU":
            cuda = OnnxRuntime("CUDA")
            if cuda.unavailable() is None:
                found.append(cuda)
    return found
