"""Exported files stand alone: tensors named for what they are, a named batch axis, metadata,
test sets in the ONNX Model Zoo layout, ONNX's reference evaluator agreeing, `zoo verify`."""

from __future__ import annotations

import json

import onnx
import pytest
from zoo_onnx.verify import verify

from tests.conftest import contract_registry, invoke

REGISTRY = contract_registry()
NAMES = sorted(REGISTRY.architectures)
FINAL = {
    "classification": "probabilities",
    "reconstruction": "reconstruction",
    "segmentation": "mask_probabilities",
}


def _files(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    return manifest, {f["part"]: onnx.load(str(folder / f["file"])) for f in manifest["files"]}


@pytest.mark.parametrize("name", NAMES)
def test_tensors_and_axes_are_named_for_what_they_are(name, runs):
    spec = REGISTRY.architecture(name)
    manifest, protos = _files(runs.export(name))
    link = "features" if spec.family == "classifier" else "code"
    first, last = spec.parts[0], spec.parts[-1]
    for part, proto in protos.items():
        inputs = [v.name for v in proto.graph.input]
        outputs = [v.name for v in proto.graph.output]
        if part in ("full", first):
            assert inputs == ["image"], part
        else:  # what the part before hands on, by the same names (a U-Net's code, skip1, skip2)
            before = [v.name for v in protos[spec.parts[spec.parts.index(part) - 1]].graph.output]
            assert inputs[0] == link and inputs == before[: len(inputs)], part
        assert outputs[0] == (FINAL[spec.task] if part in ("full", last) else link), part
        for value in [*proto.graph.input, *proto.graph.output]:
            dims = value.type.tensor_type.shape.dim
            assert dims[0].dim_param == "batch", (part, value.name)
            assert not any(d.dim_param.startswith("unk__") for d in dims), (part, value.name)
    for link_entry in manifest["links"]:
        assert link_entry["agree"] and link_entry["outputs"] == link_entry["inputs"]
        assert link_entry["tensors"][0] == link


def test_the_fully_convolutional_model_names_height_and_width(runs):
    manifest, protos = _files(runs.export("fcn"))
    shape = [d.dim_param or d.dim_value for d in protos["full"].graph.input[0].type.tensor_type.shape.dim]
    assert shape == ["batch", "height", "width", 1]
    out = [d.dim_param or d.dim_value for d in protos["full"].graph.output[0].type.tensor_type.shape.dim]
    assert out == ["batch", "height", "width", 11]
    assert manifest["links"][0]["output"]["shape"] == ["batch", "code_height", "code_width", 64]


def test_the_vae_encoder_keeps_its_log_variance_as_a_second_output(runs):
    _, protos = _files(runs.export("vae"))
    assert [v.name for v in protos["encoder"].graph.output] == ["code", "log_var"]


@pytest.mark.parametrize("name", ["lenet5", "conv-ae", "fcn"])
def test_every_file_describes_itself_in_metadata(name, runs):
    _, protos = _files(runs.export(name))
    for part, proto in protos.items():
        meta = {p.key: p.value for p in proto.metadata_props}
        assert meta["zoo.architecture"] == name and meta["zoo.part"] == part
        assert meta["zoo.layout"] == "NHWC" and meta["zoo.dataset"] == "synthetic"
        assert "scaled to [0, 1]" in json.loads(meta["zoo.preprocessing"])
        assert json.loads(meta["zoo.validation"])["passed"] is True
        assert "test_loss" in json.loads(meta["zoo.training_metrics"])
        assert meta["zoo.version"]


@pytest.mark.parametrize("name", NAMES)
def test_test_sets_and_the_reference_evaluator_prove_each_file(name, runs):
    """ONNX's own reference evaluator, a second runtime, reproduces Keras' outputs too."""
    folder = runs.export(name)
    for part in ["full", *REGISTRY.architecture(name).parts]:
        data = folder / "test_data" / part
        assert (data / "model.onnx").is_file() and (data / "test_data_set_0" / "input_0.pb").is_file()
    report = verify(folder, reference=True)
    assert report["passed"], report
    for entry in report["files"]:
        assert entry["max_abs_diff"] <= 1e-5 and entry["reference_max_abs_diff"] <= 1e-5


def test_zoo_verify_names_a_tampered_file_and_exits_1(runs, tmp_path):
    import shutil

    folder = tmp_path / "onnx"
    shutil.copytree(runs.export("lenet5"), folder)
    good = invoke(REGISTRY, "verify", str(folder))
    assert good.exit_code == 0 and good.stdout.count("ok ") == 3
    proto = onnx.load(str(folder / "head.onnx"))
    weights = next(i for i in proto.graph.initializer if len(i.float_data) or len(i.raw_data) > 64)
    raw = bytearray(weights.raw_data)
    raw[:4] = b"\x00\x00\x80\x7f"  # one weight becomes +inf
    weights.raw_data = bytes(raw)
    onnx.save(proto, str(folder / "head.onnx"))
    bad = invoke(REGISTRY, "verify", str(folder))
    assert bad.exit_code == 1
    assert "FAIL" in bad.stdout and "sha256 differs from the manifest" in bad.stdout
    single = invoke(REGISTRY, "verify", str(folder / "test_data" / "features" / "model.onnx"), "--json")
    assert single.exit_code == 0 and json.loads(single.stdout)["files"][0]["part"] == "features"


def test_verify_mistakes_are_one_line(tmp_path):
    result = invoke(REGISTRY, "verify", str(tmp_path))
    assert result.exit_code == 2 and "has no manifest.json" in result.stderr


@pytest.mark.parametrize("name", NAMES)
def test_exported_files_hold_no_pattern_the_cuda_provider_runs_on_the_cpu(name, runs):
    from zoo_onnx.rewrites import cpu_bound_patterns

    manifest, protos = _files(runs.export(name))
    for entry in manifest["files"]:
        assert entry["cpu_bound_nodes"] == [] and cpu_bound_patterns(protos[entry["part"]]) == []
        if entry["gpu_rewrites"]:
            assert entry["gpu_rewrites_max_abs_diff"] <= 1e-6
    if name == "conv-ae":
        decoder = next(f for f in manifest["files"] if f["part"] == "decoder")
        assert len(decoder["gpu_rewrites"]) == 3 and "asymmetric pads" in decoder["gpu_rewrites"][0]
