"""Training people can trust: checkpoints, resume, Ctrl-C, reproducibility, schedules, progress,
the run folder's plots and card, `zoo runs`, `zoo evaluate`, `zoo datasets`, tf.distribute."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ZOO, invoke, load_model, zoo_subprocess_env
from zoo.core.errors import InvalidOption, RunFolderError
from zoo.training.resume import resume
from zoo.training.train import TrainRequest, train


def _weights(run_dir: Path) -> list[np.ndarray]:
    return [np.array(w) for w in load_model(run_dir).weights]


def _lenet(tmp_path: Path, **kw) -> TrainRequest:
    """Deterministic lenet5 on synthetic data; epoch-decay, whose rate of an epoch does not depend
    on how many are asked for, so that one epoch resumed to two is two in one go."""
    kw.setdefault("epochs", 2)
    kw.setdefault("lr_schedule", "epoch-decay")
    return TrainRequest("lenet5", dataset="synthetic", out=tmp_path, batch_size=64, deterministic=True, **kw)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """lenet5, two deterministic epochs in one go (module-wide: several tests compare with it)."""
    from tests.conftest import make_registry

    return train(make_registry(), _lenet(tmp_path_factory.mktemp("straight")), verbose=0)


def test_a_run_folder_holds_checkpoint_history_plots_and_card(straight):
    path = straight.path
    assert straight.status == "complete" and straight.epochs_completed == 2
    assert json.loads((path / "state.json").read_text())["status"] == "complete"
    history = json.loads((path / "history.json").read_text())
    assert len(history["loss"]) == len(history["val_loss"]) == 2
    assert all(s > 0 for s in history["samples_per_s"])
    csv = (path / "history.csv").read_text().splitlines()
    assert csv[0].split(",")[:2] == ["epoch", "accuracy"] and len(csv) == 3
    for png in ("history.png", "confusion_matrix.png"):
        assert (path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = (path / "README.md").read_text()
    assert "lenet5" in card and "zoo export" in card and "confusion_matrix.png" in card
    config = json.loads((path / "config.json").read_text())
    assert config["deterministic"] is True and config["seed"] == 0
    assert {"keras", "tensorflow", "numpy", "python", "zoo"} <= set(config["versions"])
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], "no temporary left"


def test_the_same_seed_deterministic_gives_the_same_weights(straight, registry, tmp_path):
    again = train(registry, _lenet(tmp_path), verbose=0)
    for a, b in zip(_weights(straight.path), _weights(again.path), strict=True):
        np.testing.assert_array_equal(a, b)
    other = train(registry, _lenet(tmp_path, seed=1, epochs=1), verbose=0)
    differ = [
        not np.array_equal(a, b) for a, b in zip(_weights(other.path), _weights(straight.path), strict=True)
    ]
    assert sum(differ) >= 8, "another seed: other initial weights and another data order"


def test_resume_continues_with_the_same_optimizer_state_and_data_order(straight, registry, tmp_path):
    """One epoch, then --resume to two, equals two epochs in one go, weight for weight."""
    first = train(registry, _lenet(tmp_path, epochs=1), verbose=0)
    model = load_model(first.path, compile=True)
    assert int(model.optimizer.iterations) == math.ceil(460 / 64)  # 512 synthetic images, 10% held out
    resumed = resume(registry, first.path, epochs=2, verbose=0)
    assert resumed.path == first.path and resumed.epochs_completed == 2
    for a, b in zip(_weights(straight.path), _weights(first.path), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    history = json.loads((first.path / "history.json").read_text())
    assert len(history["loss"]) == 2
    with pytest.raises(RunFolderError, match="2 of 2 epochs done; pass --epochs N"):
        resume(registry, first.path, verbose=0)


def test_extending_a_cosine_run_stretches_its_schedule_over_the_new_total(registry, tmp_path):
    """Cosine reaches 0 at the run's last epoch: resumed with more epochs, it is given the new
    total, so the added epochs train (at the rate a run asked for that many would have there)."""
    first = train(registry, _lenet(tmp_path, epochs=1, lr_schedule="cosine"), verbose=0)
    before = _weights(first.path)
    logged: list[str] = []
    resume(registry, first.path, epochs=4, verbose=0, log=logged.append)
    rates = json.loads((first.path / "history.json").read_text())["learning_rate"]
    # the rate at each epoch's end: 0 after the first (its own end), then the 4-epoch cosine
    assert rates[0] == 0 and rates[1] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi / 2)), rel=1e-3)
    assert rates[1] > rates[2] > rates[3] == 0
    assert any(not np.allclose(a, b) for a, b in zip(before, _weights(first.path), strict=True))
    assert "the cosine schedule now runs to 0 over 4 epochs, not 1" in logged


def test_ctrl_c_keeps_complete_epochs_and_resume_finishes(tmp_path):
    """A real `zoo train` process gets SIGINT after its first epoch, then is resumed."""
    env = zoo_subprocess_env()
    command = [ZOO, "train", "lenet5", "--dataset", "synthetic", "--epochs", "200", "--json"]
    process = subprocess.Popen(
        [*command, "--out", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        first = json.loads(process.stdout.readline())
        assert first["event"] == "epoch" and first["epoch"] == 1
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "zoo: error: interrupted:" in err and "zoo train --resume" in err
    assert "Traceback" not in err
    (run_dir,) = list(tmp_path.iterdir())
    state = json.loads((run_dir / "state.json").read_text())
    done = state["epochs_completed"]
    assert state["status"] == "interrupted" and done >= 1
    assert len(json.loads((run_dir / "history.json").read_text())["loss"]) == done
    epochs_seen = [1] + [json.loads(line)["epoch"] for line in out.splitlines() if line.strip()]
    assert epochs_seen[-1] == done, "every epoch reported as done is saved"

    resumed = subprocess.run(
        [ZOO, "train", "--resume", str(run_dir), "--epochs", str(done + 1), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    lines = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert [e["epoch"] for e in lines if e["event"] == "epoch"] == [done + 1]
    assert lines[-1]["event"] == "result" and lines[-1]["status"] == "complete"
    assert json.loads((run_dir / "state.json").read_text())["status"] == "complete"
    assert len(json.loads((run_dir / "history.json").read_text())["loss"]) == done + 1


def test_json_progress_is_one_object_per_epoch_then_the_result(registry, tmp_path):
    result = invoke(
        registry,
        "train",
        "lenet5",
        "--dataset",
        "synthetic",
        "--epochs",
        "2",
        "--json",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in lines] == ["epoch", "epoch", "result"]
    assert lines[0]["epochs"] == 2 and lines[0]["samples_per_s"] > 0 and "val_loss" in lines[0]
    assert lines[-1]["metrics"]["test_accuracy"] > 0


def test_quiet_prints_only_the_run_folder(registry, tmp_path):
    result = invoke(
        registry,
        "train",
        "lenet5",
        "--dataset",
        "synthetic",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [str(next(tmp_path.iterdir()))]


def test_learning_rate_schedules(registry, tmp_path):
    cosine = train(registry, _lenet(tmp_path, epochs=3, lr_schedule="cosine", learning_rate=0.01), verbose=0)
    rates = json.loads((cosine.path / "history.json").read_text())["learning_rate"]
    expected = [0.01 * 0.5 * (1 + math.cos(math.pi * e / 3)) for e in (1, 2, 3)]
    np.testing.assert_allclose(rates, expected, atol=1e-7)
    decay = train(
        registry, _lenet(tmp_path, epochs=2, lr_schedule="epoch-decay", learning_rate=0.01), verbose=0
    )
    rates = json.loads((decay.path / "history.json").read_text())["learning_rate"]
    np.testing.assert_allclose(rates, [0.008, 0.0064], rtol=1e-5)
    with pytest.raises(InvalidOption, match="Unknown learning-rate schedule 'linear'"):
        train(registry, _lenet(tmp_path, lr_schedule="linear"), verbose=0)


def test_plateau_halves_the_rate_and_early_stopping_keeps_the_best(registry, tmp_path):
    """A learning rate so small that nothing changes: the first epoch stays the best."""
    from zoo.training.data import load_arrays, targets
    from zoo.training.fit import VALIDATION_SPLIT

    request = _lenet(tmp_path, epochs=10, learning_rate=1e-12, lr_schedule="plateau", early_stopping=3)
    result = train(registry, request, verbose=0)
    history = json.loads((result.path / "history.json").read_text())
    assert result.status == "complete" and result.metrics["stopped_early"]
    assert result.epochs_completed == len(history["loss"]) == 1 + 3  # patience 3 after the best
    assert result.metrics["epochs_completed"] == 4
    np.testing.assert_allclose(history["learning_rate"], [1e-12, 1e-12, 5e-13, 5e-13], rtol=1e-6)
    # The saved model is the best epoch's: it scores that epoch's validation loss again.
    spec = registry.architecture("lenet5")
    arrays = load_arrays(registry, spec, "synthetic", None)
    held_out = int(len(arrays.x_train) * (1 - VALIDATION_SPLIT))
    x_val, y_val = arrays.x_train[held_out:], arrays.y_train[held_out:]
    model = load_model(result.path, compile=True)
    loss = model.evaluate(x_val, targets(spec, x_val, y_val), verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(history["val_loss"][0], rel=1e-5)


def test_runs_lists_and_evaluate_recomputes(straight, registry):
    listed = invoke(registry, "runs", str(straight.path.parent), "--json")
    assert listed.exit_code == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["architecture"] == "lenet5" and row["status"] == "complete" and row["epochs_completed"] == 2
    assert row["result"].startswith("accuracy ")
    table = invoke(registry, "runs", str(straight.path.parent))
    assert "STATUS" in table.stdout and straight.path.name in table.stdout
    evaluated = json.loads(invoke(registry, "evaluate", str(straight.path), "--json").stdout)
    for name, value in evaluated["metrics"].items():
        assert value == pytest.approx(evaluated["recorded"][name], abs=1e-6), name


def test_datasets_lists_every_registered_dataset(registry):
    rows = json.loads(invoke(registry, "datasets", "--json").stdout)
    usage = {r["name"]: r["usage"] for r in rows}
    assert usage["folder"] == "folder:PATH" and usage["mnist"] == "mnist"
    table = invoke(registry, "datasets").stdout
    assert "folder:PATH" in table and "fashion_mnist" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--resume", "nowhere"], "Run folder 'nowhere' does not exist"),
        (["train"], "Missing argument 'NAME' (or --resume RUN_DIR)"),
        (["train", "lenet5", "--strategy", "multiworker", "--dataset", "synthetic"], "needs TF_CONFIG"),
        (["train", "lenet5", "--dataset", "folder"], "Dataset 'folder': write it as folder:PATH"),
    ],
)
def test_training_mistakes_are_one_line(registry, args, message, monkeypatch, tmp_path):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    result = invoke(registry, *args, "--out", str(tmp_path)) if args[1:] else invoke(registry, *args)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_resume_refuses_new_settings(straight, registry):
    result = invoke(registry, "train", "lenet5", "--resume", str(straight.path))
    assert result.exit_code == 2 and "--resume takes the run's own settings; drop NAME" in result.stderr


MIRRORED = [ZOO, "train", "lenet5", "--dataset", "synthetic", "--epochs", "1", "--strategy", "mirrored"]


def test_mirrored_strategy_over_two_logical_cpus(tmp_path):
    """tf.distribute on one machine: the CPU split into two devices, one replica each."""
    env = zoo_subprocess_env(ZOO_CPU_DEVICES="2")
    started = time.perf_counter()
    result = subprocess.run(
        [*MIRRORED, "--json", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    final = json.loads(result.stdout.splitlines()[-1])
    assert final["status"] == "complete" and final["metrics"]["replicas"] == 2
    config = json.loads((Path(final["path"]) / "config.json").read_text())
    assert config["strategy"] == "mirrored" and config["replicas"] == 2
    assert time.perf_counter() - started < 300


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_multiworker_strategy_with_two_workers_on_this_machine(tmp_path):
    """Two `zoo train` processes form a MultiWorkerMirroredStrategy cluster through TF_CONFIG."""
    cluster = {"worker": [f"localhost:{_free_port()}", f"localhost:{_free_port()}"]}
    workers = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        command = [ZOO, "train", "lenet5", "--dataset", "synthetic", "--epochs", "2", "--batch-size", "64"]
        command += ["--strategy", "multiworker", "--json", "--out", str(tmp_path / f"worker{index}")]
        workers.append(
            subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=zoo_subprocess_env(TF_CONFIG=tf_config),
            )
        )
    try:
        outputs = [w.communicate(timeout=300) for w in workers]
    finally:
        for w in workers:
            w.kill()
    results = []
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-2000:]
        results.append(json.loads(out.splitlines()[-1]))
    assert [r["metrics"]["replicas"] for r in results] == [2, 2]
    losses = [json.loads((Path(r["path"]) / "history.json").read_text())["loss"] for r in results]
    assert losses[0] == pytest.approx(losses[1]), "the workers train one model together"


def test_evaluate_recomputes_from_the_model_file_not_the_record(straight, registry, tmp_path):
    """Fails if: ``zoo evaluate`` echoes metrics.json instead of running the model (the test above
    cannot tell: it compares recomputed with recorded values)."""
    import shutil

    import keras

    from zoo.training.data import load_arrays, targets

    run = tmp_path / straight.path.name
    shutil.copytree(straight.path, run)
    model = load_model(run, compile=True)
    dense = [layer for layer in model.get_layer("head").layers if layer.weights][-1]
    dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])  # every class equally likely
    keras.saving.save_model(model, run / "model.keras")
    evaluated = json.loads(invoke(registry, "evaluate", str(run), "--json").stdout)
    spec = registry.architecture("lenet5")
    arrays = load_arrays(registry, spec, "synthetic", None)
    direct = model.evaluate(
        arrays.x_test, targets(spec, arrays.x_test, arrays.y_test), verbose=0, return_dict=True
    )
    assert evaluated["metrics"]["test_loss"] == pytest.approx(np.log(10), rel=1e-4)  # uniform over 10 classes
    assert evaluated["metrics"]["test_loss"] == pytest.approx(direct["loss"], rel=1e-5)
    assert evaluated["metrics"]["test_loss"] != pytest.approx(evaluated["recorded"]["test_loss"], rel=1e-2)
