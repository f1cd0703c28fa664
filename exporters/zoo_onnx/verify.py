"""Verify exported ONNX files from the files alone: for someone who received them without the
run folder (``zoo verify DIR_OR_FILE``).

Per file: its sha256 against the manifest (when there is one), ``onnx.checker`` (full check),
and its test set (``test_data_set_*/input_N.pb`` -> ``output_N.pb``, the ONNX Model Zoo layout)
run in ONNX Runtime on the CPU, optionally also in ONNX's reference evaluator, a second runtime
written independently of ONNX Runtime.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from zoo.errors import ModelFileError

DEFAULT_TOLERANCE = 1e-5
MANIFEST = "manifest.json"
TEST_DATA = "test_data"  # <part>/model.onnx + test_data_set_0/, the ONNX Model Zoo layout


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _metadata(proto: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in proto.metadata_props}


def _tensors(folder: Path, kind: str) -> list[np.ndarray]:
    arrays = []
    for path in sorted(folder.glob(f"{kind}_*.pb"), key=lambda p: int(p.stem.split("_")[-1])):
        tensor = onnx.TensorProto()
        tensor.ParseFromString(path.read_bytes())
        arrays.append(onnx.numpy_helper.to_array(tensor))
    return arrays


def test_sets(model_file: Path, part: str | None) -> list[Path]:
    """The test sets that belong to ``model_file``: beside it (Model Zoo layout) or in
    ``test_data/<part>/`` of its folder (zoo's export layout)."""
    beside = sorted(model_file.parent.glob("test_data_set_*"))
    if beside:
        return beside
    if part:
        return sorted((model_file.parent / TEST_DATA / part).glob("test_data_set_*"))
    return []


def run_reference(proto: onnx.ModelProto, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """ONNX's own reference evaluator: slow, independent of ONNX Runtime."""
    from onnx.reference import ReferenceEvaluator

    return [np.asarray(o) for o in ReferenceEvaluator(proto).run(None, inputs)]


def verify_file(
    model_file: Path, expected_sha256: str | None = None, reference: bool = False
) -> dict[str, Any]:
    """Check one file; the result says what was checked and what was found."""
    import onnxruntime as ort

    result: dict[str, Any] = {"file": str(model_file), "checks": [], "passed": True}

    def fail(message: str) -> None:
        result["passed"] = False
        result.setdefault("failures", []).append(message)

    if expected_sha256 is not None:
        ok = sha256_of(model_file) == expected_sha256
        result["checks"].append("sha256 matches the manifest" if ok else "sha256 DIFFERS from the manifest")
        if not ok:
            fail("sha256 differs from the manifest")
    try:
        proto = onnx.load(str(model_file))
        onnx.checker.check_model(proto, full_check=True)
        result["checks"].append("onnx.checker full check passed")
    except Exception as exc:
        fail(f"onnx.checker: {' '.join(str(exc).split())[:200]}")
        return result
    meta = _metadata(proto)
    result["part"] = meta.get("zoo.part")
    tolerance = float(json.loads(meta.get("zoo.validation", "{}")).get("tolerance", DEFAULT_TOLERANCE))
    result["tolerance"] = tolerance
    sets = test_sets(model_file, meta.get("zoo.part"))
    if not sets:
        fail("no test set found (test_data_set_*/ beside the file, or test_data/<part>/)")
        return result
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    worst, worst_reference = 0.0, 0.0
    for folder in sets:
        inputs = dict(zip(names, _tensors(folder, "input"), strict=True))
        expected = _tensors(folder, "output")
        got = session.run(None, inputs)
        if len(got) != len(expected):
            fail(f"{folder.name}: {len(got)} outputs, the test set has {len(expected)}")
            continue
        worst = max([worst, *(float(np.max(np.abs(a - b))) for a, b in zip(got, expected, strict=True))])
        if reference:
            ref = run_reference(proto, inputs)
            worst_reference = max(
                [worst_reference, *(float(np.max(np.abs(a - b))) for a, b in zip(ref, expected, strict=True))]
            )
    result["test_sets"] = len(sets)
    result["max_abs_diff"] = worst
    result["checks"].append(
        f"onnxruntime {ort.__version__} CPU on {len(sets)} test set(s): max abs diff {worst:.2e}"
    )
    if worst > tolerance:
        fail(f"onnxruntime differs from the test set by {worst:.3g} > {tolerance:g}")
    if reference:
        result["reference_max_abs_diff"] = worst_reference
        result["checks"].append(f"onnx.reference.ReferenceEvaluator: max abs diff {worst_reference:.2e}")
        if worst_reference > tolerance:
            fail(
                f"the reference evaluator differs from the test set by {worst_reference:.3g} > {tolerance:g}"
            )
    return result


def verify(path: str | Path, reference: bool = False) -> dict[str, Any]:
    """Verify an export folder (every file its manifest lists) or a single ``.onnx`` file."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{str(path)!r} does not exist")
    if path.is_dir():
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise ModelFileError(f"{str(path)!r} has no {MANIFEST}; pass a .onnx file instead")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            entries = [(path / f["file"], f.get("sha256")) for f in manifest["files"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFileError(f"Cannot read {str(manifest_path)!r}: {exc}") from exc
        missing = [str(p.name) for p, _ in entries if not p.is_file()]
        if missing:
            raise ModelFileError(f"{str(path)!r} lacks {', '.join(missing)} listed in its manifest")
    elif path.suffix == ".onnx":
        entries = [(path, None)]
    else:
        raise ModelFileError(f"{str(path)!r} is neither an export folder nor a .onnx file")
    files = [verify_file(p, sha, reference) for p, sha in entries]
    return {"path": str(path), "files": files, "passed": all(f["passed"] for f in files)}
