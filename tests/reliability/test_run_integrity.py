"""A run folder stays what it says it is (issue 16, points 1 to 5 and 21): the data it was
trained on (a relative ``folder:`` path, classes that changed), the model an export was made
from (an export beside a resume), the folder itself (moved or deleted while training), the
architecture config.json names, enough images for the split, and names in any encoding.

Each test says what fails without its fix. Runs are tiny (``synthetic`` or a folder of 8x8
images, one or two epochs); only the locale test needs a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ZOO, invoke, make_registry, zoo_subprocess_env
from zoo.runs import exports, locks, modelcard
from zoo.runs import run_folder as runs

REGISTRY = make_registry()


def _photos(root: Path, classes: tuple[str, ...], per_class: int = 5) -> Path:
    from PIL import Image

    for k, label in enumerate(classes):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            Image.new("L", (8, 8), color=(40 * k + 9 * i) % 256).save(root / label / f"{i}.png")
    return root


def _one_line(result, code: int = 2) -> str:
    """Exit ``code``, one ``zoo: error:`` line on stderr, no traceback; the line."""
    shown = f"exit {result.exit_code}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert result.exit_code == code, shown
    assert "Traceback" not in result.output, shown
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo: error: "), shown
    return lines[0]


def _train(*args: str) -> Path:
    result = invoke(REGISTRY, "train", *args, "--quiet")
    assert result.exit_code == 0, result.stderr[-3000:]
    return Path(result.stdout.strip().splitlines()[-1])


def _lenet5_on(photos: Path, out: Path) -> tuple[str, ...]:
    """``zoo train`` arguments: one epoch of LeNet-5 on a two-class folder dataset."""
    dataset = f"folder:{photos}"
    return ("lenet5", "--dataset", dataset, "-p", "num_classes=2", "--epochs", "1", "--out", str(out))


def _dense(tmp_path: Path, epochs: int = 1) -> Path:
    out = tmp_path / "runs"
    return _train(
        "dense-ae", "--dataset", "synthetic", "--epochs", str(epochs), "--batch-size", "64", "--out", str(out)
    )


def _edit_config(run: Path, **changes) -> None:
    config = json.loads((run / runs.CONFIG_FILE).read_text(encoding="utf-8"))
    (run / runs.CONFIG_FILE).write_text(json.dumps({**config, **changes}), encoding="utf-8")


# -- 1. a relative folder: path, classes that changed ----------------------------------------


def test_a_relative_folder_path_is_recorded_absolute_and_read_from_anywhere(tmp_path, monkeypatch):
    """Fails if: `folder:photos` is stored as given, so --resume and evaluate started in
    another folder read that folder's photos/ (other classes, other images)."""
    _photos(tmp_path / "A" / "photos", ("a", "b", "c"))
    _photos(tmp_path / "B" / "photos", ("x", "y"), per_class=10)
    monkeypatch.chdir(tmp_path / "A")
    run = _train(
        "lenet5", "--dataset", "folder:photos", "-p", "num_classes=3", "--epochs", "1", "--out", "../runs"
    )
    config = json.loads((run / runs.CONFIG_FILE).read_text())
    assert config["dataset"] == f"folder:{tmp_path / 'A' / 'photos'}"
    monkeypatch.chdir(tmp_path / "B")
    _train("--resume", str(run), "--epochs", "2")
    evaluated = invoke(REGISTRY, "evaluate", str(run), "--json")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["test_samples"] == 3  # one of A's 5 per class; B holds out 4


def test_a_relative_path_of_an_older_run_and_classes_that_changed_are_refused(tmp_path, monkeypatch):
    """Fails if: an older run's relative `folder:photos` is read from wherever zoo starts, or a
    folder whose classes are no longer config.json's is evaluated, resumed or calibrated on."""
    photos = _photos(tmp_path / "photos", ("a", "b"))
    run = _train(*_lenet5_on(photos, tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    _edit_config(run, dataset="folder:photos")  # as runs were recorded before
    config = str(run / runs.CONFIG_FILE)
    for command in (["evaluate", str(run)], ["train", "--resume", str(run), "--epochs", "2"]):
        line = _one_line(invoke(REGISTRY, *command))
        assert config in line and "'folder:photos'" in line and "relative" in line, line
    _edit_config(run, dataset=f"folder:{photos}")
    (photos / "b").rename(photos / "z")  # other data under the same path
    for command in (
        ["evaluate", str(run)],
        ["train", "--resume", str(run), "--epochs", "2"],
        ["export", str(run), "--quantize", "static", "--parts", "full"],
    ):
        line = _one_line(invoke(REGISTRY, *command))
        assert "(a, z)" in line and "(a, b)" in line and config in line, line
    assert runs.Run.open(run).state["epochs_completed"] == 1
    assert not (run / "onnx-int8-static").exists() and not (run / "full-int8-static").exists()


# -- 2. an export beside a writer ------------------------------------------------------------


def test_an_export_is_refused_while_the_run_trains_and_a_resume_while_it_exports(tmp_path):
    """Fails if: `zoo export` reads a run that `--resume` is writing (a model from mid-run), or
    a resume starts while an export reads."""
    run = _dense(tmp_path)
    with locks.hold_run(run):  # what `zoo train` and `--resume` hold
        line = _one_line(invoke(REGISTRY, "export", str(run)))
    assert f"is being written by another zoo process (pid {os.getpid()})" in line and str(run) in line
    assert not (run / "onnx").exists()
    with locks.read_run(run):  # what `zoo export` holds while it reads
        line = _one_line(invoke(REGISTRY, "train", "--resume", str(run), "--epochs", "2"))
        assert f"is being read by another zoo process (pid {os.getpid()})" in line, line
        with locks.read_run(run):  # readers do not block each other
            pass
    assert not locks.run_lock(run).exists(), "the last reader removes the lock file"


def test_an_export_the_run_moved_on_from_is_shown_as_stale(tmp_path):
    """Fails if: after a resume, the model card still presents RUN/onnx as the run's export,
    and nothing records which model an export was made from."""
    run = _dense(tmp_path)
    assert invoke(REGISTRY, "export", str(run)).exit_code == 0
    manifest = json.loads((run / "onnx" / exports.MANIFEST_FILE).read_text())
    assert manifest[exports.MADE_FROM]["sha256"] == exports.sha256(run / runs.MODEL_FILE)
    assert exports.stale_reason(run, run / "onnx") is None
    assert "| full | `model.onnx` |" in (run / modelcard.README_FILE).read_text()
    _train("--resume", str(run), "--epochs", "2")
    reason = exports.stale_reason(run, run / "onnx")
    assert reason and "(made after epoch 1)" in reason
    card = (run / modelcard.README_FILE).read_text()
    assert "**Stale:**" in card and "`model.onnx`" not in card
    with pytest.raises(Exception, match="is stale"):
        exports.require_current(run, run / "onnx")
    against = invoke(REGISTRY, "bench", str(run), "--against", "keras", "--batch-sizes", "1")
    assert against.exit_code == 2 and "is stale" in against.stderr, against.output
    alone = invoke(REGISTRY, "bench", str(run), "--batch-sizes", "1", "--seconds", "0.01")
    assert alone.exit_code == 0 and "zoo: warning: the export" in alone.stderr, alone.output
    assert invoke(REGISTRY, "export", str(run)).exit_code == 0
    assert exports.stale_reason(run, run / "onnx") is None
    assert "**Stale:**" not in (run / modelcard.README_FILE).read_text()


# -- 3. the run folder moved or deleted while it trains --------------------------------------


@pytest.mark.parametrize("how", ["moved", "deleted"])
def test_a_run_folder_moved_or_deleted_while_training_is_never_recreated(how, tmp_path, monkeypatch):
    """Fails if: the writers re-create the run folder (mkdir of its path) with only the model,
    history and state, and the run ends 'complete' with exit 0."""
    write_state = runs.write_state
    moved = tmp_path / "elsewhere"

    def after_epoch_one(run_dir, status, epochs_completed, epochs, **extra):
        write_state(run_dir, status, epochs_completed, epochs, **extra)
        if status == "running" and epochs_completed == 1:
            if how == "moved":
                os.rename(run_dir, moved)
            else:
                shutil.rmtree(run_dir)

    monkeypatch.setattr(runs, "write_state", after_epoch_one)
    out = tmp_path / "runs"
    result = invoke(
        REGISTRY,
        "train",
        "dense-ae",
        "--dataset",
        "synthetic",
        "--epochs",
        "3",
        "--batch-size",
        "64",
        "--out",
        str(out),
        "--quiet",
    )
    line = _one_line(result)
    assert "was moved or deleted while zoo was writing it" in line, line
    assert not any(out.iterdir()), f"re-created: {sorted(p.name for p in out.rglob('*'))}"
    monkeypatch.setattr(runs, "write_state", write_state)
    if how == "moved":
        run = runs.Run.open(moved)
        assert run.state["status"] == "interrupted" and run.state["epochs_completed"] == 1
        assert {runs.CONFIG_FILE, runs.SAMPLES_FILE, runs.MODEL_FILE} <= {p.name for p in moved.iterdir()}
        resumed = _train("--resume", str(moved))
        assert runs.Run.open(resumed).state == {
            **runs.Run.open(resumed).state,
            "status": "complete",
            "epochs_completed": 3,
        }


# -- 4. config.json naming another architecture ----------------------------------------------


def test_a_config_naming_an_architecture_of_the_same_shapes_is_refused_and_flagged(tmp_path):
    """Fails if: a dense-ae run whose config.json is edited to name stacked-ae with units=32
    (the very same layers and weights) is resumed, evaluated, exported and listed as stacked-ae."""
    run = _dense(tmp_path)
    _edit_config(
        run,
        architecture="stacked-ae",
        hyperparameters={"units": "32", "activation": "relu", "pretrain_epochs": 0},
    )
    for command in (
        ["train", "--resume", str(run), "--epochs", "2"],
        ["evaluate", str(run)],
        ["export", str(run)],
    ):
        line = _one_line(invoke(REGISTRY, *command))
        assert str(run / runs.MODEL_FILE) in line and str(run / runs.CONFIG_FILE) in line, line
        assert "'dense-ae'" in line and "'stacked-ae'" in line, line
    listed = invoke(REGISTRY, "runs", str(run.parent))
    assert listed.exit_code == 0 and "stacked-ae?" in listed.stdout, listed.output
    assert "config.json names 'stacked-ae', model.keras was saved as 'dense-ae'" in listed.stderr
    (row,) = json.loads(invoke(REGISTRY, "runs", str(run.parent), "--json").stdout)
    assert row["conflict"] and row["architecture"] == "stacked-ae"


def test_a_model_file_from_before_the_record_is_checked_by_its_layers(tmp_path):
    """Fails if: a model.keras without zoo's record (saved by an older zoo) loads as whatever
    architecture config.json names, as long as the input shape and part names agree."""
    from tests.conftest import load_model

    run = _dense(tmp_path)
    model_file = run / runs.MODEL_FILE
    with zipfile.ZipFile(model_file) as old, zipfile.ZipFile(tmp_path / "old.keras", "w") as new:
        for item in old.infolist():
            if item.filename != runs.MODEL_RECORD:
                new.writestr(item, old.read(item))
    shutil.copyfile(tmp_path / "old.keras", model_file)
    assert runs.recorded_architecture(model_file) is None
    assert load_model(run, registry=REGISTRY) is not None  # an older run of its own architecture loads
    _edit_config(run, architecture="denoising-ae", hyperparameters={})  # same input, same parts
    line = _one_line(invoke(REGISTRY, "evaluate", str(run)))
    assert "holds weighted layers other than" in line and "'denoising-ae'" in line, line


# -- 5. too few images, links that read files twice ------------------------------------------


def test_a_folder_leaving_no_training_image_after_the_split_is_refused_before_training(tmp_path):
    """Fails if: one class of two images (one to train, one to test) trains on nothing once
    10% is held out for validation, and the run ends 'complete'."""
    photos = _photos(tmp_path / "photos", ("a",), per_class=2)
    out = tmp_path / "runs"
    line = _one_line(invoke(REGISTRY, "train", *_lenet5_on(photos, out)))
    assert line == (
        f"zoo: error: Dataset 'folder:{photos}' has 1 training image(s), too few: training needs at least 2 "
        "(10% of them are held out for validation)"
    )
    assert not out.exists() or not any(out.iterdir())


def test_the_validation_share_is_the_one_fitting_holds_out():
    from zoo.training import data, fit

    assert data.VALIDATION_SPLIT == fit.VALIDATION_SPLIT and data.minimum_training() == 2


@pytest.mark.parametrize("link", ["root", "sibling", "across splits", "across classes", "within a class"])
def test_a_file_is_read_once_whatever_links_lead_to_it(link, tmp_path):
    """Fails if: a class folder linked to the dataset folder (or to another class) reads the
    same files again, so that they land in train and test, or under two labels."""
    from zoo_datasets.folder import load_folder

    from zoo.core.errors import DatasetUnavailable

    root = tmp_path / "photos"
    if link == "across splits":
        _photos(root / "train", ("a", "b"))
        _photos(root / "test", ("a",))
        (root / "test" / "b").symlink_to(root / "train" / "b")
        expected = f"Image {str(root / 'test' / 'b' / '0.png')!r} (test/ class 'b') is the same file as"
    else:
        _photos(root, ("a", "b"))
        if link == "root":
            (root / "loop").symlink_to(root)
            expected = f"Folder {str(root / 'loop')!r} leads to {str(root)!r}, the dataset folder"
        elif link == "sibling":
            (root / "c").symlink_to(root / "a")
            expected = (
                f"Folder {str(root / 'c')!r} leads to {str(root / 'a')!r}, which {str(root / 'a')!r} reads"
            )
        elif link == "across classes":
            os.link(root / "a" / "0.png", root / "b" / "9.png")
            first = str(root / "a" / "0.png")
            expected = f"Image {str(root / 'b' / '9.png')!r} (class 'b') is the same file as {first!r}"
        else:
            (root / "a" / "9.png").symlink_to(root / "a" / "0.png")
            x_train, _, x_test, _, names = load_folder(None, (8, 8, 1), str(root))
            assert (len(x_train), len(x_test), names) == (8, 2, ("a", "b"))  # 5 files per class, not 6
            return
    with pytest.raises(DatasetUnavailable) as caught:
        load_folder(None, (8, 8, 1), str(root))
    assert str(caught.value).startswith(expected), str(caught.value)


# -- 21. names in any encoding ---------------------------------------------------------------


def test_image_names_in_any_encoding_are_read_and_class_names_must_be_utf8(tmp_path):
    """Fails if: an image named with bytes that are not UTF-8 stops the split with an internal
    error (UnicodeEncodeError), or a class folder so named becomes a label no file can hold."""
    from PIL import Image
    from zoo_datasets.folder import load_folder

    from zoo.core.errors import DatasetUnavailable

    root = tmp_path / "photos"
    _photos(root, ("a", "b"))
    for i in range(3):
        Image.new("L", (8, 8)).save(os.fsdecode(os.fsencode(root / "b") + b"/\xff%d.png" % i))
    x_train, _, x_test, _, names = load_folder(None, (8, 8, 1), str(root))
    assert len(x_train) + len(x_test) == 13 and names == ("a", "b")
    bad = Path(os.fsdecode(os.fsencode(root) + b"/d\xe9g"))
    shutil.copytree(root / "a", bad)
    with pytest.raises(DatasetUnavailable, match="has a name that is not valid UTF-8") as caught:
        load_folder(None, (8, 8, 1), str(root))
    assert repr(str(bad)) in str(caught.value)
    str(caught.value).encode("ascii")  # printable in any locale


def test_a_model_card_for_a_folder_named_in_the_os_bytes_is_written(tmp_path):
    """Fails if: a run path that reached Python as surrogate escapes (a UTF-8 name under
    LC_ALL=C) makes the model card unwritable: UnicodeEncodeError, the card dropped."""
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/r\xc3\xbcns-\xff"))
    folder.mkdir()
    path = modelcard.write(folder, {"architecture": "lenet5"}, {}, {}, [])
    text = path.read_bytes()
    assert b"r\xc3\xbcns-\xff" in text  # the folder's own bytes: the commands in it work when pasted


def test_a_non_ascii_out_under_an_ascii_locale_keeps_the_card_and_exports(tmp_path):
    """Fails if: under LC_ALL=C (no UTF-8 mode) a run in `rüns/` silently loses its model card,
    and its export commits the files and then exits 1 (UnicodeEncodeError)."""
    out = tmp_path / "rüns"
    env = zoo_subprocess_env(LC_ALL="C", LANG="C", PYTHONUTF8="0")
    env.pop("PYTHONIOENCODING", None)

    def zoo(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([ZOO, *args], capture_output=True, env=env, timeout=200)

    trained = zoo(
        "train", "dense-ae", "--dataset", "synthetic", "--epochs", "1", "--out", str(out), "--quiet"
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert b"could not write" not in trained.stderr, trained.stderr
    (run,) = out.iterdir()
    assert {"README.md", "history.png", "reconstructions.png"} <= {p.name for p in run.iterdir()}
    assert str(run).encode() in (run / "README.md").read_bytes()
    exported = zoo("export", str(run))
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert b"## ONNX export" in (run / "README.md").read_bytes()
