"""Verify exported ONNX files from the files alone: for someone who received them without the
run folder (``zoo verify DIR_OR_FILE``).

Per file: its sha256 against the manifest (when there is one), ``onnx.checker`` (full check),
and its test set (``test_data_set_*/input_N.pb`` -> ``output_N.pb``, the ONNX Model Zoo layout;
a file with several inputs, a U-Net's decoder, has one ``input_N.pb`` per input, fed by the
name it carries) run in ONNX Runtime on the CPU, optionally also in ONNX's reference evaluator,
a second runtime written independently of ONNX Runtime. Per link between two parts of a folder:
every input of the second file is an output of the first with the same name, shape and dtype,
so the files chain by name.

Each run, in either runtime, is held to ``ZOO_RUN_TIMEOUT`` seconds (``zoo_onnx.session``): a
file whose run goes past it (a Loop of 10^12 iterations) fails its check, as any file that
cannot be run does, and its other test sets are not run. The reference evaluator, pure Python,
checks the time before each graph it runs (so between a Loop's iterations too).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from zoo.api import (
    MANIFEST_FILE,
    ModelFileError,
    UnsafeModelFile,
    check_external_data,
    read_manifest,
    sha256_of,
)
from zoo_onnx import compare, metadata, testsets
from zoo_onnx.manifest import tensor_info
from zoo_onnx.session import RunTimedOut, limited, run_limit, timed_out


def run_reference(proto: onnx.ModelProto, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """ONNX's own reference evaluator: slow, independent of ONNX Runtime; ``RunTimedOut`` past
    ``run_limit()`` seconds, checked before each graph it runs (a Loop's body is a graph run
    once an iteration, by an evaluator of the same class)."""
    from onnx.reference import ReferenceEvaluator

    seconds = run_limit()
    deadline = time.monotonic() + seconds

    class Bounded(ReferenceEvaluator):
        def run(self, *args: Any, **kwargs: Any) -> Any:
            if time.monotonic() > deadline:
                raise timed_out("the reference evaluator", seconds)
            return super().run(*args, **kwargs)

    return [np.asarray(o) for o in Bounded(proto).run(None, inputs)]


def run_session(session: Any, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """ONNX Runtime's outputs for ``inputs``; ``RunTimedOut`` past ``run_limit()`` seconds."""
    return limited(lambda options: session.run(None, inputs, options))


def _worst(
    got: list[np.ndarray], expected: list[np.ndarray], within: compare.Tolerance
) -> tuple[float, float]:
    """The largest absolute difference and difference over the allowance, by zoo's one rule; infinite
    where a shape differs."""
    try:
        differences = compare.compare_outputs(got, expected, within)
    except compare.OutputsDiffer:
        return math.inf, math.inf
    return compare.worst(differences), compare.most_used(differences)


def verify_file(
    model_file: Path,
    expected_sha256: str | None = None,
    reference: bool = False,
    expected_inputs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Check one file; the result says what was checked and what was found.

    ``expected_inputs``, the manifest's inputs for the file, must be what the file declares."""
    import onnxruntime as ort

    result: dict[str, Any] = {"file": str(model_file), "checks": [], "passed": True}

    def fail(message: str) -> None:
        result["passed"] = False
        result.setdefault("failures", []).append(message)

    # The file is untrusted until its bytes are the manifest's: nothing parses it before.
    if expected_sha256 is not None:
        ok = sha256_of(model_file) == expected_sha256
        result["checks"].append("sha256 matches the manifest" if ok else "sha256 DIFFERS from the manifest")
        if not ok:
            fail("sha256 differs from the manifest; the file was not loaded")
            return result
    try:
        check_external_data(model_file)  # refuses (exit 2) data outside the file's folder
    except UnsafeModelFile:
        raise
    except ModelFileError as exc:
        fail(str(exc)[:200])
        return result
    try:
        proto = onnx.load(str(model_file))
        onnx.checker.check_model(proto, full_check=True)
        result["checks"].append("onnx.checker full check passed")
    except Exception as exc:
        fail(f"onnx.checker: {' '.join(str(exc).split())[:200]}")
        return result
    if expected_inputs is not None:
        found = [tensor_info(v) for v in proto.graph.input]
        keys = ("name", "shape", "dtype")
        listed = expected_inputs if isinstance(expected_inputs, list) else [expected_inputs]
        wanted = [{k: i.get(k) for k in keys} if isinstance(i, dict) else i for i in listed]
        if found != wanted:
            fail(f"its inputs {found} are not the manifest's {wanted}")
            return result
        result["checks"].append("inputs match the manifest")
    result["inputs"] = [tensor_info(v) for v in proto.graph.input]
    result["outputs"] = [tensor_info(v) for v in proto.graph.output]
    meta = metadata.read(proto)
    result["part"] = meta.get("zoo.part")
    try:
        tolerance = compare.recorded(json.loads(meta.get("zoo.validation", "{}")).get("tolerance"))
    except (ValueError, TypeError, AttributeError, KeyError):  # metadata that is not zoo's: the default
        tolerance = compare.tolerance()
    result["tolerance"] = tolerance.as_dict()
    if not compare.trusted(tolerance):
        fail(f"the file records a tolerance zoo never writes ({tolerance}): it cannot widen its own check")
        return result
    part = meta.get("zoo.part")
    if part is not None and not testsets.is_part_name(part):
        fail(f"the file names its part {part!r}, which is no part name: no test set is looked for there")
        return result
    sets = testsets.sets_of(model_file, part)
    if not sets:
        fail("no test set found (test_data_set_*/ beside the file, or test_data/<part>/)")
        return result
    try:
        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # a graph onnx.checker passes but ONNX Runtime refuses
        fail(f"onnxruntime cannot load it: {' '.join(str(exc).split())[:200]}")
        return result
    names = [i.name for i in session.get_inputs()]
    worst, worst_reference, used, used_reference = 0.0, 0.0, 0.0, 0.0
    compared, compared_reference = 0, 0
    for folder in sets:
        try:
            inputs = _feed(names, testsets.named(folder, "input"))
            expected = testsets.tensors(folder, "output")
            got = run_session(session, inputs)
        except RunTimedOut as exc:  # the other sets would take as long: not run
            fail(f"{folder.name}: {exc}")
            result["timed_out"] = True
            break
        except Exception as exc:  # a test set that does not fit the file, or is itself damaged
            fail(f"{folder}: cannot be run: {_said(exc)}")
            continue
        if len(got) != len(expected):
            fail(f"{folder.name}: {len(got)} outputs, the test set has {len(expected)}")
            continue
        found = _worst(got, expected, tolerance)
        worst, used, compared = max(worst, found[0]), compare.largest([used, found[1]]), compared + 1
        if reference:
            try:
                found = _worst(run_reference(proto, inputs), expected, tolerance)
            except RunTimedOut as exc:
                fail(f"{folder.name}: {exc}")
                result["timed_out"] = True
                break
            except Exception as exc:  # an operator it does not implement, say
                fail(f"{folder.name}: the reference evaluator cannot run it: {_said(exc)}")
                continue
            worst_reference = max(worst_reference, found[0])
            used_reference = compare.largest([used_reference, found[1]])
            compared_reference += 1
    result["test_sets"] = len(sets)
    # how many ONNX Runtime ran to the end: zoo verify --runtime reads only files with one, never
    # one that timed out (OpenCV's runs cannot be stopped)
    result["test_sets_run"] = compared
    result["max_abs_diff"] = worst
    result["tolerance_used"] = used
    if compared:
        result["checks"].append(
            f"onnxruntime {ort.__version__} CPU on {compared} test set(s): max abs diff {worst:.2e}"
        )
    if not compare.passes(used):
        fail(f"onnxruntime differs from the test set by {worst:.3g}, beyond {tolerance}")
    if reference:
        result["reference_max_abs_diff"] = worst_reference
        result["reference_tolerance_used"] = used_reference
        if compared_reference:
            result["checks"].append(f"onnx.reference.ReferenceEvaluator: max abs diff {worst_reference:.2e}")
        if not compare.passes(used_reference):
            fail(
                f"the reference evaluator differs from the test set by {worst_reference:.3g}, "
                f"beyond {tolerance}"
            )
    return result


def _said(exc: Exception) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


def _feed(names: list[str], tensors: list[tuple[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """A test set's inputs for a file taking ``names``: by the names the tensors carry where
    they are the file's, else in order (Model Zoo sets written elsewhere may name none)."""
    if len(tensors) != len(names):
        raise ValueError(f"{len(tensors)} inputs for a file that takes {len(names)} ({', '.join(names)})")
    if sorted(n for n, _ in tensors) == sorted(names):
        return dict(tensors)
    return dict(zip(names, (a for _, a in tensors), strict=True))


def check_links(links: list[dict[str, Any]], files: list[dict[str, Any]]) -> None:
    """For each link of the manifest, whether the second file's inputs are outputs of the first
    with the same names, shapes and dtypes (what chaining the files by name needs); recorded
    in the second file's result, a failure failing it."""
    by_part = {f.get("part"): f for f in files if "inputs" in f}
    for link in links:
        giver, taker = by_part.get(link.get("from")), by_part.get(link.get("to"))
        if giver is None or taker is None:
            continue
        given = {o["name"]: o for o in giver["outputs"]}
        wrong = [i["name"] for i in taker["inputs"] if given.get(i["name"]) != i]
        source = Path(giver["file"]).name
        if wrong:
            taker["passed"] = False
            taker.setdefault("failures", []).append(
                f"takes {', '.join(wrong)}, which {source} does not hand on with the same shape and dtype"
            )
        else:
            names = ", ".join(i["name"] for i in taker["inputs"])
            taker["checks"].append(f"takes {names} from {source}, by name, same shapes and dtypes")


def verify(path: str | Path, reference: bool = False) -> dict[str, Any]:
    """Verify an export folder (every file its manifest lists) or a single ``.onnx`` file.

    A file that cannot be read at all (no permission, a name too long) is the user's to fix,
    exit code 2, not a failed check."""
    path = Path(path)
    run_limit()  # a ZOO_RUN_TIMEOUT that is no number is refused before any check
    try:
        return _verify_path(path, reference)
    except OSError as exc:
        where = exc.filename if exc.filename is not None else path
        raise ModelFileError(f"Cannot read {str(where)!r}: {exc.strerror or exc}") from exc


def _verify_path(path: Path, reference: bool) -> dict[str, Any]:
    if not path.exists():
        raise ModelFileError(f"{str(path)!r} does not exist")
    if path.is_dir():
        if not (path / MANIFEST_FILE).is_file():
            raise ModelFileError(f"{str(path)!r} has no {MANIFEST_FILE}; pass a .onnx file instead")
        manifest = read_manifest(path)  # refuses a file listed outside the folder
        links = manifest.get("links") or []
        listed = [(str(f["file"]), f.get("sha256")) for f in manifest["files"]]
        declared = {str(f["file"]): f.get("inputs") for f in manifest["files"]}
        entries = [(path / name, sha, declared[name]) for name, sha in listed]
        missing = [str(p.name) for p, *_ in entries if not p.is_file()]
        if missing:
            raise ModelFileError(f"{str(path)!r} lacks {', '.join(missing)} listed in its manifest")
    elif path.suffix == ".onnx":
        if not path.is_file():  # a FIFO would block forever, a link to /dev/zero never end
            raise ModelFileError(f"{str(path)!r} is not a regular file (a FIFO, a device?)")
        entries, links = [(path, None, None)], []
    else:
        raise ModelFileError(f"{str(path)!r} is neither an export folder nor a .onnx file")
    for file, *_ in entries:
        file.open("rb").close()  # PermissionError: refused as a whole, before any check
    files = [verify_file(p, sha, reference, inputs) for p, sha, inputs in entries]
    check_links(links, files)
    return {"path": str(path), "files": files, "passed": all(f["passed"] for f in files)}
