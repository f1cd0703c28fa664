"""A user's mistake on the command line is one line and exit code 2, never a traceback.

Property-based: hypothesis draws bad values for every command's options and arguments
(unknown names, wrong types, zero, negative and huge numbers, NaN and infinity, malformed
lists and KEY=VALUE pairs, out-of-range hyper-parameters, paths that are missing, unreadable
or of the wrong kind), and each must be refused before any real work starts: where TensorFlow
would start, a run folder appear, a model be converted or a benchmark be timed, the tests put
``WorkStarted``, which the CLI would report as an internal error (exit 1).

The options are read from the click commands themselves, so an option added later is covered
by its type (choice, int or float range, flag) without a change here.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import shutil
import string
import sys
import tempfile
from collections import Counter
from pathlib import Path

import click
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import invoke, make_registry
from zoo.cli import cli

REGISTRY = make_registry()
ARCHS = sorted(REGISTRY.architectures)
CASES: Counter[str] = Counter()  # generated cases per property, checked by the last test
MIN_CASES = 200


def cases(n: int) -> settings:
    """Reproducible in CI: the same examples on every run, no example database."""
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,  # the fixtures hold nothing an example changes
            HealthCheck.filter_too_much,
            HealthCheck.too_slow,
        ],
    )


class WorkStarted(Exception):
    """Raised where real work would begin; bad input must be refused before it."""


def _refuse(what: str):
    def refuse(*args, **kwargs):
        raise WorkStarted(f"{what} started: the bad input was not refused")

    return refuse


@pytest.fixture
def no_tensorflow(monkeypatch):
    """Nothing may import TensorFlow or Keras, nor time an ONNX Runtime session: every zoo module
    that can start one of them has the function that does it replaced by a refusal."""
    for name in ("zoo.bench.run", "zoo.export.orchestrate", "zoo.training.resume", "zoo.training.train"):
        importlib.import_module(name)  # and, through them, every module that can start the work
    refusals = {
        "start_tensorflow": _refuse("TensorFlow"),
        "import_keras": _refuse("Keras"),
        "time_calls": _refuse("the benchmark"),
    }
    patched = []
    for name, module in list(sys.modules.items()):
        for function, refusal in refusals.items():
            if name.startswith("zoo.") and hasattr(module, function):
                monkeypatch.setattr(module, function, refusal)
                patched.append((name, function))
    assert {f for _, f in patched} == set(refusals), patched


@pytest.fixture
def no_training(monkeypatch):
    """TensorFlow may start (to read a dataset, build a model), but no run folder may appear
    and no model be converted."""
    import zoo_onnx.convert

    import zoo.training.train

    monkeypatch.setattr(zoo.training.train.run_folder, "new_run_path", _refuse("the run"))
    monkeypatch.setattr(zoo_onnx.convert, "_convert", _refuse("the conversion"))


# -- places on disk ---------------------------------------------------------------------------

LOCKED = ("locked_dir", "locked_file.onnx", "locked_run")


def _fake_run(path: Path) -> Path:
    """A finished run folder, complete for every check made before its model is loaded."""
    path.mkdir(parents=True)
    config = {"architecture": "dense-ae", "dataset": "synthetic", "epochs": 1, "batch_size": 64}
    (path / "config.json").write_text(json.dumps(config))
    (path / "state.json").write_text(json.dumps({"status": "complete", "epochs_completed": 1, "epochs": 1}))
    (path / "model.keras").write_bytes(b"")  # never read: the sentinels stop before it
    np.savez(path / "samples.npz", x=np.zeros((4, 28, 28, 1), np.float32), y=np.zeros(4, np.int64))
    return path


def _tiny_onnx(path: Path) -> Path:
    """y = x + x over (batch, 4): a real model to benchmark, made without TensorFlow."""
    from onnx import TensorProto, helper, save

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    graph = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "tiny", [x], [y])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))
    return path


@pytest.fixture(scope="module")
def places():
    """Name -> path: missing, a file, an empty folder, a folder that is not a run, a folder
    named like a model file, a text file named .onnx, a path below a file, a name too long, a
    tiny real model, a fake run, and a folder, a file and a run no one may read (in a folder
    anyone may write in, so that only their own mode locks them)."""
    base = Path(tempfile.mkdtemp(prefix="zoo-bad-input-"))
    os.chmod(base, 0o1777)  # like /tmp: also nobody (see _unprivileged) may write in it
    paths = {
        "missing": base / "missing",
        "file": base / "file.txt",
        "empty": base / "empty",
        "not_run": base / "not-a-run",
        "dir_onnx": base / "folder.onnx",
        "text_onnx": base / "text.onnx",
        "in_file": base / "file.txt" / "below",
        "long": base / ("x" * 260),
        "model": _tiny_onnx(base / "tiny.onnx"),
        "run": _fake_run(base / "dense-ae-run"),
        **{name: base / name for name in LOCKED},
    }
    paths["file"].write_text("not what zoo wants\n")
    paths["text_onnx"].write_text("not a model\n")
    for name in ("empty", "dir_onnx", "locked_dir"):
        paths[name].mkdir()
    (paths["not_run"] / "sub").mkdir(parents=True)
    (paths["not_run"] / "notes.txt").write_text("hello\n")
    paths["locked_file.onnx"].write_bytes(paths["model"].read_bytes())
    _fake_run(paths["locked_run"])
    for name in LOCKED:
        os.chmod(paths[name], 0)
    yield paths
    for name in LOCKED:
        os.chmod(paths[name], 0o755)
    shutil.rmtree(base)


@contextlib.contextmanager
def _unprivileged(args: list[str]):
    """Root reads files of mode 000: run as nobody where an argument names a locked path."""
    if os.geteuid() != 0 or not any(name in arg for arg in args for name in LOCKED):
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


class At(str):
    """A path placeholder in a drawn command line, filled in from ``places``."""


def at(*names: str) -> st.SearchStrategy[At]:
    return st.sampled_from([At(n) for n in names])


def _argv(tokens, places) -> list[str]:
    """Fill in the placeholders; an ``(option, value)`` pair becomes ``--option=value``."""
    fill = lambda v: str(places[v]) if isinstance(v, At) else v  # noqa: E731
    return [f"{t[0]}={fill(t[1])}" if isinstance(t, tuple) else fill(t) for t in tokens]


def assert_refused(tokens, places, prop: str, naming: tuple[str, ...] = ()) -> str:
    """The property: exit 2, nothing on stdout, one ``zoo: error:`` line on stderr (naming one
    of ``naming``, if given), no traceback. Returns the line."""
    args = _argv(tokens, places)
    CASES[prop] += 1
    with _unprivileged(args):
        result = invoke(REGISTRY, *args)
    shown = f"zoo {args!r} -> exit {result.exit_code}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert result.exit_code == 2, shown
    assert type(result.exception) is SystemExit, shown
    assert "Traceback" not in result.output, shown
    assert result.stdout == "", shown
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo: error: "), shown
    if naming:
        assert any(name in lines[0] for name in naming), shown
    return lines[0]


# -- what bad values look like ----------------------------------------------------------------

ARGV_TEXT = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")  # argv has no NUL
HELP = {"--help", "--version"}


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _is_finite_float(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


NON_FINITE = ["nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1e400"]
texts = st.text(ARGV_TEXT, max_size=12)
not_ints = texts.filter(lambda s: not _is_int(s))
not_floats = texts.filter(lambda s: not _is_float(s))
non_finite = st.sampled_from(NON_FINITE)
huge_ints = st.integers(min_value=2**63, max_value=2**256).map(str)


def names_except(known) -> st.SearchStrategy[str]:
    return st.text(ARGV_TEXT, max_size=30).filter(lambda s: s not in known and s not in HELP)


def bad_values(kind: click.ParamType) -> st.SearchStrategy[str]:
    """Values a click type refuses: not a choice, not a number, out of range, NaN or infinity."""
    if isinstance(kind, click.Choice):
        fold = (lambda s: s) if kind.case_sensitive else str.casefold
        allowed = {fold(str(c)) for c in kind.choices}
        return texts.filter(lambda s: fold(s) not in allowed)
    if isinstance(kind, click.IntRange):
        out = [not_ints]
        if kind.min is not None:
            out.append(st.integers(max_value=kind.min - (0 if kind.min_open else 1)).map(str))
        if kind.max is not None:
            out += [st.integers(min_value=kind.max + (0 if kind.max_open else 1)).map(str), huge_ints]
        return st.one_of(*out)
    if isinstance(kind, click.FloatRange):
        out = [not_floats, non_finite]
        if kind.min is not None:
            out.append(st.floats(max_value=kind.min, exclude_max=not kind.min_open).map(repr))
        if kind.max is not None:
            out.append(st.floats(min_value=kind.max, exclude_min=not kind.max_open).map(repr))
        return st.one_of(*out)
    raise AssertionError(f"no bad values for {kind!r}")


# -- every typed option of every command ----------------------------------------------------

BASE = {  # arguments that are fine, so that the option drawn is the one mistake
    "": ["list"],
    "list": [],
    "info": ["lenet5"],
    "plugins": [],
    "datasets": [],
    "train": ["lenet5", ("--dataset", "synthetic")],
    "runs": [At("empty")],
    "evaluate": [At("run")],
    "export": [At("run")],
    "verify": [At("model")],
    "bench": [At("model")],
}


def _typed_options() -> list[tuple[str, click.Option]]:
    """(command, option) for every option whose type or flag-ness says what is bad."""
    found = []
    for name, command in [("", cli), *sorted(cli.commands.items())]:
        for param in command.params:
            if not isinstance(param, click.Option) or (param.callback and not param.is_flag):
                continue
            if param.is_flag or isinstance(param.type, (click.Choice, click.IntRange, click.FloatRange)):
                found.append((name, param))
    return found


TYPED = _typed_options()


def _long_name(param: click.Option) -> str:
    return next((o for o in param.opts if o.startswith("--")), param.opts[0])


def _option_tokens(command: str, option: str, value: str) -> list:
    if not command:  # the group's own options come before the command
        return [(option, value), *BASE[""]]
    return [command, *BASE[command], (option, value)]


TYPED_IDS = [f"{c or 'zoo'} {_long_name(p)}" for c, p in TYPED]


def test_the_typed_options_are_all_there():
    """A guard on the introspection: the options this file means to cover are found."""
    names = {(c, _long_name(p)) for c, p in TYPED}
    for expected in [
        ("train", "--epochs"),
        ("train", "--learning-rate"),
        ("train", "--seed"),
        ("train", "--strategy"),
        ("export", "--opset"),
        ("export", "--layout"),
        ("bench", "--seconds"),
        ("bench", "--threads"),
        ("bench", "--provider"),
        ("list", "--family"),
        ("", "--debug"),
    ]:
        assert expected in names


@pytest.mark.parametrize(("command", "param"), TYPED, ids=TYPED_IDS)
@cases(8)
@given(data=st.data())
def test_every_typed_option_refuses_a_bad_value(command, param, data, places, no_tensorflow):
    option = _long_name(param)
    # a flag takes no value at all; a choice, a number or a range refuses what is outside it
    value = data.draw(texts if param.is_flag else bad_values(param.type))
    assert_refused(_option_tokens(command, option, value), places, "options", naming=(option,))


# -- names --------------------------------------------------------------------------------------


def name_cases():
    archs, datasets, exporters = REGISTRY.architectures, REGISTRY.datasets, REGISTRY.exporters
    return st.one_of(
        names_except(archs).map(lambda n: (["info", n], "architecture")),
        names_except(archs).map(lambda n: (["train", n, ("--dataset", "synthetic")], "architecture")),
        names_except(archs).map(lambda n: (["export", n, "--untrained"], "architecture")),
        names_except(datasets).map(lambda n: (["train", "lenet5", ("--dataset", n)], "ataset")),
        st.sampled_from(["folder", "folder:", "synthetic:x", "mnist:data", ":", ""]).map(
            lambda n: (["train", "lenet5", ("--dataset", n)], "ataset")
        ),
        names_except(exporters).map(lambda n: (["export", At("run"), ("--format", n)], "exporter")),
        names_except(exporters).map(lambda n: (["verify", At("model"), ("--format", n)], "exporter")),
    )


@cases(50)
@given(case=name_cases())
def test_unknown_names_are_refused(case, places, no_tensorflow):
    tokens, kind = case
    line = assert_refused(tokens, places, "names")
    assert kind in line or "No such option" in line or "Missing argument" in line  # "-x", ""


# -- -p KEY=VALUE and the other lists ---------------------------------------------------------


def _bad_hyperparameter_values(param) -> st.SearchStrategy[str]:
    """Values ``param`` refuses; nothing where any text is valid (the builder checks those)."""
    if param.choices:
        return texts.filter(lambda s: s.strip() not in [str(c) for c in param.choices])
    if param.type is int:
        out = [not_ints.filter(lambda s: not _is_int(s.strip())), huge_ints]
        if param.minimum is not None:
            out.append(st.integers(max_value=int(param.minimum) - 1).map(str))
        if param.maximum is not None:
            out.append(st.integers(min_value=int(param.maximum) + 1).map(str))
        return st.one_of(*out)
    if param.type is float:
        out = [not_floats.filter(lambda s: not _is_finite_float(s.strip())), non_finite]
        if param.minimum is not None:
            out.append(st.floats(max_value=param.minimum, exclude_max=True).map(repr))
        if param.maximum is not None:
            out.append(st.floats(min_value=param.maximum, exclude_min=True).map(repr))
        return st.one_of(*out)
    return st.nothing()


def bad_assignments(arch: str) -> st.SearchStrategy[str]:
    """A malformed ``KEY=VALUE``, an unknown key, or a known key with a value it refuses."""
    params = {p.name: p for p in REGISTRY.architecture(arch).hyperparameters}
    malformed = st.one_of(
        texts.filter(lambda s: "=" not in s),
        texts.map(lambda v: "=" + v),
        st.text(" \t", min_size=1, max_size=3).map(lambda k: k + "=1"),
    )
    unknown = st.tuples(
        st.text(string.ascii_letters + "_", min_size=1, max_size=10).filter(lambda k: k not in params), texts
    ).map(lambda kv: f"{kv[0]}={kv[1]}")
    known = [
        _bad_hyperparameter_values(p).map(lambda v, name=name: f"{name}={v}") for name, p in params.items()
    ]
    return st.one_of(malformed, unknown, *known)


@cases(60)
@given(
    arch=st.sampled_from(ARCHS),
    command=st.sampled_from(["train", "export"]),
    data=st.data(),
)
def test_bad_hyperparameters_are_refused(arch, command, data, places, no_tensorflow):
    assignment = data.draw(bad_assignments(arch))
    where = (
        ["train", arch, ("--dataset", "synthetic")] if command == "train" else ["export", arch, "--untrained"]
    )
    assert_refused([*where, "-p", assignment], places, "hyper-parameters", naming=("yper-parameter",))


def list_cases():
    size = st.one_of(st.integers(min_value=1, max_value=512).map(str), texts.filter(lambda s: "," not in s))
    bad_sizes = (
        st.lists(size, min_size=1, max_size=5)
        .map(",".join)
        .filter(lambda v: not all(_is_int(s) and int(s) >= 1 for s in v.split(",")))
    )
    axis = (
        st.tuples(texts.filter(lambda s: "=" not in s), texts)
        .map("=".join)
        .filter(
            lambda v: not (v.partition("=")[0] and v.partition("=")[2].isdigit() and int(v.partition("=")[2]))
        )
    )
    part = st.one_of(
        st.sampled_from(["full", "encoder", "decoder", " ", ""]), texts.filter(lambda s: "," not in s)
    )
    known_parts = {"full", "encoder", "decoder"}
    bad_parts = (
        st.lists(part, max_size=5)
        .map(",".join)
        .filter(
            lambda v: (
                v != "all"
                and (
                    not [p.strip() for p in v.split(",") if p.strip()]
                    or any(p.strip() not in known_parts for p in v.split(",") if p.strip())
                )
            )
        )
    )
    return st.one_of(
        st.sampled_from(["1,,x", ",", "", "1,0", "32,-1", "1;32", "1 32"]).map(
            lambda v: (["bench", At("model"), ("--batch-sizes", v)], "--batch-sizes")
        ),
        bad_sizes.map(lambda v: (["bench", At("model"), ("--batch-sizes", v)], "--batch-sizes")),
        axis.map(lambda v: (["bench", At("model"), ("--axis", v)], "--axis")),
        st.sampled_from(["", ",", "full,,x", "encoder,features", "ALL", "all,full"]).map(
            lambda v: (["export", At("run"), ("--parts", v)], "--parts")
        ),
        bad_parts.map(lambda v: (["export", At("run"), ("--parts", v)], "--parts")),
    )


@cases(50)
@given(case=list_cases())
def test_malformed_lists_are_refused(case, places, no_tensorflow):
    tokens, option = case
    assert_refused(tokens, places, "lists", naming=(option,))


# -- paths ------------------------------------------------------------------------------------

BAD_RUN_DIRS = (
    "missing",
    "file",
    "empty",
    "not_run",
    "dir_onnx",
    "in_file",
    "long",
    "locked_dir",
    "locked_run",
)
PATH_CASES = {
    # what takes a path: the bad places for it
    ("evaluate", None): BAD_RUN_DIRS,
    ("export", None): BAD_RUN_DIRS,
    ("train", "--resume"): BAD_RUN_DIRS,
    ("bench", None): (
        "missing",
        "empty",
        "not_run",
        "dir_onnx",
        "text_onnx",
        "in_file",
        "locked_file.onnx",
        "locked_run",
    ),
    ("verify", None): (
        "missing",
        "file",
        "empty",
        "not_run",
        "dir_onnx",
        "in_file",
        "long",
        "locked_dir",
        "locked_file.onnx",
    ),
    ("runs", None): ("missing", "file", "in_file", "long", "locked_dir"),
    ("train", "--data-dir"): ("missing", "file", "in_file", "long", "locked_dir", "locked_file.onnx"),
    ("evaluate", "--data-dir"): ("missing", "file", "in_file", "long", "locked_dir"),
    ("train", "--out"): ("file", "in_file", "long", "locked_dir"),
    ("export", "--out"): ("file", "not_run", "in_file", "long", "locked_dir"),
    ("export --untrained", "--out"): ("file", "not_run", "in_file", "long", "locked_dir"),
}


def path_cases():
    def tokens(entry, place):
        (command, option) = entry
        if command == "export --untrained":
            return ["export", "dense-ae", "--untrained", (option, place)]
        if option is None:
            return [command, place]
        return [command, *([] if option == "--resume" else BASE[command]), (option, place)]

    entries = sorted(PATH_CASES, key=str)
    return st.sampled_from(entries).flatmap(
        lambda e: st.sampled_from([At(p) for p in PATH_CASES[e]]).map(lambda p: (tokens(e, p), p))
    )


@cases(70)
@given(case=path_cases())
def test_bad_paths_are_refused_naming_them(case, places, no_tensorflow):
    tokens, place = case
    path = places[place]
    # the message names the path, or (a path below a file) the file in the way
    assert_refused(tokens, places, "paths", naming=(repr(str(path)), repr(str(path.parent)), str(path)))


# -- usage ------------------------------------------------------------------------------------

KNOWN_OPTIONS = {
    o for _, command in [("", cli), *cli.commands.items()] for p in command.params for o in p.opts
}
USAGE = [
    ["train"],  # no NAME and no --resume
    ["train", "lenet5", "extra"],
    ["train", "dense-ae", ("--resume", At("run"))],
    ["train", ("--resume", At("run")), ("--dataset", "synthetic")],
    ["train", ("--resume", At("run")), "-p", "code_size=8"],
    ["train", ("--resume", At("run"))],  # finished: --epochs must go beyond what is done
    ["train", ("--resume", At("run")), "--epochs=1"],
    ["export", At("run"), "--quantize=static", "--dtype=fp16"],
    ["export", At("run"), "-p", "code_size=8"],  # a run has its own hyper-parameters
    ["bench", At("model"), "--against=keras"],  # keras needs a run folder
    ["info"],
    ["evaluate"],
    ["export"],
    ["verify"],
    ["bench"],
    ["list", "a", "b"],
    ["plugins", "x"],
    ["datasets", "x"],
    ["runs", "a", "b"],
]


def usage_cases():
    commands = sorted(cli.commands)
    return st.one_of(
        st.sampled_from(USAGE),
        st.tuples(
            st.sampled_from(commands),
            st.text(string.ascii_lowercase + "-", min_size=1, max_size=12)
            .map(lambda s: "--" + s)
            .filter(lambda s: s not in KNOWN_OPTIONS and s not in HELP),
        ).map(lambda co: [co[0], *BASE[co[0]], co[1]]),
        names_except(commands).filter(lambda s: s and not s.startswith("-")).map(lambda c: [c]),
    )


@cases(40)
@given(tokens=usage_cases())
def test_usage_mistakes_are_refused(tokens, places, no_tensorflow):
    assert_refused(tokens, places, "usage")


# -- refused once TensorFlow is up: datasets read from disk, hyper-parameters the builder checks


@pytest.fixture(scope="module")
def folders(places):
    """``folder:PATH`` datasets that cannot be used, each for its own reason."""
    base = places["empty"].parent / "folders"
    layouts = {
        "no_classes": ["readme.txt"],
        "no_images": ["cat/readme.txt", "dog/notes.md"],
        "one_per_class": ["cat/a.png", "dog/b.png"],
        "mixed": ["train/cat/a.png", "test/cat/b.png", "extra/c.png"],
        "split_mismatch": ["train/cat/a.png", "test/dog/b.png"],
    }
    for name, files in layouts.items():
        for file in files:
            (base / name / file).parent.mkdir(parents=True, exist_ok=True)
            (base / name / file).write_bytes(b"never decoded: the layout is refused first")
    return {name: base / name for name in layouts}


FOLDER_CASES = ["missing", "file", "empty", "locked_dir", "in_file", "long"]
FOLDER_CASES += ["no_classes", "no_images", "one_per_class", "mixed", "split_mismatch"]


@pytest.mark.parametrize("which", FOLDER_CASES)
@cases(2)
@given(arch=st.sampled_from(["lenet5", "dense-ae", "cnn-small"]))
def test_train_refuses_a_folder_dataset_it_cannot_use(which, arch, places, folders, no_training):
    path = folders[which] if which in folders else places[which]
    tokens = ["train", arch, ("--dataset", f"folder:{path}"), "--epochs=1", ("--out", At("missing"))]
    assert_refused(tokens, places, "folders", naming=(str(path),))


@cases(10)
@given(
    units=st.one_of(
        st.sampled_from(["1,,x", "", ",", "0", "64,0", "99999999", "-5,3", "256;64", "1.5"]),
        texts.filter(lambda s: not all(_is_int(u) and 1 <= int(u) <= 65536 for u in s.split(","))),
    )
)
def test_train_refuses_stacked_ae_units_that_are_not_layer_widths(units, places, no_training):
    tokens = ["train", "stacked-ae", ("--dataset", "synthetic"), "--epochs=1", "-p", f"units={units}"]
    assert_refused(tokens, places, "units", naming=("'units'",))


@pytest.fixture(scope="module")
def trained(runs) -> Path:
    """A real run, trained before the sentinels are in place."""
    return runs.run("dense-ae")


@cases(4)
@given(opset=st.integers(min_value=19, max_value=10**12).map(str))
def test_export_refuses_an_opset_the_exporter_cannot_write(opset, places, trained, no_training):
    tokens = ["export", str(trained), ("--opset", opset), ("--out", At("missing"))]
    assert_refused(tokens, places, "opset", naming=("--opset",))


# -- bench: paths, unbounded numbers and non-finite seconds


HUGE = str(2**64)
BENCH_CASES = [
    pytest.param(["bench", At("long")], "xxxx", id="name-too-long"),
    pytest.param(["bench", At("model"), ("--plot", At("empty"))], "--plot", id="plot-folder"),
    pytest.param(["bench", At("model"), ("--batch-sizes", HUGE)], "--batch-sizes", id="huge-batch"),
    pytest.param(["bench", At("model"), ("--threads", HUGE)], "--threads", id="huge-threads"),
]


@pytest.mark.parametrize(("tokens", "naming"), BENCH_CASES)
def test_bench_refuses_before_timing(tokens, naming, places, no_tensorflow):
    assert_refused(tokens, places, "bench", naming=(naming,))


@cases(4)
@given(value=non_finite)
def test_bench_refuses_non_finite_seconds(value, places, no_tensorflow):
    assert_refused(["bench", At("model"), ("--seconds", value)], places, "bench", naming=("--seconds",))


PROPERTIES = {
    "options",
    "names",
    "hyper-parameters",
    "lists",
    "paths",
    "usage",
    "folders",
    "units",
    "opset",
    "bench",
}


def test_every_property_ran_its_cases(request):
    """At least MIN_CASES generated cases per run, and every property contributed."""
    module = request.node.module
    tests = {n for n in dir(module) if n.startswith("test_") and n != request.node.name}
    selected = {item.originalname for item in request.session.items if item.module is module}
    if not tests <= selected:
        pytest.skip("only some of this file's tests were selected")
    assert set(CASES) == PROPERTIES, CASES
    assert sum(CASES[p] for p in PROPERTIES) >= MIN_CASES, CASES
