"""The plugin contract, checked for every registered architecture (built-in or third-party):
builds from its defaults, parts compose to the full model, a training step lowers the loss,
the export passes the checker and matches Keras, and bad hyper-parameters are named."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import onnx
import pytest

from tests.conftest import contract_registry
from zoo.core.errors import InvalidHyperParameter
from zoo.training import data, models
from zoo.training.compile import compile_model
from zoo.training.data import targets

REGISTRY = contract_registry()
NAMES = sorted(REGISTRY.architectures)


def _synthetic(spec, n=32):
    arrays = data.load(REGISTRY.dataset("synthetic"), spec)
    return arrays.x_train[:n], arrays.y_train[:n]


def test_the_contract_covers_builtins_and_the_example_plugin():
    assert {"conv-ae", "lenet5", "mlp"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_builds_from_defaults_and_parts_compose_to_the_full_model(name):
    spec = REGISTRY.architecture(name)
    model = models.build(spec)
    assert tuple(model.input_shape[1:]) == spec.input_shape
    parts = models.parts(spec, model)
    assert list(parts) == list(spec.parts)
    weights = {id(w) for w in model.weights}
    assert all(id(w) in weights for p in parts.values() for w in p.weights), "parts share the weights"
    x, _ = _synthetic(spec, 8)
    h = models.run_parts(parts, x)
    np.testing.assert_allclose(np.array(h), np.array(model(x, training=False)), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_the_declared_parameter_count_is_the_built_models(name):
    spec = REGISTRY.architecture(name)
    if spec.parameters is None:
        pytest.skip(f"{name} declares no parameter count")
    model = models.build(spec)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == spec.parameters


@pytest.mark.parametrize("name", NAMES)
def test_one_training_step_lowers_the_loss(name):
    import keras

    keras.utils.set_random_seed(0)
    spec = REGISTRY.architecture(name)
    model = models.build(spec)
    compile_model(model, spec, learning_rate=spec.learning_rate)
    x, y = _synthetic(spec)
    t = targets(spec, x, y)
    before = model.evaluate(x, t, verbose=0, return_dict=True)["loss"]
    model.train_on_batch(x, t)
    after = model.evaluate(x, t, verbose=0, return_dict=True)["loss"]
    assert after < before


@pytest.mark.parametrize("name", NAMES)
def test_export_passes_the_checker_and_matches_keras_at_two_batch_sizes(name, runs):
    folder = runs.export(name)
    manifest = json.loads((folder / "manifest.json").read_text())
    spec = REGISTRY.architecture(name)
    assert [f["part"] for f in manifest["files"]] == ["full", *spec.parts]
    for entry in manifest["files"]:
        path = folder / entry["file"]
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["parity"]["batch_sizes"] == [1, 64]
        assert entry["parity"]["max_abs_diff"] <= 1e-5 and entry["passed"]
    assert manifest["chain"]["passed"] and manifest["chain"]["parts"] == list(spec.parts)


@pytest.mark.parametrize("name", NAMES)
def test_invalid_hyperparameters_are_named(name):
    spec = REGISTRY.architecture(name)
    with pytest.raises(InvalidHyperParameter, match="Unknown hyper-parameter 'no_such_param'"):
        models.build(spec, {"no_such_param": "1"})
    for param in spec.hyperparameters:
        bad = "not-a-choice" if param.choices else "-1e309" if param.type is not str else None
        if bad is None:
            continue
        with pytest.raises(InvalidHyperParameter, match=repr(param.name)):
            models.build(spec, {param.name: bad})
