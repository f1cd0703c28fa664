"""A damaged or foreign file is named, with what is wrong with it, in one line: never a traceback.

Real run folders (trained and exported once per session by the ``runs`` fixture) are copied into
``tmp_path`` and damaged there: truncated, emptied, bytes flipped, replaced by a PNG, or, for
JSON, made invalid, of the wrong shape or with keys missing or of the wrong type. Each command
that reads the file must exit with 2 and name it (``zoo verify`` reports a damaged model file
as a failed check, exit 1, as documented). Datasets too: a damaged ``mnist.npz`` in
``--data-dir``, a broken image in a ``folder:PATH`` dataset; and models that are not the run's.
"""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import invoke, make_registry

REGISTRY = make_registry()


def _png() -> bytes:
    """A valid 2x2 grey PNG: the wrong format for every file it replaces here."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"\x00\x00\xff\x00\xff\x00"  # two rows: filter byte, two pixels
    header = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


PNG = _png()


def damage(path: Path, how: str) -> None:
    """Damage ``path`` in place: truncated, empty, flipped (bytes spread over it inverted), png."""
    data = path.read_bytes()
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "empty":
        data = b""
    elif how == "flipped":
        flipped = bytearray(data)
        rng = np.random.default_rng(0)
        for i in rng.choice(len(flipped), size=max(8, len(flipped) // 500), replace=False):
            flipped[i] ^= 0xFF
        data = bytes(flipped)
    elif how == "png":
        data = PNG
    else:
        raise AssertionError(how)
    path.write_bytes(data)


BINARY_DAMAGE = ["truncated", "empty", "flipped", "png"]


def assert_refused(result, file: Path) -> str:
    """Exit 2, nothing on stdout, one ``zoo: error:`` line naming ``file``, no traceback."""
    shown = f"exit {result.exit_code}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert result.exit_code == 2, shown
    assert type(result.exception) is SystemExit, shown
    assert "Traceback" not in result.output, shown
    assert result.stdout == "", shown
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo: error: "), shown
    assert str(file) in lines[0], shown
    return lines[0]


def assert_fails_verification(result, file: Path) -> str:
    """``zoo verify``'s contract: exit 1, a FAIL line for ``file`` and why, no traceback."""
    shown = f"exit {result.exit_code}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert result.exit_code == 1, shown
    assert type(result.exception) is SystemExit, shown
    assert "Traceback" not in result.output and result.stderr == "", shown
    assert f"FAIL {file}" in result.stdout and "FAILED: " in result.stdout, shown
    return result.stdout


@pytest.fixture(scope="module")
def lenet(runs) -> Path:
    return runs.run("lenet5")


@pytest.fixture(scope="module")
def dense(runs) -> Path:
    """A dense-ae run folder with its onnx/ export."""
    return runs.export("dense-ae").parent


def copy(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / run.name))


def _run_command(command: str, run: Path) -> list[str]:
    return {
        "evaluate": ["evaluate", str(run)],
        "export": ["export", str(run), "--out", str(run.parent / "export")],
        "resume": ["train", "--resume", str(run), "--epochs", "2"],
        "runs": ["runs", str(run)],
    }[command]


@pytest.fixture
def no_training(monkeypatch):
    """Nothing may be fitted or converted: a damaged file must be refused before."""
    import zoo_onnx.convert

    import zoo.training.train

    def refuse(*args, **kwargs):
        raise AssertionError("the damaged file was not refused: work started")

    monkeypatch.setattr(zoo.training.train, "fit", refuse)
    monkeypatch.setattr(zoo.training.train.run_folder, "new_run_path", refuse)
    monkeypatch.setattr(zoo_onnx.convert, "_convert", refuse)


# -- model.keras ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", BINARY_DAMAGE)
@pytest.mark.parametrize("command", ["evaluate", "export", "resume"])
def test_a_damaged_model_file_is_named(command, how, lenet, tmp_path, no_training):
    run = copy(lenet, tmp_path)
    damage(run / "model.keras", how)
    assert_refused(invoke(REGISTRY, *_run_command(command, run)), run / "model.keras")


# -- the run's JSON files and samples -------------------------------------------------------

JSON_DAMAGE = {
    "invalid": lambda obj: b'{"architecture": "lenet5",',
    "empty": lambda obj: b"",
    "png": lambda obj: PNG,
    "list": lambda obj: json.dumps([obj]).encode(),
    "deep": lambda obj: b"[" * 100_000 + b"]" * 100_000,
}


def _edit(**changes):
    def edit(obj):
        obj = {**obj, **changes}
        return json.dumps({k: v for k, v in obj.items() if v is not _DROP}).encode()

    return edit


_DROP = object()
RUN_FILE_CASES = [
    *[
        ("config.json", name, damage_, ["runs", "evaluate", "export", "resume"])
        for name, damage_ in JSON_DAMAGE.items()
    ],
    ("config.json", "no architecture", _edit(architecture=_DROP), ["runs", "evaluate", "export", "resume"]),
    ("config.json", "architecture a number", _edit(architecture=5), ["runs", "evaluate", "export", "resume"]),
    ("config.json", "no dataset", _edit(dataset=_DROP), ["evaluate", "resume"]),
    ("config.json", "epochs a string", _edit(epochs="ten"), ["runs", "resume"]),
    ("config.json", "batch_size null", _edit(batch_size=None), ["resume"]),
    ("config.json", "hyperparameters a list", _edit(hyperparameters=[1]), ["runs", "resume"]),
    *[("state.json", name, damage_, ["runs", "resume"]) for name, damage_ in JSON_DAMAGE.items()],
    ("state.json", "no status", _edit(status=_DROP), ["runs", "resume"]),
    ("state.json", "unknown status", _edit(status="sleeping"), ["runs", "resume"]),
    ("state.json", "epochs done a string", _edit(epochs_completed="1"), ["runs", "resume"]),
    ("state.json", "epochs done negative", _edit(epochs_completed=-1), ["runs", "resume"]),
    ("state.json", "epochs a float", _edit(epochs=1.5), ["runs", "resume"]),
    ("metrics.json", "invalid", JSON_DAMAGE["invalid"], ["runs"]),
    ("metrics.json", "list", JSON_DAMAGE["list"], ["runs"]),
    ("history.json", "invalid", JSON_DAMAGE["invalid"], ["resume"]),
    ("history.json", "a number per metric", lambda obj: json.dumps({k: 3 for k in obj}).encode(), ["resume"]),
]


@pytest.mark.parametrize(
    ("file", "how", "make", "command"),
    [(f, h, m, c) for f, h, m, commands in RUN_FILE_CASES for c in commands],
    ids=[f"{f}-{h}-{c}" for f, h, _, commands in RUN_FILE_CASES for c in commands],
)
def test_a_damaged_run_file_is_named(file, how, make, command, lenet, tmp_path, no_training):
    run = copy(lenet, tmp_path)
    path = run / file
    path.write_bytes(make(json.loads(path.read_text())))
    assert_refused(invoke(REGISTRY, *_run_command(command, run)), path)


@pytest.mark.parametrize("how", [*BINARY_DAMAGE, "no x", "one number", "text"])
def test_damaged_samples_are_named_by_export(how, lenet, tmp_path, no_training):
    run = copy(lenet, tmp_path)
    path = run / "samples.npz"
    if how == "no x":
        np.savez(path, y=np.zeros(4))
    elif how == "one number":
        np.savez(path, x=np.float32(1.0), y=np.zeros(1))
    elif how == "text":
        np.savez(path, x=np.array(["a", "b"]), y=np.zeros(2))
    else:
        damage(path, how)
    assert_refused(invoke(REGISTRY, *_run_command("export", run)), path)


def test_runs_lists_the_readable_runs_and_names_the_damaged(lenet, tmp_path):
    """One damaged run does not hide the others: it is named in a warning, the rest listed."""
    good = copy(lenet, tmp_path / "all")
    bad_config = Path(shutil.copytree(lenet, tmp_path / "all" / "bad-config"))
    bad_state = Path(shutil.copytree(lenet, tmp_path / "all" / "bad-state"))
    (tmp_path / "all" / "plots").mkdir()  # not a run: passed over in silence
    (bad_config / "config.json").write_bytes(PNG)
    (bad_state / "state.json").write_text("[1, 2")
    result = invoke(REGISTRY, "runs", str(tmp_path / "all"))
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert good.name in result.stdout and "bad-" not in result.stdout
    warnings = result.stderr.splitlines()
    assert len(warnings) == 2 and all(w.startswith("zoo: warning: skipped ") for w in warnings), warnings
    assert str(bad_config / "config.json") in warnings[0] and str(bad_state / "state.json") in warnings[1]


# -- exports: manifest.json and the .onnx files -------------------------------------------------

MANIFEST_DAMAGE = {
    **{k: v for k, v in JSON_DAMAGE.items() if k != "list"},
    "a list": lambda obj: json.dumps([obj]).encode(),
    "no files": lambda obj: json.dumps({k: v for k, v in obj.items() if k != "files"}).encode(),
    "files a number": lambda obj: json.dumps({**obj, "files": 3}).encode(),
    "an entry without file": lambda obj: json.dumps({**obj, "files": [{"part": "full"}]}).encode(),
    "an entry a string": lambda obj: json.dumps({**obj, "files": ["model.onnx"]}).encode(),
}


@pytest.mark.parametrize("how", sorted(MANIFEST_DAMAGE))
def test_verify_names_a_damaged_manifest(how, dense, tmp_path):
    folder = copy(dense, tmp_path) / "onnx"
    manifest = folder / "manifest.json"
    manifest.write_bytes(MANIFEST_DAMAGE[how](json.loads(manifest.read_text())))
    assert_refused(invoke(REGISTRY, "verify", str(folder)), manifest)


def test_verify_names_a_file_the_manifest_lists_but_that_is_missing(dense, tmp_path):
    folder = copy(dense, tmp_path) / "onnx"
    (folder / "encoder.onnx").unlink()
    line = assert_refused(invoke(REGISTRY, "verify", str(folder)), folder)
    assert "encoder.onnx" in line


@pytest.mark.parametrize("how", BINARY_DAMAGE)
def test_verify_fails_a_damaged_model_file_and_names_it(how, dense, tmp_path):
    folder = copy(dense, tmp_path) / "onnx"
    damage(folder / "encoder.onnx", how)
    out = assert_fails_verification(invoke(REGISTRY, "verify", str(folder)), folder / "encoder.onnx")
    assert "sha256 differs from the manifest" in out
    assert out.count("FAIL ") == 1  # the others pass


@pytest.mark.parametrize("how", BINARY_DAMAGE)
def test_verify_fails_a_damaged_file_given_alone(how, dense, tmp_path):
    """Without a manifest no sha256 protects the file: the checker and the test set judge it."""
    model = copy(dense, tmp_path) / "onnx" / "test_data" / "encoder" / "model.onnx"
    damage(model, how)
    out = assert_fails_verification(invoke(REGISTRY, "verify", str(model)), model)
    assert "no test set" not in out  # the damage is what failed it


def _swap_in(folder: Path, target: str, source: str) -> None:
    """Put ``source``'s bytes at ``target`` and fix the manifest's sha256, as someone who
    re-hashed the files would: only what the file declares can tell."""
    from zoo_onnx.verify import sha256_of

    shutil.copyfile(folder / source, folder / target)
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["files"]:
        if entry["file"] == target:
            entry["sha256"] = sha256_of(folder / target)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_verify_fails_a_file_whose_inputs_are_not_its_manifests(dense, tmp_path):
    folder = copy(dense, tmp_path) / "onnx"
    _swap_in(folder, "encoder.onnx", "decoder.onnx")
    out = assert_fails_verification(invoke(REGISTRY, "verify", str(folder)), folder / "encoder.onnx")
    assert "are not the manifest's" in out


def test_verify_fails_when_the_manifest_declares_other_inputs(dense, tmp_path):
    folder = copy(dense, tmp_path) / "onnx"
    manifest = json.loads((folder / "manifest.json").read_text())
    entry = next(e for e in manifest["files"] if e["file"] == "decoder.onnx")
    entry["inputs"][0]["shape"] = ["batch", 16]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    out = assert_fails_verification(invoke(REGISTRY, "verify", str(folder)), folder / "decoder.onnx")
    assert "are not the manifest's" in out


def test_verify_fails_a_test_set_that_does_not_fit_its_file(dense, tmp_path):
    folder = copy(dense, tmp_path) / "onnx"
    test_sets = folder / "test_data"
    shutil.copyfile(
        test_sets / "decoder" / "test_data_set_0" / "input_0.pb",
        test_sets / "encoder" / "test_data_set_0" / "input_0.pb",
    )
    model = test_sets / "encoder" / "model.onnx"
    out = assert_fails_verification(invoke(REGISTRY, "verify", str(model)), model)
    assert "test_data_set_0: cannot be run" in out


BENCH_QUICK = ["--seconds", "0", "--batch-sizes", "1"]


@pytest.mark.parametrize("how", ["truncated", "empty", "png"])
def test_bench_names_a_damaged_model_file(how, dense, tmp_path):
    model = copy(dense, tmp_path) / "onnx" / "encoder.onnx"
    damage(model, how)
    assert_refused(invoke(REGISTRY, "bench", str(model), *BENCH_QUICK), model)


@pytest.mark.parametrize("how", ["truncated", "empty", "png"])
def test_bench_of_a_run_names_its_damaged_model_file(how, dense, tmp_path):
    run = copy(dense, tmp_path)
    damage(run / "onnx" / "decoder.onnx", how)
    assert_refused(invoke(REGISTRY, "bench", str(run), *BENCH_QUICK), run / "onnx" / "decoder.onnx")


@pytest.mark.parametrize("how", sorted(MANIFEST_DAMAGE))
def test_bench_of_a_run_names_its_damaged_manifest(how, dense, tmp_path):
    run = copy(dense, tmp_path)
    manifest = run / "onnx" / "manifest.json"
    manifest.write_bytes(MANIFEST_DAMAGE[how](json.loads(manifest.read_text())))
    line = assert_refused(invoke(REGISTRY, "bench", str(run), *BENCH_QUICK), run)
    assert "onnx/manifest.json" in line


def test_bench_of_a_run_names_a_part_that_is_not_its_manifests(dense, tmp_path):
    run = copy(dense, tmp_path)
    shutil.copyfile(run / "onnx" / "decoder.onnx", run / "onnx" / "encoder.onnx")
    assert_refused(invoke(REGISTRY, "bench", str(run), *BENCH_QUICK), run / "onnx" / "encoder.onnx")


# -- datasets -----------------------------------------------------------------------------------


def _mnist_like(path: Path, **override) -> Path:
    """A small mnist.npz in Keras' layout (64 + 16 digits), with ``override`` replacing arrays."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (64, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 64),
        "x_test": rng.integers(0, 256, (16, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 16),
    }
    arrays.update(override)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


MNIST_DAMAGE = {
    **{how: {} for how in BINARY_DAMAGE},
    "no y_test": {"y_test": None},
    "labels for half the images": {"y_train": np.zeros(32, np.int64)},
    "float labels": {"y_train": np.full(64, 0.5)},
    "flat images": {"x_train": np.zeros((64, 784), np.uint8)},
    "one image": {"x_test": np.zeros((28, 28), np.uint8)},
    "text": {"x_train": np.array(["a"] * 64)},
}


@pytest.mark.parametrize("how", sorted(MNIST_DAMAGE))
def test_train_names_a_damaged_mnist_npz_in_the_data_dir(how, tmp_path, no_training):
    path = _mnist_like(tmp_path / "mnist.npz", **MNIST_DAMAGE[how])
    if how in BINARY_DAMAGE:
        damage(path, how)
    result = invoke(
        REGISTRY,
        "train",
        "lenet5",
        "--dataset",
        "mnist",
        "--data-dir",
        str(tmp_path),
        "--epochs",
        "1",
        "--out",
        str(tmp_path / "runs"),
    )
    assert_refused(result, path)


def test_evaluate_names_a_damaged_mnist_npz_in_the_data_dir(lenet, tmp_path, no_training):
    run = copy(lenet, tmp_path)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "dataset": "mnist"}))
    path = _mnist_like(tmp_path / "mnist.npz")
    damage(path, "truncated")
    assert_refused(invoke(REGISTRY, "evaluate", str(run), "--data-dir", str(tmp_path)), path)


@pytest.mark.parametrize("how", ["truncated", "empty", "flipped", "text"])  # a PNG is an image
def test_train_names_a_broken_image_in_a_folder_dataset(how, tmp_path, no_training):
    from PIL import Image

    root = tmp_path / "photos"
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (8, 8), color=40 * i).save(root / label / f"{i}.png")
    broken = root / "dog" / "1.png"
    if how == "text":
        broken.write_text("not an image\n")
    else:
        damage(broken, how)
    if how == "flipped":  # spread over 100 bytes, a flip may spare the pixels: break the header
        broken.write_bytes(b"\x00" + broken.read_bytes()[1:])
    result = invoke(
        REGISTRY,
        "train",
        "lenet5",
        "--dataset",
        f"folder:{root}",
        "-p",
        "num_classes=2",
        "--epochs",
        "1",
        "--out",
        str(tmp_path / "runs"),
    )
    assert_refused(result, broken)


# -- models that are not the run's ----------------------------------------------------------


def _set_architecture(run: Path, name: str) -> None:
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "architecture": name}))


def test_export_names_a_model_file_of_another_architecture(lenet, dense, tmp_path, no_training):
    run = copy(dense, tmp_path)
    shutil.copyfile(lenet / "model.keras", run / "model.keras")
    line = assert_refused(invoke(REGISTRY, *_run_command("export", run)), run / "model.keras")
    assert "'dense-ae'" in line


@pytest.mark.parametrize(
    ("command", "name"), [("export", "cnn-small"), ("evaluate", "dense-ae"), ("resume", "fcn")]
)
def test_a_config_naming_another_architecture_is_refused(command, name, lenet, tmp_path, no_training):
    run = copy(lenet, tmp_path)
    _set_architecture(run, name)
    line = assert_refused(invoke(REGISTRY, *_run_command(command, run)), run / "model.keras")
    assert f"'{name}'" in line and "config.json" in line


def test_resume_refuses_a_model_file_of_another_architecture(lenet, dense, tmp_path, no_training):
    run = copy(lenet, tmp_path)
    shutil.copyfile(dense / "model.keras", run / "model.keras")
    assert_refused(invoke(REGISTRY, *_run_command("resume", run)), run / "model.keras")


def test_export_names_samples_that_do_not_fit_the_model(lenet, tmp_path, no_training):
    run = copy(lenet, tmp_path)
    np.savez(run / "samples.npz", x=np.zeros((4, 28, 28, 1), np.float32), y=np.zeros(4, np.int64))
    assert_refused(invoke(REGISTRY, *_run_command("export", run)), run / "samples.npz")
