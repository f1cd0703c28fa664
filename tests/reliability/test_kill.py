"""Fault injection: SIGKILL `zoo train` and `zoo export` at random moments and check what is left.

After every kill: whatever stands at a final name is complete and valid (the model loads, the
JSON parses, state.json agrees with the history and the model, an export's manifest lists files
that exist with their sha256 and `zoo verify` passes); `zoo runs` shows the run as interrupted,
never as running; only clearly temporary dot-names are left besides. At the end every unfinished
run is resumed and must end with the weights of an uninterrupted run, and a last export must
clean what the killed ones left.

Each victim is a child of ``forkserver.py``, which imports TensorFlow once, so a kill costs the
command's own work: the kill moments are spread, uniformly and seeded, over that whole life
(model building, epochs, checkpoint writes, conversion, validation, renames), and a few more kill
the child right before or after one of its renames (``os.replace``, ``renameat2``), the commit
points.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import AUTOENCODER_RUN_FILES, PYTHON, invoke, load_model, zoo_subprocess_env
from zoo.runs import run_folder as runs
from zoo.runs import run_folder as runs_module

pytestmark = [
    pytest.mark.slow,
    # a run killed before its first epoch holds an optimizer not built yet: nothing to restore
    pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer"),
]

SEED = 20261127
RANDOM_KILLS = 20  # of each command, at random moments; the targeted ones come on top
RENAME_KILLS = 6  # of each command, right before or after one of its renames
EPOCHS, BATCH = 12, 32
STEPS = math.ceil(int(512 * 0.9) / BATCH)  # synthetic: 512 training images, 10% held out
TRAIN = ["train", "dense-ae", "--dataset", "synthetic", "--batch-size", str(BATCH), "--deterministic"]
TRAIN += ["--json"]
RUN_FILES = AUTOENCODER_RUN_FILES  # dense-ae
PNG_START, PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"
# Temporary names zoo may leave after a kill; the random part of mkstemp/mkdtemp is 8 characters.
TEMPORARY = re.compile(r"^\.[\w.+-]+\.[a-z0-9_]{8}\.(tmp(\.\w+)?|old)$|^\.([\w.+-]+\.)?lock$")


def _pattern(name: str) -> str:
    """A temporary name with its random part and its run's name starred, for the tally."""
    name = re.sub(r"-\d{8}-\d{6}(-\d+)?|(?<=new-)\d+", "*", name)
    return re.sub(r"\.[a-z0-9_]{8}\.(tmp|old)", r".*.\1", name)


class ForkServer:
    """The fork server as a subprocess: ``run`` forks one zoo command and waits for its end."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.count = 0
        self.process = subprocess.Popen(
            [PYTHON, str(Path(__file__).with_name("forkserver.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(logs / "forkserver.err", "w"),  # noqa: SIM115  (closed with the process)
            text=True,
            env=zoo_subprocess_env(OPENBLAS_NUM_THREADS="1"),
        )
        assert "ready" in json.loads(self.process.stdout.readline() or "{}"), "the fork server did not start"

    def run(self, args: list[str], cwd: Path, **kill: object) -> dict:
        self.count += 1
        log = self.logs / f"{self.count:03d}-{args[0]}.log"
        request = {"args": args, "cwd": str(cwd), "log": str(log), **kill}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        reply = json.loads(self.process.stdout.readline() or "{}")
        assert reply, f"the fork server died: {(self.logs / 'forkserver.err').read_text()[-2000:]}"
        assert not reply["timed_out"], f"zoo {' '.join(args)} hung: {log.read_text()[-2000:]}"
        reply["log"] = log
        return reply

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = ForkServer(tmp_path_factory.mktemp("forkserver"))
    yield server
    server.close()


@dataclass
class Tally:
    """What the kills did; printed at the end of each test (pytest -s shows it)."""

    kills: int = 0
    targeted: int = 0
    finished_first: int = 0  # victims that ended before their kill moment
    wrong: list[str] = field(default_factory=list)  # something wrong at a final name, per kill
    lost: int = 0  # a complete folder that was at its final name before a kill and is gone after
    marked: Counter = field(default_factory=Counter)  # status zoo runs shows after a kill
    resumed: int = 0  # resumes that ran to the end
    temporaries: set[str] = field(default_factory=set)  # the dot-names seen after a kill

    def report(self, what: str) -> str:
        return (
            f"{what}: {self.kills} kills ({self.targeted} at a rename), {self.finished_first} ended first, "
            f"{len(self.wrong)} with something wrong at a final name, {self.lost} lost, "
            f"statuses zoo runs showed after the kills {dict(self.marked)}, "
            f"{self.resumed} resumes ran to the end; "
            f"temporary names seen: {dict(Counter(_pattern(name) for name in self.temporaries))}"
        )


def _signature(folder: Path) -> tuple:
    return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir()))


def _history_rows(history: dict) -> int:
    lengths = {len(v) for v in history.values()}
    assert len(lengths) <= 1, f"history.json: lists of lengths {sorted(lengths)}"
    return lengths.pop() if lengths else 0


def check_run(path: Path) -> None:
    """Asserts that ``path`` is a complete run folder whose files agree with each other."""
    run = runs.Run.open(path)
    state = json.loads((path / runs.STATE_FILE).read_text())
    done, epochs, status = state["epochs_completed"], state["epochs"], state["status"]
    assert status in runs.STATUSES and 0 <= done <= epochs, state
    rows = _history_rows(run.history)
    csv = (path / runs.HISTORY_CSV).read_text().splitlines() if (path / runs.HISTORY_CSV).exists() else []
    assert all(len(line.split(",")) == len(csv[0].split(",")) for line in csv), "history.csv: ragged rows"
    model = load_model(path, compile=True)
    trained, rest = divmod(int(model.optimizer.iterations), STEPS)
    assert rest == 0, f"model.keras: {int(model.optimizer.iterations)} steps, not whole epochs"
    # Committed in this order: history, model, state; each may be one epoch ahead of the next.
    assert done <= trained <= done + 1, f"model.keras has {trained} epochs, state.json {done}"
    assert trained <= rows <= done + 1, f"history.json has {rows} epochs, model {trained}, state {done}"
    assert done <= max(len(csv) - 1, 0) <= done + 1, f"history.csv has {len(csv) - 1} rows, state {done}"
    if status == "complete":
        assert rows == trained == done, f"complete, yet history {rows}, model {trained}, state {done}"
        assert "test_loss" in json.loads((path / runs.METRICS_FILE).read_text()), "complete without metrics"
    elif (path / runs.METRICS_FILE).exists():
        json.loads((path / runs.METRICS_FILE).read_text())
    x, _ = run.samples()
    assert len(x) == 64
    for png in (p for p in path.glob("*.png") if not p.name.startswith(".")):
        blob = png.read_bytes()
        assert blob.startswith(PNG_START) and blob.endswith(PNG_END), f"{png.name} is cut short"
    if (path / "README.md").exists():
        assert (path / "README.md").read_text(encoding="utf-8").startswith("#")


def _inspect_folder(path: Path, known: set[str], tally: Tally) -> list[str]:
    """Names in ``path`` that are neither known final names nor clearly temporary."""
    strange = []
    for entry in path.iterdir():
        if entry.name.startswith(".") and TEMPORARY.match(entry.name):
            tally.temporaries.add(f"{path.name}/{entry.name}")
        elif entry.name not in known:
            strange.append(entry.name)
    return strange


class RunChecker:
    """Checks every run folder under ``out`` that changed since it was last checked."""

    def __init__(self, out: Path, tally: Tally, extra_names: frozenset[str] = frozenset()) -> None:
        self.out, self.tally, self.extra = out, tally, extra_names
        self.seen: dict[str, tuple] = {}

    def after_kill(self, registry, label: str) -> None:
        problems = []
        for entry in sorted(self.out.iterdir()):
            if entry.name.startswith("."):
                assert TEMPORARY.match(entry.name), f"not clearly temporary: {entry.name}"
                self.tally.temporaries.add(entry.name)
                continue
            strange = _inspect_folder(entry, RUN_FILES | self.extra, self.tally)
            if strange:
                problems.append(f"{entry.name}: unexpected {strange}")
            signature = _signature(entry)
            if self.seen.get(entry.name) == signature:
                continue
            try:
                check_run(entry)
                self.seen[entry.name] = signature
            except Exception as exc:
                problems.append(f"{entry.name}: {type(exc).__name__}: {exc}"[:300])
        listed = invoke(registry, "runs", str(self.out), "--json")
        assert listed.exit_code == 0, listed.stderr
        for row in json.loads(listed.stdout):
            self.tally.marked[row["status"]] += 1
            if row["status"] == "running":  # no zoo process is alive at this point
                problems.append(f"{row['name']}: zoo runs says 'running' after the process died")
        if problems:
            self.tally.wrong.append(f"{label}: {'; '.join(problems)}")

    def unfinished(self) -> list[Path]:
        found = []
        for entry in sorted(self.out.iterdir()):
            state = entry / runs.STATE_FILE
            if not entry.name.startswith(".") and state.exists() and _status(state) != "complete":
                found.append(entry)
        return found


def _status(state_file: Path) -> str:
    return json.loads(state_file.read_text())["status"]


def _weights(path: Path) -> list[np.ndarray]:
    return [np.asarray(w) for w in load_model(path).weights]


def test_sigkill_during_train_and_resume(server, registry, tmp_path):
    """20+ kills of `zoo train` and `zoo train --resume` on the same few runs, then resume them all."""
    rng = random.Random(SEED)
    out = tmp_path / "runs"
    started = time.perf_counter()
    reference = server.run([*TRAIN, "--epochs", str(EPOCHS), "--out", str(tmp_path / "reference")], tmp_path)
    assert reference["returncode"] == 0, reference["log"].read_text()[-3000:]
    life, renames = reference["seconds"], reference["replaces"]
    (reference_run,) = (tmp_path / "reference").iterdir()
    tally = Tally()
    checker = RunChecker(out, tally)
    out.mkdir()

    broken: set[Path] = set()  # runs a resume failed on: not tried again until the end

    def victim(**kill: object) -> None:
        unfinished = [p for p in checker.unfinished() if p not in broken]
        if unfinished and (len(unfinished) >= 3 or rng.random() < 0.7):
            args = ["train", "--resume", str(rng.choice(unfinished)), "--json"]
        else:
            args = [*TRAIN, "--epochs", str(EPOCHS), "--out", str(out)]
        reply = server.run(args, tmp_path, **kill)
        if reply["returncode"] == -9:
            tally.kills += 1
            checker.after_kill(registry, f"kill {tally.kills} ({' '.join(args[:3])}, {kill})")
        elif reply["returncode"] == 0:
            tally.finished_first += 1
            tally.resumed += args[1] == "--resume"
        else:
            assert args[1] == "--resume", reply["log"].read_text()[-3000:]
            broken.add(Path(args[2]))
            error = reply["log"].read_text().strip().splitlines()[-1:]
            tally.wrong.append(f"{' '.join(args[:3])} failed ({reply['returncode']}): {error}")

    attempts = 0
    while tally.kills < RANDOM_KILLS:
        attempts += 1
        assert attempts < 3 * RANDOM_KILLS, "the victims keep finishing before their kill"
        victim(kill_after=round(rng.uniform(0, life), 3))
    for _ in range(RENAME_KILLS):
        before = tally.kills
        victim(kill_at_replace=[rng.randint(1, renames * 2 // 3), rng.choice(["before", "after"])])
        tally.targeted += tally.kills - before

    finals = []  # each run, resumed to the end where needed, must be complete and as uninterrupted
    for path in checker.unfinished():
        reply = server.run(["train", "--resume", str(path), "--json"], tmp_path)
        tally.resumed += reply["returncode"] == 0
        if reply["returncode"] != 0:
            error = reply["log"].read_text().strip().splitlines()[-1:]
            finals.append(f"the resume of {path.name} failed ({reply['returncode']}): {error}")
    for path in sorted(p for p in out.iterdir() if not p.name.startswith(".")):
        try:
            _check_finished(path, reference_run)
        except Exception as exc:
            finals.append(f"{path.name}: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
    print("\n" + tally.report("zoo train") + f"; {len(finals)} runs wrong at the end; ", end="")
    print(f"{time.perf_counter() - started:.0f} s", *finals, sep="\n  ")
    assert not tally.wrong, "\n".join(tally.wrong)
    assert not finals, "\n".join(finals)
    assert tally.resumed >= 2, "the kills should leave runs to resume"


def _check_finished(path: Path, reference_run: Path) -> None:
    check_run(path)
    state = json.loads((path / runs.STATE_FILE).read_text())
    assert state["status"] == "complete" and state["epochs_completed"] == EPOCHS, state
    assert len(json.loads((path / runs.HISTORY_FILE).read_text())["loss"]) == EPOCHS
    for a, b in zip(_weights(reference_run), _weights(path), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5, err_msg="not the weights of an uninterrupted run")
    # A lock file outlives a killed holder (harmless: the next writer takes it over).
    leftovers = [p.name for p in path.iterdir() if p.name.startswith(".") and p.name != ".lock"]
    assert not leftovers, f"left behind: {leftovers}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_export(registry, folder: Path) -> None:
    """Asserts that ``folder`` is a complete export: manifest, files, sha256, `zoo verify`."""
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["files"], "a manifest without files"
    for entry in manifest["files"]:
        path = folder / entry["file"]
        assert path.is_file(), f"{entry['file']} is listed but missing"
        assert _sha256(path) == entry["sha256"], f"{entry['file']}: sha256 differs from the manifest"
    verified = invoke(registry, "verify", str(folder), "--json")
    assert verified.exit_code == 0 and json.loads(verified.stdout)["passed"], verified.stdout[-2000:]


def test_sigkill_during_export(server, registry, tmp_path):
    """20+ kills of `zoo export`: over an earlier export, into a new folder of the run and into
    a new folder elsewhere; then a last export over each of the run's, which must clean up."""
    rng = random.Random(SEED + 1)
    started = time.perf_counter()
    trained = server.run([*TRAIN, "--epochs", "1", "--out", str(tmp_path / "runs")], tmp_path)
    assert trained["returncode"] == 0, trained["log"].read_text()[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    elsewhere = tmp_path / "exports"
    finals = {"all": run_dir / "onnx", "encoder": run_dir / "onnx-encoder"}
    lives, renames = {}, {}
    for parts, out in (("all", finals["all"]), ("encoder", elsewhere / "first")):
        first = server.run(["export", str(run_dir), "--parts", parts, "--out", str(out)], tmp_path)
        assert first["returncode"] == 0, first["log"].read_text()[-3000:]
        lives[parts], renames[parts] = first["seconds"], first["replaces"]
        check_export(registry, out)
    tally = Tally()
    checker = RunChecker(run_dir.parent, tally, extra_names=frozenset(p.name for p in finals.values()))
    seen: dict[Path, tuple] = {}

    def victim(kill_after: float | None = None, at_rename: str | None = None) -> None:
        parts, final = rng.choice([*finals.items(), ("encoder", elsewhere / f"new-{tally.kills}")])
        existed = final.exists()
        kill = {"kill_after": round(kill_after * lives[parts], 3)} if kill_after is not None else {}
        if at_rename:
            kill = {"kill_at_replace": [rng.randint(1, renames[parts]), at_rename]}
        args = ["export", str(run_dir), "--parts", parts, "--out", str(final)]
        reply = server.run(args, tmp_path, **kill)
        if reply["returncode"] != -9:
            assert reply["returncode"] == 0, reply["log"].read_text()[-3000:]
            tally.finished_first += 1
            return
        tally.kills += 1
        label = f"kill {tally.kills} (export --parts {parts} --out {final.name}, {kill})"
        if existed and not final.exists():
            tally.lost += 1
            tally.wrong.append(f"{label}: {final.name} was complete before the kill and is gone")
        checker.after_kill(registry, label)
        strange = _inspect_folder(elsewhere, set(), tally)
        folders = [*finals.values(), *(elsewhere / name for name in strange)]
        for folder in folders:
            if folder.exists() and seen.get(folder) != (signature := _signature(folder)):
                try:
                    check_export(registry, folder)
                    seen[folder] = signature
                except Exception as exc:
                    tally.wrong.append(f"{label}: {folder.name}: {type(exc).__name__}: {exc}"[:300])

    attempts = 0
    while tally.kills < RANDOM_KILLS:
        attempts += 1
        assert attempts < 3 * RANDOM_KILLS, "the victims keep finishing before their kill"
        victim(kill_after=rng.random())
    for _ in range(RENAME_KILLS):
        before = tally.kills
        victim(at_rename=rng.choice(["before", "after"]))
        tally.targeted += tally.kills - before

    for parts, final in finals.items():  # a last export over each: complete, and it cleans up
        reply = server.run(["export", str(run_dir), "--parts", parts], tmp_path)
        assert reply["returncode"] == 0, reply["log"].read_text()[-3000:]
        check_export(registry, final)
    print("\n" + tally.report("zoo export") + f"; {time.perf_counter() - started:.0f} s")
    assert not tally.wrong, "\n".join(tally.wrong)
    leftovers = [p.name for p in run_dir.iterdir() if p.name.startswith(".")]
    assert not leftovers, f"the last exports left {leftovers}"
    check_run(run_dir)


def test_a_resume_commits_the_epoch_a_kill_left_uncommitted_first(runs, tmp_path, monkeypatch):
    """Fails if: ``--resume`` of a run killed between its model and state.json (model and history
    one epoch ahead) goes on from the model without committing that epoch, so that a second kill
    before the next state.json leaves the model two epochs ahead of it (found by the random kills)."""
    import shutil

    run = Path(shutil.copytree(runs.run("dense-ae"), tmp_path / "run"))
    assert invoke(runs.registry, "train", "--resume", str(run), "--epochs", "2", "--quiet").exit_code == 0
    state = json.loads((run / runs_module.STATE_FILE).read_text())
    state.update(status="running", epochs_completed=1)  # as a kill before state.json's rename leaves it
    (run / runs_module.STATE_FILE).write_text(json.dumps(state))
    seen: list[int] = []
    save_model = runs_module.save_model

    def save_noting_the_state(model, run_dir, *args, **kwargs):
        seen.append(json.loads((Path(run_dir) / runs_module.STATE_FILE).read_text())["epochs_completed"])
        return save_model(model, run_dir, *args, **kwargs)

    monkeypatch.setattr(runs_module, "save_model", save_noting_the_state)
    assert invoke(runs.registry, "train", "--resume", str(run), "--epochs", "3", "--quiet").exit_code == 0
    assert seen[0] == 2, f"epoch 3's model was saved while state.json still said {seen[0]}"
