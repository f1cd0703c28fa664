"""Files and plugins from someone else: zoo refuses what would run code or read outside a model's
folder, checks a file against its manifest before it parses it, and says where plugins come from.

- a model.keras with a Lambda layer (Python bytecode) is refused, exit 2, unless
  ``zoo --unsafe-load-code``;
- an ONNX file whose external data lies outside its folder is refused before onnx or ONNX
  Runtime read it;
- ``zoo verify`` loads no file whose sha256 differs from the manifest;
- ``zoo plugins --all`` names each plugin's distribution, version and path, and
  ``ZOO_LOAD_PLUGINS`` keeps the others from being imported at all.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper
from zoo_onnx import verify as verify_module

from tests.conftest import ZOO, invoke, load_model, make_registry, zoo_subprocess_env
from zoo.core import settings
from zoo.core.errors import ModelFileError, UnsafeModelFile
from zoo.runs.keras_trust import check_keras_file, code_in_config
from zoo.runs.onnx_trust import check_external_data, outside_reason

FLAG = "--unsafe-load-code"


@pytest.fixture(autouse=True)
def _safe_mode_restored(monkeypatch):
    """The flag sets ZOO_UNSAFE_LOAD_CODE in this process; set here, it is undone after each test."""
    monkeypatch.setenv(settings.UNSAFE_LOAD_CODE, "")


# --- Keras: a Lambda layer is code ---------------------------------------------------------


@pytest.fixture(scope="module")
def lambda_run(runs, tmp_path_factory) -> Path:
    """A copy of a trained dense-ae run whose model.keras gained a Lambda layer (a Python lambda)
    in front of its encoder; compiled, so that evaluate can use it, and exportable."""
    import keras

    run = tmp_path_factory.mktemp("lambda") / "dense-ae"
    shutil.copytree(runs.run("dense-ae"), run)
    trained = load_model(run)
    image = keras.Input(trained.input_shape[1:], name="image")
    x = keras.layers.Lambda(lambda t: t * 1.0, name="scale")(image)
    model = keras.Model(image, trained.get_layer("decoder")(trained.get_layer("encoder")(x)), name="dense_ae")
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["mse"])
    model.optimizer.build(model.trainable_variables)  # saved with its state, as zoo saves models
    (run / "model.keras").unlink()
    model.save(run / "model.keras")
    return run


def _one_refusal(result, model_file: Path) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("zoo: error: ")
    assert str(model_file) in line and "contains code (a Lambda layer 'scale')" in line and FLAG in line
    return line


def test_evaluate_and_export_refuse_a_lambda_layer(lambda_run):
    registry = make_registry()
    before = sorted(lambda_run.iterdir())
    _one_refusal(invoke(registry, "evaluate", str(lambda_run)), lambda_run / "model.keras")
    _one_refusal(
        invoke(registry, "export", str(lambda_run), "--out", str(lambda_run / "x")),
        lambda_run / "model.keras",
    )
    assert sorted(lambda_run.iterdir()) == before
    with pytest.raises(UnsafeModelFile):
        load_model(lambda_run)


def test_keras_own_safe_mode_refusal_is_the_same_error(lambda_run, monkeypatch):
    """Code the archive check does not know of still meets Keras' safe mode, and the same line."""
    monkeypatch.setattr("zoo.runs.keras_trust.check_keras_file", lambda path: None)
    with pytest.raises(UnsafeModelFile, match=r"contains code \(.*Lambda.*\).*--unsafe-load-code"):
        load_model(lambda_run)


def test_the_flag_loads_it_and_warns(lambda_run):
    registry = make_registry()
    evaluated = invoke(registry, FLAG, "evaluate", str(lambda_run), "--json")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert "test_loss" in json.loads(evaluated.stdout)["metrics"]
    warning = [line for line in evaluated.stderr.splitlines() if line.startswith("zoo: warning:")]
    assert len(warning) == 1 and FLAG in warning[0] and "trust" in warning[0]

    out = lambda_run / "onnx-trusted"
    exported = invoke(registry, FLAG, "export", str(lambda_run), "--parts", "full", "--out", str(out))
    assert exported.exit_code == 0, exported.stderr
    assert json.loads((out / "manifest.json").read_text())["files"][0]["passed"]


def test_the_flag_is_documented_in_help():
    result = invoke(None, "--help")
    assert FLAG in result.stdout and "ZOO_UNSAFE_LOAD_CODE" in result.stdout


def test_what_counts_as_code_in_a_keras_config():
    bytecode = {"class_name": "__lambda__", "config": {"code": "4wEAAA=="}}
    registered = {"module": "builtins", "class_name": "function", "config": "double"}
    layers = [
        {"class_name": "Dense", "config": {"name": "d"}},
        {"class_name": "Lambda", "config": {"name": "by_name", "function": registered}},
        {"class_name": "Lambda", "config": {"name": "inline", "function": bytecode}},
    ]
    config = {"class_name": "Functional", "config": {"layers": layers}, "compile_config": {"loss": bytecode}}
    assert list(code_in_config(config)) == ["a Lambda layer 'inline'", "Python bytecode"]
    assert list(code_in_config({"config": {"layers": layers[:2]}})) == []


def test_an_archive_keras_cannot_read_is_left_to_keras(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"not a zip")
    check_keras_file(tmp_path / "model.keras")  # no refusal: Keras' own error says what is wrong


# --- ONNX external data ----------------------------------------------------------------------


def _model(where: str = "initializer") -> onnx.ModelProto:
    """y = x + w, with w (1 KiB of floats) as an initializer or a Constant inside an If branch."""
    w = numpy_helper.from_array(np.arange(256, dtype=np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [256])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [256])
    if where == "initializer":
        graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [w])
    else:
        branch_out = helper.make_tensor_value_info("w", TensorProto.FLOAT, [256])
        branch = helper.make_graph([helper.make_node("Constant", [], ["w"], value=w)], "b", [], [branch_out])
        cond = numpy_helper.from_array(np.array(True), "cond")
        nodes = [
            helper.make_node("If", ["cond"], ["w_out"], then_branch=branch, else_branch=branch),
            helper.make_node("Add", ["x", "w_out"], ["y"]),
        ]
        graph = helper.make_graph(nodes, "g", [x], [y], [cond])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _write(folder: Path, location: str, where: str = "initializer") -> Path:
    """model.onnx in ``folder`` with its 1 KiB tensor kept at ``location``; the bytes are written
    there too when it can be, so a loader that followed it would succeed."""
    model = _model(where)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save_model(
        model,
        str(folder / "model.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=512,
        convert_attribute=True,
    )
    saved = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    entries = [
        entry
        for tensor in onnx.external_data_helper._get_all_tensors(saved)
        for entry in tensor.external_data
        if entry.key == "location"
    ]
    assert entries  # the 1 KiB tensor, wherever it is (once per If branch)
    for entry in entries:
        entry.value = location
    onnx.save_model(saved, str(folder / "model.onnx"))
    return folder / "model.onnx"


@pytest.fixture
def outside(tmp_path) -> Path:
    """A file outside the model's folder with the very bytes the model wants."""
    target = tmp_path / "secret" / "weights.bin"
    target.parent.mkdir()
    target.write_bytes(np.arange(256, dtype=np.float32).tobytes())
    return target


def _forbid_loading(monkeypatch) -> None:
    """From now on, fail the test if onnx reads external data or ONNX Runtime opens a session."""

    def refuse(*args, **kwargs):
        raise AssertionError("a file was loaded before it was checked")

    monkeypatch.setattr(onnx, "load_external_data_for_model", refuse)
    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)


@pytest.fixture
def no_loading(monkeypatch):
    _forbid_loading(monkeypatch)


def _escapes(tmp_path: Path, outside: Path) -> dict[str, tuple[Path, str]]:
    link = tmp_path / "model" / "link.bin"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)
    linked_folder = tmp_path / "model" / "data"
    linked_folder.symlink_to(outside.parent, target_is_directory=True)
    return {
        "absolute": (tmp_path / "model", str(outside)),
        "dotdot": (tmp_path / "model", "../secret/weights.bin"),
        "inner dotdot": (tmp_path / "model", "data/../../secret/weights.bin"),
        "backslash dotdot": (tmp_path / "model", "..\\secret\\weights.bin"),
        "symlink": (tmp_path / "model", "link.bin"),
        "symlinked folder": (tmp_path / "model", "data/weights.bin"),
    }


@pytest.mark.parametrize(
    "case", ["absolute", "dotdot", "inner dotdot", "backslash dotdot", "symlink", "symlinked folder"]
)
@pytest.mark.parametrize("where", ["initializer", "subgraph"])
def test_external_data_outside_the_folder_is_refused(tmp_path, outside, no_loading, case, where):
    folder, location = _escapes(tmp_path, outside)[case]
    model_file = _write(folder, location, where)
    with pytest.raises(UnsafeModelFile) as refused:
        check_external_data(model_file)
    message = str(refused.value)
    assert str(model_file) in message and repr(location) in message and "\n" not in message

    result = invoke(make_registry(), "verify", str(model_file))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and repr(location) in result.stderr
    assert str(model_file) in result.stderr and result.stdout == ""


def test_external_data_inside_the_folder_is_accepted(tmp_path):
    model_file = _write(tmp_path / "model", "weights.bin")
    nested = _write(tmp_path / "nested", "weights.bin")
    (tmp_path / "nested" / "data").mkdir()
    (tmp_path / "nested" / "weights.bin").rename(tmp_path / "nested" / "data" / "weights.bin")
    saved = onnx.load(str(nested), load_external_data=False)
    saved.graph.initializer[0].external_data[0].value = "data/weights.bin"
    onnx.save_model(saved, str(nested))
    for path in (model_file, nested):
        check_external_data(path)
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        x = np.ones(256, np.float32)
        np.testing.assert_array_equal(session.run(None, {"x": x})[0], x + np.arange(256))


def test_a_file_that_is_no_onnx_is_a_model_file_error(tmp_path):
    (tmp_path / "x.onnx").write_bytes(b"\xff" * 64)
    with pytest.raises(ModelFileError, match="Cannot read") as raised:
        check_external_data(tmp_path / "x.onnx")
    assert not isinstance(raised.value, UnsafeModelFile)


@pytest.mark.parametrize(
    ("location", "inside"),
    [
        ("w.bin", True),
        ("sub/w.bin", True),
        ("", False),
        ("/w.bin", False),
        ("C:\\w.bin", False),
        ("\\\\server\\share\\w.bin", False),
        ("sub/../w.bin", False),
        ("w\x00.bin", False),
    ],
)
def test_outside_reason(tmp_path, location, inside):
    assert (outside_reason(tmp_path, location) is None) is inside


def test_a_manifest_that_lists_a_file_outside_its_folder_is_refused(runs, tmp_path, outside, monkeypatch):
    folder = tmp_path / "onnx"
    shutil.copytree(runs.export("lenet5"), folder)
    _forbid_loading(monkeypatch)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][0]["file"] = "../secret/weights.bin"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    result = invoke(make_registry(), "verify", str(folder))
    assert result.exit_code == 2 and "'../secret/weights.bin'" in result.stderr
    assert result.stderr.count("\n") == 1


# --- verify: the manifest's sha256 before anything parses a file ------------------------------


def _spy_on_loading(monkeypatch) -> dict[str, list]:
    """From now on, record every onnx.load (by file name), ONNX Runtime session and reference
    evaluator run."""
    seen: dict[str, list] = {"onnx.load": [], "sessions": [], "reference": []}
    real_load, real_session, real_reference = (
        onnx.load,
        onnxruntime.InferenceSession,
        verify_module.run_reference,
    )

    def load(f, *args, **kwargs):
        seen["onnx.load"].append(Path(f).name)
        return real_load(f, *args, **kwargs)

    def session(model, *args, **kwargs):
        seen["sessions"].append(model)
        return real_session(model, *args, **kwargs)

    def reference(proto, inputs):
        seen["reference"].append(proto)
        return real_reference(proto, inputs)

    monkeypatch.setattr(onnx, "load", load)
    monkeypatch.setattr(onnxruntime, "InferenceSession", session)
    monkeypatch.setattr(verify_module, "run_reference", reference)
    return seen


def _tamper_bytes(path: Path) -> None:
    proto = onnx.load(str(path))
    weights = max(proto.graph.initializer, key=lambda t: len(t.raw_data))
    raw = bytearray(weights.raw_data)
    raw[:4] = np.float32(123.0).tobytes()
    weights.raw_data = bytes(raw)
    onnx.save_model(proto, str(path))


@pytest.mark.parametrize("how", ["bytes changed", "swapped"])
def test_verify_loads_no_file_that_differs_from_its_manifest(runs, tmp_path, monkeypatch, how):
    folder = tmp_path / "onnx"
    shutil.copytree(runs.export("lenet5"), folder)
    if how == "swapped":  # a valid ONNX file, just not the one the manifest names
        shutil.copyfile(folder / "features.onnx", folder / "head.onnx")
    else:
        _tamper_bytes(folder / "head.onnx")
    loads = _spy_on_loading(monkeypatch)
    result = invoke(make_registry(), "verify", str(folder), "--reference", "--json")
    assert result.exit_code == 1, result.stderr
    report = {Path(f["file"]).name: f for f in json.loads(result.stdout)["files"]}
    head = report["head.onnx"]
    assert not head["passed"] and head["failures"] == [
        "sha256 differs from the manifest; the file was not loaded"
    ]
    assert report["model.onnx"]["passed"] and report["features.onnx"]["passed"]
    assert set(loads["onnx.load"]) == {"model.onnx", "features.onnx"}  # never head.onnx
    assert len(loads["reference"]) == 2  # verify's own --reference run: one per file loaded
    assert not [s for s in loads["sessions"] if isinstance(s, (str, Path)) and Path(s).name == "head.onnx"]
    # the runtime matrix (OpenVINO and OpenCV read paths themselves) runs only the files that passed
    rows = json.loads(result.stdout)["runtimes"]["rows"]
    assert {row["status"] for row in rows if Path(row["file"]).name == "head.onnx"} == {"not run"}


# --- plugins: where they come from, and which load at all -------------------------------------


@pytest.fixture
def plugin_site(tmp_path) -> Path:
    """An installed third-party plugin (a dist-info and a module) that leaves a mark when imported."""
    site = tmp_path / "site"
    dist = site / "zoo_trusty-0.3.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: zoo-trusty\nVersion: 0.3\n")
    (dist / "entry_points.txt").write_text("[zoo]\ntrusty = zoo_trusty\n")
    (site / "zoo_trusty.py").write_text(
        "import os, pathlib\npathlib.Path(os.environ['TRUSTY_MARK']).write_text('imported')\n"
    )
    return site


def _zoo(site: Path, mark: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ZOO, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=zoo_subprocess_env(PYTHONPATH=str(site), TRUSTY_MARK=str(mark), **env),
    )


def test_plugins_all_says_where_each_plugin_comes_from(plugin_site, tmp_path):
    mark = tmp_path / "mark"
    listed = _zoo(plugin_site, mark, "plugins", "--all", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert {"lenet", "onnx", "trusty"} <= set(rows)
    trusty = rows["trusty"]
    assert (trusty["distribution"], trusty["version"], trusty["builtin"]) == ("zoo-trusty", "0.3", False)
    assert trusty["path"] == str(plugin_site)
    for row in rows.values():
        assert row["distribution"] and row["version"] and Path(row["path"]).is_dir(), row
        assert (Path(row["path"]) / (row["module"] + ".py")).is_file() or (
            Path(row["path"]) / "__init__.py"
        ).is_file()

    table = _zoo(plugin_site, mark, "plugins", "--all").stdout.splitlines()
    assert table[0].split() == [
        "PLUGIN",
        "DISTRIBUTION",
        "BUILT-IN",
        "HOOKS",
        "REGISTERED",
        "PATH",
        "LOAD",
        "STATUS",
    ]
    line = next(line for line in table if line.startswith("trusty "))
    assert "zoo-trusty 0.3" in line and str(plugin_site) in line
    lenet = next(line for line in table if line.startswith("lenet "))
    assert rows["lenet"]["path"] in lenet and f"zoo {rows['lenet']['version']}" in lenet


@pytest.mark.parametrize(("allow", "imported"), [("lenet", False), ("lenet,trusty", True), ("", False)])
def test_zoo_load_plugins_keeps_the_others_from_being_imported(plugin_site, tmp_path, allow, imported):
    mark = tmp_path / "mark"
    listed = _zoo(plugin_site, mark, "plugins", "--all", "--json", ZOO_LOAD_PLUGINS=allow)
    assert listed.returncode == 0, listed.stderr
    assert [r["name"] for r in json.loads(listed.stdout)] == [n for n in allow.split(",") if n]
    assert mark.exists() is imported
    without = _zoo(plugin_site, mark, "list")  # unset: every plugin loads, this one too
    assert without.returncode == 0 and mark.exists()
