"""The export's and verify's promises, each pinned by a test that fails when the promise breaks:
a file that differs from Keras fails the export, the chain is compared with Keras, ``--opset N``
writes opset N, ``zoo verify`` checks numbers, and large activations are judged by the one
absolute-plus-relative rule. Each test's docstring names the break it was seen to catch."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import zoo_onnx.convert
import zoo_onnx.parity
from onnx import numpy_helper
from zoo_onnx import compare
from zoo_onnx.verify import verify

from tests.conftest import invoke

NUDGE = 3e-3  # far above float32's tolerance, far below 1e-1


def _softmax_bias(proto: onnx.ModelProto) -> str:
    """The constant added just before the file's Softmax (the last Dense layer's bias)."""
    producers = {out: node for node in proto.graph.node for out in node.output}
    inits = {t.name for t in proto.graph.initializer}
    softmax = next(n for n in proto.graph.node if n.op_type == "Softmax")
    node = producers[softmax.input[0]]
    return next(name for name in node.input if name in inits)


def _nudged(proto: onnx.ModelProto) -> onnx.ModelProto:
    """``proto`` with one weight changed: NUDGE added to the first logit's bias."""
    name = _softmax_bias(proto)
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    for i, tensor in enumerate(out.graph.initializer):
        if tensor.name == name:
            value = numpy_helper.to_array(tensor).copy()
            value.flat[0] += NUDGE
            out.graph.initializer[i].CopyFrom(numpy_helper.from_array(value, name))
    return out


def _failed_export(registry, run: Path, out: Path):
    result = invoke(registry, "export", str(run), "--out", str(out))
    assert result.exit_code == 1, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert not [p for p in os.listdir(run.parent) if out.name in p]
    return result.stderr


def test_a_file_that_differs_from_keras_above_the_tolerance_fails_the_export(runs, registry, monkeypatch):
    """One weight of the converted full model is nudged before any other stage, so the rewrites'
    proofs (the graph before and after, both nudged) pass and the parity stage is what fails.

    Fails if: the export's parity check always passes (``passed = True`` in ``_validate``), or
    float32's tolerance is raised to 1e-1 (``FP32_TOLERANCE = 1e-1``): the export then succeeds."""
    run = runs.run("lenet5")
    # the nudge is what the test says: above float32's tolerance, below 1e-1
    proto = onnx.load(str(runs.export("lenet5") / "model.onnx"))
    x = np.load(run / "samples.npz")["x"].astype(np.float32)

    def outputs(p):
        session = ort.InferenceSession(p.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, {"image": x})[0]

    found = compare.difference(outputs(_nudged(proto)), outputs(proto))
    assert 1e-4 < found.max_abs < 1e-2 and not compare.passes(found.used)
    convert_and_check = zoo_onnx.convert.convert_and_check

    def slightly_wrong(model, path, opset, part):
        proto = convert_and_check(model, path, opset, part)
        return _nudged(proto) if part == "full" else proto

    monkeypatch.setattr(zoo_onnx.convert, "convert_and_check", slightly_wrong)
    stderr = _failed_export(registry, run, run.parent / "nudged-export")
    assert stderr.startswith(f"zoo: error: Export of '{run}' failed validation (full: max abs difference ")
    assert "rewrite" not in stderr  # the parity stage, not a rewrite's proof


def test_a_chain_that_differs_from_keras_fails_the_export(runs, registry, monkeypatch):
    """Each file passes alone; the chain of parts' files hands back LeNet-5's probabilities
    nudged by NUDGE, which only a comparison with Keras' full model sees.

    Fails if: the chain is compared with itself instead of with Keras (``difference(chained(x),
    chained(x))``), or its check always passes (``result["passed"] = True``)."""
    run = runs.run("lenet5")
    run_chain = zoo_onnx.parity.run_chain

    def nudged(sessions, images):
        out = run_chain(sessions, images).copy()
        out[:, 0] += NUDGE
        return out

    monkeypatch.setattr(zoo_onnx.parity, "run_chain", nudged)
    stderr = _failed_export(registry, run, run.parent / "chain-export")
    assert stderr.startswith(
        f"zoo: error: Export of '{run}' failed validation (chain features->head: max abs difference 0.003"
    )


def test_opset_n_writes_files_of_opset_n(runs, registry):
    """Fails if: ``--opset N`` is ignored (``checked_opset`` returning the default 17): the
    files and the manifest then say 17."""
    run = runs.run("lenet5")
    out = run.parent / "opset-13"
    result = invoke(registry, "export", str(run), "--opset", "13", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["opset"] == 13
    for entry in manifest["files"]:
        proto = onnx.load(str(out / entry["file"]))
        assert entry["opset"] == 13
        assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [13]
    assert verify(out)["passed"]


def test_verify_fails_a_file_whose_test_set_output_was_altered(runs, tmp_path):
    """One number of the full model's expected output is moved by NUDGE: the file, its sha256
    and its checker pass; only the numeric check of the test set can fail it.

    Fails if: ``zoo verify``'s numeric check is switched off (its ``fail`` not called, or
    ``compare.passes`` always true), or float32's tolerance is raised to 1e-1."""
    folder = tmp_path / "onnx"
    shutil.copytree(runs.export("lenet5"), folder)
    assert verify(folder)["passed"]
    pb = folder / "test_data" / "full" / "test_data_set_0" / "output_0.pb"
    tensor = onnx.TensorProto()
    tensor.ParseFromString(pb.read_bytes())
    value = numpy_helper.to_array(tensor).copy()
    value.flat[0] += NUDGE
    pb.write_bytes(numpy_helper.from_array(value, tensor.name).SerializeToString())
    result = verify(folder)
    assert not result["passed"]
    (full,) = [f for f in result["files"] if f["part"] == "full"]
    assert not full["passed"] and full["checks"][0] == "sha256 matches the manifest"
    assert full["failures"] == [
        f"onnxruntime differs from the test set by {full['max_abs_diff']:.3g}, beyond {compare.tolerance()}"
    ]
    assert full["max_abs_diff"] == pytest.approx(NUDGE, rel=1e-3)
    assert [f["passed"] for f in result["files"] if f["part"] != "full"] == [True, True]


def test_large_activations_are_judged_by_the_relative_part_of_the_rule(tmp_path):
    """A constant 1x1 convolution before a 3x3 one, on inputs of scale 100 (outputs up to about
    300): tf2onnx's graph and the folded one both differ from Keras by about 1e-4, far above
    1e-5 yet within 1e-5 + 1e-5 x the output's largest magnitude; the fold's proof passes the
    same rule. An absolute rule alone, or a relative part taken element by element, fails both.

    Fails if: ``FP32_RTOL`` is 0 (the export's fold proof raises, parity fails), or the relative
    part is to each element's magnitude (``tolerance_used`` about 2.5)."""
    import keras
    from keras import layers
    from zoo_onnx import convert, parity, rewrites

    keras.utils.set_random_seed(0)
    x = keras.Input((16, 16, 3))
    model = keras.Model(x, layers.Conv2D(16, 3)(layers.Conv2D(8, 1)(x)))
    proto = convert.convert_and_check(model, tmp_path / "model.onnx", convert.DEFAULT_OPSET, "full")
    ready, notes = rewrites.make_gpu_ready(proto)
    assert any("1x1 convolution folded" in note for note in notes)
    images = (np.random.default_rng(0).standard_normal((64, 16, 16, 3)) * 100).astype(np.float32)
    feed = {proto.graph.input[0].name: images}
    within = compare.tolerance()
    assert rewrites.check_equivalent(proto, ready, feed, atol=within.atol, rtol=within.rtol) > 1e-5
    for graph in (proto, ready):
        session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
        (figures,) = parity.parity(session, model, [images], [1, 7, 64], ["out"]).values()
        assert figures["max_abs_diff"] > 1e-5 and compare.passes(figures["tolerance_used"]), figures


def test_the_manifest_records_both_figures_and_the_tolerance_per_output(runs):
    """Fails if: the manifest drops the relative figure or the share of the tolerance, or records
    a tolerance other than the one the export judged by."""
    manifest = json.loads((runs.export("lenet5") / "manifest.json").read_text())
    for entry in manifest["files"]:
        assert entry["parity"]["tolerance"] == {"atol": 1e-5, "rtol": 1e-5}
        for figures in entry["parity"]["outputs"].values():
            assert set(figures) == {"max_abs_diff", "max_rel_diff", "tolerance_used"}
            assert 0 <= figures["tolerance_used"] <= 1
        assert entry["parity"]["tolerance_used"] == max(
            o["tolerance_used"] for o in entry["parity"]["outputs"].values()
        )
    chain = manifest["chain"]
    assert chain["passed"] and chain["tolerance"] == {"atol": 1e-5, "rtol": 1e-5}
    assert {"max_abs_diff", "max_rel_diff", "tolerance_used"} <= set(chain)
