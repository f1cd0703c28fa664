"""Parts joined by several named tensors (a U-Net's skips): a part hands the next its first k
outputs, in order, k the number of inputs the next part takes. Keras applies the rule
(`models.run_parts`), the export names every handed-on tensor alike on both sides and links them
all in the manifest, test sets hold every input, the chain, `zoo verify` and `zoo bench` feed
every linked tensor by name; the VAE still hands on one."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from zoo_onnx.verify import check_links, verify

from tests.conftest import RunCache, invoke, make_registry
from zoo import hookimpl
from zoo.core.errors import PluginError
from zoo.core.specs import ArchitectureSpec
from zoo.training import models

HANDED_ON = ["code", "skip1", "skip2"]


class TinyUNetPlugin:
    @hookimpl
    def zoo_register_architectures(self, register):
        register(
            ArchitectureSpec(
                name="tiny-unet",
                builder="tests.fake_models:build_tiny_unet",
                family="autoencoder",
                task="reconstruction",
                input_shape=(8, 8, 1),
                parts=("encoder", "decoder"),
                summary="a U-Net in miniature, for tests",
                default_dataset="synthetic",
            )
        )


REGISTRY = make_registry(("tiny-unet", TinyUNetPlugin()))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> RunCache:
    return RunCache(REGISTRY, tmp_path_factory.mktemp("tiny-unet"))


def _export(tiny: RunCache, *args: str) -> dict:
    result = invoke(REGISTRY, "export", str(tiny.run("tiny-unet")), *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _part(manifest: dict, part: str) -> dict:
    return next(f for f in manifest["files"] if f["part"] == part)


def _shape(info: dict) -> list:
    return info["shape"]


def test_a_part_hands_the_next_its_first_k_outputs_k_the_inputs_the_next_takes():
    model = models.build(REGISTRY.architecture("tiny-unet"))
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    assert models.passed_between(encoder, decoder) == 3
    outputs = ["code", "skip1", "skip2", "aux"]
    assert models.handed_on(outputs, decoder) == HANDED_ON  # aux is an extra: no part takes it
    vae = models.build(REGISTRY.architecture("vae"))
    assert models.passed_between(vae.get_layer("encoder"), vae.get_layer("decoder")) == 1
    assert models.handed_on(["mean", "log_var"], vae.get_layer("decoder")) == "mean"
    with pytest.raises(PluginError, match="part 'decoder' takes 3 inputs, but the part before it has 2"):
        models.handed_on(["code", "skip1"], decoder)


def test_the_parts_applied_in_turn_pass_every_skip_and_equal_the_full_model():
    model = models.build(REGISTRY.architecture("tiny-unet"))
    x = np.random.default_rng(0).random((4, 8, 8, 1), dtype=np.float32)
    parts = models.parts(REGISTRY.architecture("tiny-unet"), model)
    chained = models.run_parts(parts, x)
    np.testing.assert_allclose(np.array(chained), np.array(model(x, training=False)), rtol=0, atol=1e-6)


def test_a_part_that_takes_more_than_the_part_before_gives_is_refused_at_build():
    import keras

    image = keras.Input((4,), name="image")
    encoder = keras.Model(image, keras.layers.Dense(2, name="code")(image), name="encoder")
    a, b = keras.Input((2,), name="a"), keras.Input((2,), name="b")
    decoder = keras.Model([a, b], keras.layers.Add(name="add")([a, b]), name="decoder")
    spec = REGISTRY.architecture("tiny-unet")  # its parts: encoder, decoder
    inputs = keras.Input((4,))
    code = encoder(inputs)
    full = keras.Model(inputs, decoder([code, code]))
    with pytest.raises(PluginError, match="part 'decoder' takes 2 inputs, but part 'encoder' has 1"):
        models.parts(spec, full)


def test_the_export_names_every_handed_on_tensor_alike_and_links_them_all(tiny):
    manifest = _export(tiny)
    folder = tiny.run("tiny-unet") / manifest["path"]
    encoder, decoder = _part(manifest, "encoder"), _part(manifest, "decoder")
    assert [o["name"] for o in encoder["outputs"]] == [*HANDED_ON, "aux"]
    assert [i["name"] for i in decoder["inputs"]] == HANDED_ON
    [link] = manifest["links"]
    assert link["from"] == "encoder" and link["to"] == "decoder" and link["agree"]
    assert link["tensors"] == HANDED_ON
    assert link["outputs"] == link["inputs"] == encoder["outputs"][:3] == decoder["inputs"]
    assert [_shape(t) for t in link["inputs"]] == [["batch", 2, 2, 4], ["batch", 8, 8, 2], ["batch", 4, 4, 3]]
    assert link["output"] == link["input"] == link["inputs"][0]  # the first, as manifests had it
    assert manifest["chain"]["passed"] and manifest["chain"]["max_abs_diff"] <= 1e-5
    assert all(f["passed"] and f["parity"]["max_abs_diff"] <= 1e-5 for f in manifest["files"])
    data = folder / "test_data" / "decoder" / "test_data_set_0"
    assert sorted(p.name for p in data.glob("input_*.pb")) == ["input_0.pb", "input_1.pb", "input_2.pb"]
    tensors = [onnx.load_tensor(str(data / f"input_{i}.pb")) for i in range(3)]
    assert [t.name for t in tensors] == HANDED_ON
    assert [list(t.dims) for t in tensors] == [[8, 2, 2, 4], [8, 8, 8, 2], [8, 4, 4, 3]]
    meta = {p.key: p.value for p in onnx.load(str(folder / "decoder.onnx")).metadata_props}
    assert json.loads(meta["zoo.inputs"]) == HANDED_ON


def test_verify_feeds_every_input_and_checks_that_the_files_chain_by_name(tiny):
    folder = tiny.run("tiny-unet") / _export(tiny)["path"]
    report = verify(folder, reference=True)
    assert report["passed"], report
    decoder = next(f for f in report["files"] if f["part"] == "decoder")
    assert "takes code, skip1, skip2 from encoder.onnx, by name, same shapes and dtypes" in decoder["checks"]
    assert decoder["max_abs_diff"] <= 1e-5 and decoder["reference_max_abs_diff"] <= 1e-5
    # A decoder whose second input is not what the encoder hands on fails the link, by name.
    renamed = [dict(f) for f in report["files"]]
    taker = next(f for f in renamed if f["part"] == "decoder")
    taker.update(checks=[], passed=True, inputs=[taker["inputs"][0], {**taker["inputs"][1], "name": "skip9"}])
    check_links(json.loads((folder / "manifest.json").read_text())["links"], renamed)
    assert not taker["passed"] and taker["failures"] == [
        "takes skip9, which encoder.onnx does not hand on with the same shape and dtype"
    ]


def test_bench_of_the_run_feeds_each_part_and_chains_every_linked_tensor(tiny):
    tiny.export("tiny-unet")
    result = invoke(
        REGISTRY,
        "bench",
        str(tiny.run("tiny-unet")),
        "--batch-sizes",
        "1,3",
        "--seconds",
        "0",
        "--provider",
        "cpu",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    methods = {(r["method"], r["batch_size"]) for r in json.loads(result.stdout)["rows"]}
    for batch in (1, 3):
        for method in ("full", "encoder", "decoder", "chain encoder->decoder"):
            assert (f"onnxruntime {method}", batch) in methods


def test_nchw_transposes_every_handed_on_tensor_alike(tiny):
    manifest = _export(tiny, "--layout", "nchw")
    [link] = manifest["links"]
    assert link["agree"] and link["tensors"] == HANDED_ON
    assert [_shape(t) for t in link["inputs"]] == [["batch", 4, 2, 2], ["batch", 2, 8, 8], ["batch", 3, 4, 4]]
    assert _shape(_part(manifest, "encoder")["outputs"][3]) == ["batch", 4]  # aux is 2-D: as it was
    assert manifest["chain"]["passed"] and manifest["chain"]["max_abs_diff"] <= 1e-5
    assert verify(tiny.run("tiny-unet") / manifest["path"])["passed"]


@pytest.mark.parametrize("args", [["--dtype", "fp16"], ["--quantize", "static"]])
def test_lower_precision_feeds_and_calibrates_every_input(tiny, args):
    manifest = _export(tiny, *args)
    [link] = manifest["links"]
    assert link["agree"] and link["tensors"] == HANDED_ON
    assert all(f["passed"] for f in manifest["files"]) and manifest["chain"]["passed"]
    decoder = _part(manifest, "decoder")
    assert decoder["parity"]["metric"]["through"] == "this file with the other parts in Keras"
    assert verify(tiny.run("tiny-unet") / manifest["path"])["passed"]


def test_the_vae_still_hands_on_one_tensor(runs):
    folder = runs.export("vae")
    manifest = json.loads((folder / "manifest.json").read_text())
    [link] = manifest["links"]
    assert link["tensors"] == ["code"] and link["agree"]
    assert [o["name"] for o in _part(manifest, "encoder")["outputs"]] == ["code", "log_var"]
    assert [i["name"] for i in _part(manifest, "decoder")["inputs"]] == ["code"]
