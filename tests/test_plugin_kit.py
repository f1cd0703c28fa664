"""What a plugin author meets when a plugin breaks the contract: the one line per failure kind,
from ``zoo plugins``, ``zoo plugins check`` and the commands that run plugin code; and ``zoo
verify RUN_DIR``."""

from __future__ import annotations

import json

import pytest

from tests import bad_plugins
from tests.conftest import invoke, make_registry

PLUGIN = "bad"


@pytest.fixture(scope="module")
def registry():
    return make_registry((PLUGIN, bad_plugins.BadPlugin()), strict=False)


def _failures(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("FAIL ")]


def test_a_default_outside_its_range_is_refused_at_registration_and_shown(registry):
    assert "width-ae" not in registry.architectures and "good-ae" in registry.architectures
    shown = invoke(registry, "plugins")
    line = next(line for line in shown.stdout.splitlines() if line.startswith(PLUGIN))
    assert line.endswith(
        "ERROR zoo_register_architectures: InvalidSpec: architecture 'width-ae' refused: "
        "hyper-parameter 'width': default 0.0 is outside its own range (0.25 to 8.0)"
    )
    checked = invoke(registry, "plugins", "check", PLUGIN, "--json")
    plugin = json.loads(checked.stdout)["items"][0]
    assert plugin["kind"] == "plugin" and plugin["checks"][0]["status"] == "fail"
    assert "default 0.0 is outside its own range" in plugin["checks"][0]["detail"]


@pytest.mark.parametrize(
    ("name", "line"),
    [
        (
            "swapped-ae",
            "FAIL architecture swapped-ae parts-order: parts are declared as (decoder, encoder) but the "
            "model applies them as (encoder, decoder)",
        ),
        (
            "counted-ae",
            "FAIL architecture counted-ae parameters: declares parameters=1,000 but the model has 580 "
            "trainable",
        ),
        (
            "partless-ae",
            "FAIL architecture partless-ae parts-exist: architecture 'partless-ae' of plugin 'bad' declares "
            "part 'decoder' but its model has no layer of that name (layers: pixels, encoder, dec)",
        ),
        (
            "crossed-unet",
            "FAIL architecture crossed-unet parts-order: encoder's output 1 (skip1, (8, 8, 2)) goes to "
            "decoder's input 1 (skip2_in), which takes (4, 4, 3): a part hands the next its outputs in "
            "order, so the next part's inputs must follow them",
        ),
        (
            "raising-ae",
            "FAIL architecture raising-ae builds: error in plugin 'bad' (tests.bad_models:build_raises): "
            "ValueError: width must divide 8 (raise zoo.api.InvalidHyperParameter for values the builder "
            "cannot take)",
        ),
        (
            "rgb-data",
            "FAIL dataset rgb-data images: x_train holds images of (8, 8, 3), the spec says (8, 8, 1)",
        ),
        (
            "offline-data",
            "FAIL dataset offline-data loads: error in plugin 'bad' (tests.bad_models:load_raises): "
            "ConnectionError: download of https://example.org/data.npz failed (raise "
            "zoo.api.DatasetUnavailable for data that cannot be had here: users see one line, and this "
            "check skips)",
        ),
    ],
)
def test_each_broken_item_fails_its_check_with_one_line(registry, name, line):
    result = invoke(registry, "plugins", "check", name)
    assert result.exit_code == 1
    assert _failures(result) == [line]


@pytest.mark.parametrize(
    ("name", "start"),
    [
        (
            "scaled-ae",
            "FAIL architecture scaled-ae parts-compose: the parts applied in order differ from the full "
            "model by ",
        ),
        (
            "frozen-ae",
            "FAIL architecture frozen-ae train-step: one step of binary_crossentropy at learning rate "
            "0.001 on 32 synthetic images did not lower the loss",
        ),
        (
            "odd-fails-ae",
            "FAIL architecture odd-fails-ae builds-varied: with width=5: error in plugin 'bad' "
            "(tests.bad_models:build_odd_fails_ae): ValueError: odd width (raise "
            "zoo.api.InvalidHyperParameter for values the builder cannot take)",
        ),
        (
            "dict-ae",
            "FAIL architecture dict-ae builds: architecture 'dict-ae' of plugin 'bad': "
            "tests.bad_models:build_dict returned dict, not a Keras model with a graph: return "
            "keras.Model(inputs, outputs) or a keras.Sequential (a subclassed model cannot be split into "
            "parts nor exported)",
        ),
        (
            "dropper-ae",
            "FAIL architecture dropper-ae builds-varied: with width=5: architecture 'dropper-ae' of plugin "
            "'bad' declares part 'decoder' but its model has no layer of that name",
        ),
        (
            "dict-data",
            "FAIL dataset dict-data loads: dataset 'dict-data' of plugin 'bad': tests.bad_models:load_dict "
            "returned dict, not (x_train, y_train, x_test, y_test[, class_names])",
        ),
        (
            "careless",
            "FAIL exporter careless export: exporter 'careless' of plugin 'bad': "
            "tests.bad_models:export_without_passed files[0] does not say whether it 'passed' (True or "
            "False); a manifest is a dict whose 'files' list holds one {'part': ..., 'file': ..., "
            "'passed': True or False, 'reason': ...} per file",
        ),
    ],
)
def test_broken_behaviour_fails_its_check(registry, name, start):
    result = invoke(registry, "plugins", "check", name)
    assert result.exit_code == 1
    (line,) = _failures(result)
    assert line.startswith(start), line


def test_a_good_item_passes_every_check(registry):
    result = invoke(registry, "plugins", "check", "good-ae", "--json")
    assert result.exit_code == 0, result.stdout
    (item,) = json.loads(result.stdout)["items"]
    statuses = {c["check"]: c["status"] for c in item["checks"]}
    assert statuses == dict.fromkeys(statuses, "pass") | {"builds-varied": "skip", "evaluates": "skip"}
    assert list(statuses) == [
        "default-dataset",
        "resolves",
        "builds",
        "builds-varied",
        "parts-exist",
        "parts-order",
        "parts-share-weights",
        "parts-compose",
        "parameters",
        "train-step",
        "export",
        "evaluates",
    ]


def test_a_check_that_needs_a_failed_one_is_skipped_naming_it(registry):
    result = json.loads(invoke(registry, "plugins", "check", "raising-ae", "--json").stdout)
    checks = {c["check"]: c for c in result["items"][0]["checks"]}
    assert checks["parts-compose"]["status"] == "skip"
    assert checks["parts-compose"]["detail"] == "needs check 'builds', which failed"


def test_unknown_names_are_refused_listing_what_exists(registry):
    result = invoke(registry, "plugins", "check", "nothing-here")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "zoo: error: Unknown plugin, architecture, dataset or exporter 'nothing-here'. Available: "
    )


def test_plugin_code_that_raises_is_named_by_the_commands_too(registry, tmp_path):
    built = invoke(registry, "train", "raising-ae", "--epochs", "1", "--out", str(tmp_path))
    assert built.exit_code == 1
    assert built.stderr.splitlines()[-1] == (
        "zoo: error in plugin 'bad' (tests.bad_models:build_raises): ValueError: width must divide 8"
    )
    loaded = invoke(registry, "train", "good-ae", "--dataset", "offline-data", "--out", str(tmp_path))
    assert loaded.exit_code == 1
    assert loaded.stderr.splitlines()[-1] == (
        "zoo: error in plugin 'bad' (tests.bad_models:load_raises): ConnectionError: download of "
        "https://example.org/data.npz failed"
    )


def test_zoo_verify_takes_a_run_folder_as_export_and_bench_do(runs):
    from tests.conftest import contract_registry

    run = runs.run("lenet5")
    runs.export("lenet5")
    args = ("--runtime", "onnxruntime", "--json")
    by_run = invoke(contract_registry(), "verify", str(run), *args)
    by_folder = invoke(contract_registry(), "verify", str(run / "onnx"), *args)
    assert by_run.exit_code == 0
    assert _untimed(json.loads(by_run.stdout)) == _untimed(json.loads(by_folder.stdout))


def _untimed(report: dict) -> dict:
    """A verify report without the runtime matrix's load and first-run times (never twice alike)."""
    for row in report["runtimes"]["rows"]:
        row.pop("load_s"), row.pop("first_run_s")
    return report


def test_zoo_verify_of_a_run_without_export_says_so(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    result = invoke(make_registry(), "verify", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == (
        f"zoo: error: {str(tmp_path)!r} is a run folder with no onnx export yet: run `zoo export "
        f"{tmp_path}` first\n"
    )


def test_parametrize_with_checks_gives_one_test_per_check_failing_with_the_same_line(registry):
    from zoo.api import parametrize_with_checks

    def test(check): ...

    marks = {
        m.name: m
        for m in parametrize_with_checks("counted-ae", "rgb-data", registry=registry)(test).pytestmark
    }
    assert marks["filterwarnings"].args == (
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
    )
    (argnames, cases), ids = marks["parametrize"].args, marks["parametrize"].kwargs["ids"]
    assert argnames == "check" and ids[:2] == [
        "architecture:counted-ae:default-dataset",
        "architecture:counted-ae:resolves",
    ]
    assert len(ids) == len(cases) == 12 + 4
    by_id = dict(zip(ids, cases, strict=True))
    with pytest.raises(
        pytest.fail.Exception, match=r"^declares parameters=1,000 but the model has 580 trainable$"
    ):
        by_id["architecture:counted-ae:parameters"]()
    with pytest.raises(pytest.skip.Exception, match="no hyper-parameter to vary"):
        by_id["architecture:counted-ae:builds-varied"]()
    assert by_id["dataset:rgb-data:loads"]() == "16 training and 16 test images"


def test_what_plugin_code_prints_goes_to_stderr_and_the_json_stays_whole(registry):
    result = invoke(registry, "plugins", "check", "chatty-data", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["counts"] == {"pass": 4, "fail": 0, "skip": 0}
    assert "Downloading data from https://example.org/data.npz" in result.stderr


def test_values_a_builder_refuses_with_invalid_hyperparameter_are_tried_one_by_one(registry):
    result = json.loads(invoke(registry, "plugins", "check", "even-ae", "--json").stdout)
    varied = next(c for c in result["items"][0]["checks"] if c["check"] == "builds-varied")
    assert varied["status"] == "pass"
    assert varied["detail"] == (
        "width=6: 580 parameters; bias=False: 580 parameters "
        "(refused with InvalidHyperParameter: width=5, bias=False; width=5; width=3)"
    )


def test_a_model_breaking_the_parts_contract_is_refused_before_training(registry, tmp_path):
    result = invoke(registry, "train", "swapped-ae", "--epochs", "1", "--out", str(tmp_path))
    assert result.exit_code == 1 and not any(tmp_path.iterdir())
    assert result.stderr.splitlines()[-1] == (
        "zoo: error: architecture 'swapped-ae' of plugin 'bad': parts are declared as (decoder, encoder) "
        "but the model applies them as (encoder, decoder)"
    )


def test_a_refused_spec_asked_for_by_name_says_it_was_refused_and_why(registry, tmp_path):
    result = invoke(registry, "train", "width-ae", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "zoo: error: architecture 'width-ae' was refused when its plugin registered it: hyper-parameter "
        "'width': default 0.0 is outside its own range (0.25 to 8.0) (plugin 'bad')"
    )


def test_an_unknown_name_says_when_zoo_load_plugins_left_plugins_out(monkeypatch):
    from zoo.core.host import load_registry

    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "lenet")
    result = invoke(load_registry(), "train", "lenet5", "--dataset", "mnist-sample")
    assert result.exit_code == 2
    assert result.stderr == (
        "zoo: error: Unknown dataset 'mnist-sample'. Available: (none) "
        "(ZOO_LOAD_PLUGINS=lenet loads only those plugins)\n"
    )


def test_a_two_class_classifier_trains_a_step_on_synthetic_data(registry):
    result = json.loads(invoke(registry, "plugins", "check", "two-class", "--json").stdout)
    statuses = {c["check"]: c["status"] for c in result["items"][0]["checks"]}
    assert statuses["train-step"] == "pass" and result["passed"], result


def test_an_exporter_is_tried_on_a_built_in_architecture_not_another_plugins_broken_one(registry):
    result = json.loads(invoke(registry, "plugins", "check", "onnx", "--json").stdout)
    exporter = next(i for i in result["items"] if i["kind"] == "exporter")
    export = next(c for c in exporter["checks"] if c["check"] == "export")
    assert export["status"] == "pass" and export["detail"].startswith("dense-ae: "), export


def test_a_loader_returning_something_else_is_the_plugins_error_in_training_too(registry, tmp_path):
    result = invoke(registry, "train", "good-ae", "--dataset", "dict-data", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "zoo: error: dataset 'dict-data' of plugin 'bad': tests.bad_models:load_dict returned dict, not "
        "(x_train, y_train, x_test, y_test[, class_names])"
    )
