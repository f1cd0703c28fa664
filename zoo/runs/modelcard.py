"""A README.md model card for a run folder, so that a folder copied or published alone explains itself.

Everything comes from what the run folder already holds (config, metrics, history, plots and, after
an export, the ONNX manifest); every key may be missing, since older or interrupted runs lack some.
"""

from __future__ import annotations

import json
import math
import os
import shlex
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from zoo.core.errors import RunFolderError
from zoo.runs import atomic, exports
from zoo.runs.run_folder import CONFIG_FILE, EVALUATION_FILE, HISTORY_FILE, METRICS_FILE, evaluation_metrics

README_FILE = "README.md"
# Metrics shown in their own sections rather than among the results.
_SHOWN_ELSEWHERE = ("train_samples", "test_samples", "epochs_completed", "status")
MISSING = "-"


def _text(value: Any) -> str:
    """A value as people read it: short floats, yes/no, lists joined; '|' escaped for tables."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items()) or MISSING
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value) or MISSING
    return str(value).replace("|", "\\|").replace("\n", " ")


def _code(value: Any) -> str:
    return f"`{value}`" if value not in (None, "") else MISSING


def _table(header: tuple[str, str], rows: Iterable[tuple[str, Any]]) -> list[str]:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return lines if len(lines) > 2 else []


def _epochs(
    config: Mapping[str, Any], metrics: Mapping[str, Any], history: Mapping[str, Any]
) -> tuple[str, str]:
    """Epochs run, and '(of 10 asked)' when training stopped early; the history counts if nothing says."""
    asked = config.get("epochs")
    done = metrics.get("epochs_completed")
    if done is None and history:
        done = max((len(v) for v in history.values() if isinstance(v, list)), default=None)
    if done is None:
        return _text(asked), ""
    if asked is None or done == asked:
        return _text(done), ""
    return _text(done), f" (of {_text(asked)} asked)"


def _test_metrics(metrics: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The ``test_*`` measurements, without ``test_samples`` (a count, shown under Data)."""
    return [(k, v) for k, v in metrics.items() if k.startswith("test_") and k not in _SHOWN_ELSEWHERE]


def _article(word: str) -> str:
    return "an" if str(word)[:1].lower() in "aeiou" else "a"


def _summary(config: Mapping[str, Any], metrics: Mapping[str, Any], history: Mapping[str, Any]) -> str:
    family, task, dataset = config.get("family"), config.get("task"), config.get("dataset")
    what = f"{_article(task).capitalize()} {task} model" if task else "A model"
    if family and family != task:
        what += f" ({family} family)"
    if dataset:
        what += f", trained on `{dataset}`"
    if config.get("epochs") is not None or metrics.get("epochs_completed") is not None or history:
        done, asked = _epochs(config, metrics, history)
        what += f" for {done} {'epoch' if done == '1' else 'epochs'}{asked}"
    tests = [(k, v) for k, v in _test_metrics(metrics) if k != "test_loss"]
    if tests:
        what += (
            "; " + ", ".join(f"{k.removeprefix('test_')} {_text(v)}" for k, v in tests) + " on the test set"
        )
    return what + "."


def _architecture(config: Mapping[str, Any]) -> list[str]:
    plugin = _code(config.get("plugin"))
    if config.get("plugin") and config.get("plugin_version"):
        plugin += f" {_text(config['plugin_version'])}"
    shape = config.get("input_shape")
    parts = config.get("parts") or []
    rows = [
        ("architecture", _code(config.get("architecture"))),
        ("plugin", plugin),
        ("family", _text(config.get("family"))),
        ("task", _text(config.get("task"))),
        (
            "input shape",
            f"{' x '.join('any' if d is None else str(d) for d in shape)} (height x width x channels)"
            if shape
            else MISSING,
        ),
        ("parts", " → ".join(f"`{p}`" for p in parts) or MISSING),
    ]
    lines = ["## Architecture", "", *_table(("", "value"), rows)]
    if parts:
        lines += [
            "",
            "Each part is a Keras sub-model sharing the full model's weights; applied in this order "
            "they equal the full model, and each is exported as its own ONNX file.",
        ]
    params = config.get("hyperparameters") or {}
    if params:
        lines += [
            "",
            "Hyper-parameters:",
            "",
            *_table(("name", "value"), ((k, _text(v)) for k, v in params.items())),
        ]
    return lines


def _data(config: Mapping[str, Any], metrics: Mapping[str, Any]) -> list[str]:
    names = config.get("class_names") or []
    split = config.get("validation_split")
    train = _text(metrics.get("train_samples"))
    if split and metrics.get("train_samples") is not None:
        train += f" (another {split:.0%} of the training split held out for validation)"
    rows = [
        ("dataset", _code(config.get("dataset"))),
        ("classes", f"{len(names)}: {_text(names)}" if names else MISSING),
        ("training samples", train),
        ("test samples", _text(metrics.get("test_samples"))),
    ]
    lines = ["## Data", "", *_table(("", "value"), rows)]
    steps = config.get("preprocessing") or []
    if steps:
        lines += ["", "Preprocessing (apply the same to inputs of the exported model):", ""]
        lines += [f"- {_text(step)}" for step in steps]
    return lines


def _training(config: Mapping[str, Any], metrics: Mapping[str, Any], history: Mapping[str, Any]) -> list[str]:
    keys = ("batch_size", "learning_rate", "lr_schedule", "optimizer", "loss", "seed", "deterministic")
    rows = [("epochs", "".join(_epochs(config, metrics, history)))]
    rows += [(k.replace("_", " "), _text(config[k])) for k in keys if k in config]
    if "augment" in config:  # runs made before zoo had augmentation say nothing of it
        rows.append(("training augmentation", _text(config.get("augment_detail") or config["augment"])))
    status = config.get("status", metrics.get("status"))
    if status is not None:
        rows.append(("status", _text(status)))
    if config.get("created"):
        rows.append(("created", _text(config["created"])))
    return ["## Training", "", *_table(("", "value"), rows)]


def _last(values: Any) -> str:
    return _text(values[-1]) if isinstance(values, list) and values else MISSING


def _final_epoch(history: Mapping[str, Any]) -> list[str]:
    """The last epoch's training and validation figures, side by side."""
    names = [k for k in history if not k.startswith("val_")]
    names += [
        k.removeprefix("val_")
        for k in history
        if k.startswith("val_") and k.removeprefix("val_") not in names
    ]
    rows = []
    for name in names:
        train, val = _last(history.get(name)), _last(history.get(f"val_{name}"))
        if train != MISSING or val != MISSING:
            rows.append(f"| {name} | {train} | {val} |")
    if not rows:
        return []
    return ["", "Last epoch:", "", "| metric | training | validation |", "|---|---|---|", *rows]


def _results(
    metrics: Mapping[str, Any], history: Mapping[str, Any], evaluated: Collection[str] = ()
) -> list[str]:
    tests = [(f"`{k.removeprefix('test_')}`", _text(v)) for k, v in _test_metrics(metrics)]
    lines = ["## Results", ""]
    lines += _table(("test metric", "value"), tests) or ["No test metrics were recorded."]
    speed = [
        (label, _text(metrics[key]))
        for key, label in (
            ("train_seconds", "training time (s)"),
            ("train_samples_per_s", "samples per second"),
        )
        if key in metrics
    ]
    other = [
        (f"`{k}`", _text(v))
        for k, v in metrics.items()
        if not k.startswith("test_")
        and k not in _SHOWN_ELSEWHERE
        and k not in evaluated
        and k not in ("train_seconds", "train_samples_per_s")
    ]
    if speed or other:
        lines += ["", *_table(("measure", "value"), [*speed, *other])]
    return lines + _final_epoch(history)


def _image(plot: str) -> str:
    link = PurePosixPath(str(plot).replace(os.sep, "/"))
    return f"![{link.stem.replace('-', ' ')}]({str(link).replace(' ', '%20')})"


def _plots(plots: Sequence[str]) -> list[str]:
    if not plots:
        return []
    lines = ["## Plots", ""]
    for plot in plots:
        lines += [_image(plot), ""]
    return lines[:-1]


def _by(section: Mapping[str, Any]) -> str:
    evaluator, plugin = str(section.get("evaluator", "")), section.get("plugin")
    if evaluator.startswith("task:"):
        return f"zoo, for every {evaluator.removeprefix('task:')} model"
    return f"plugin `{plugin}`, `{evaluator}`" if plugin else f"`{evaluator}`"


def _per_name_table(maps: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Mappings sharing their names (per class) side by side: a row per name, a column each."""
    names = list(dict.fromkeys(name for values in maps.values() for name in values))
    lines = ["| " + " | ".join(["class", *(f"`{m}`" for m in maps)]) + " |", "|---" * (len(maps) + 1) + "|"]
    lines += ["| " + " | ".join([_text(n), *(_text(v.get(n)) for v in maps.values())]) + " |" for n in names]
    return lines


def _evaluation(sections: Sequence[Mapping[str, Any]]) -> list[str]:
    """What each evaluation found: its metrics, its own lines and its figures."""
    if not sections:
        return []
    lines = ["## Evaluation"]
    for section in sections:
        title = section.get("title") or str(section.get("evaluator", "evaluation")).removeprefix("task:")
        lines += ["", f"### {_text(title)}", "", f"By {_by(section)}."]
        if section.get("error"):
            lines += ["", f"**The evaluation failed:** {_text(section['error'])}"]
            continue
        metrics = section.get("metrics") or {}
        scalars = [(f"`{k}`", _text(v)) for k, v in metrics.items() if not isinstance(v, Mapping)]
        maps = {k: v for k, v in metrics.items() if isinstance(v, Mapping)}
        if scalars:
            lines += ["", *_table(("metric", "value"), scalars)]
        if maps:
            lines += ["", *_per_name_table(maps)]
        if section.get("lines"):
            lines += ["", *(str(line) for line in section["lines"])]
        for figure in section.get("figures") or []:
            lines += ["", _image(figure)]
    return lines


def _onnx(manifest: Mapping[str, Any] | None, stale: str | None = None, run: str = "RUN") -> list[str]:
    if not manifest:
        return []
    lines = ["## ONNX export", ""]
    if stale:  # its figures are another model's: say so, list nothing as this model's
        return [
            *lines,
            f"**Stale:** the files in `{exports.DEFAULT_EXPORTER}/` were made from an earlier model: "
            f"{_text(stale)}. Export again: `zoo export {shlex.quote(run)}`.",
        ]
    lines.append(
        f"Opset {_text(manifest.get('opset'))}, layout {_text(manifest.get('layout'))}; "
        f"files in `{exports.DEFAULT_EXPORTER}/`."
    )
    files = manifest.get("files") or []
    if files:
        lines += [
            "",
            "| part | file | bytes | max abs difference to Keras | passed |",
            "|---|---|---|---|---|",
        ]
        for f in files:
            parity = f.get("parity") or {}
            lines.append(
                f"| {_text(f.get('part'))} | `{f.get('file')}` | {_text(f.get('bytes'))} "
                f"| {_text(parity.get('max_abs_diff'))} | {_text(f.get('passed'))} |"
            )
    chain = manifest.get("chain")
    if chain:
        lines += [
            "",
            f"Parts chained ({' → '.join(chain.get('parts', []))}) against the full Keras model: "
            f"max abs difference {_text(chain.get('max_abs_diff'))}, passed: {_text(chain.get('passed'))}.",
        ]
    return lines + _runtimes(manifest.get(exports.RUNTIMES))


def _seconds_as_ms(value: Any) -> str:
    return f"{value * 1e3:.3g}" if isinstance(value, int | float) and math.isfinite(value) else MISSING


def _runtimes(matrix: Any) -> list[str]:
    """``zoo export --check-runtimes``' matrix: which runtimes take each file, at what precision."""
    rows = matrix.get("rows") if isinstance(matrix, Mapping) else None
    if not isinstance(rows, list) or not rows:
        return []
    lines = [
        "",
        "Runtimes (each file's test set against Keras' outputs, float32 asked of every runtime; "
        "`zoo verify --runtime` runs it again):",
        "",
        "| file | runtime | result | precision | max abs difference | load (ms) | first run (ms) | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        runtime = _text(row.get("runtime"))
        if row.get("device") not in (None, "CPU"):
            runtime += f" ({_text(row.get('device'))})"
        note = row.get("reason") or ""
        default = row.get("default")
        if not note and isinstance(default, Mapping) and default.get("precision"):
            verdict = "within the tolerance" if default.get("passed") else "beyond the tolerance"
            note = (
                f"at its default {default['precision']}: max abs {_text(default.get('max_abs'))}, {verdict}"
            )
        if row.get("advice"):
            note = f"{note}; {row['advice']}" if note else row["advice"]
        lines.append(
            f"| `{row.get('file')}` | {runtime} | {_text(row.get('status'))} | {_text(row.get('precision'))} "
            f"| {_text(row.get('max_abs'))} | {_seconds_as_ms(row.get('load_s'))} "
            f"| {_seconds_as_ms(row.get('first_run_s'))} | {_text(note) if note else ''} |"
        )
    return lines


def _versions(config: Mapping[str, Any]) -> list[str]:
    versions = config.get("versions") or {}
    if not versions:
        return []
    return ["## Versions", "", *_table(("package", "version"), ((k, _text(v)) for k, v in versions.items()))]


def _usage(run: str) -> list[str]:
    """Commands that work when pasted: the run path is shell-quoted, and a Python string literal."""
    model_file = json.dumps(f"{run}/model.keras")
    run = shlex.quote(run)
    return [
        "## How to use it",
        "",
        "```sh",
        "# ONNX for the full model and for each part, checked against Keras",
        f"zoo export {run}",
        "# latency and throughput in ONNX Runtime",
        f"zoo bench {run}/{exports.DEFAULT_EXPORTER}/{exports.stage_file(exports.FULL)}",
        "# the test metrics again, from the saved model",
        f"zoo evaluate {run}",
        "```",
        "",
        "In Python, with Keras:",
        "",
        "```python",
        "import keras",
        "",
        f"model = keras.saving.load_model({model_file})",
        "```",
        "",
        "Architectures with custom layers need their plugin's model module imported first, so that "
        "Keras finds the layers; the `zoo` commands do that themselves.",
    ]


def render(
    config: Mapping[str, Any],
    metrics: Mapping[str, Any],
    history: Mapping[str, Any],
    plots: Sequence[str],
    manifest: Mapping[str, Any] | None = None,
    *,
    run: str | os.PathLike[str] | None = None,
    stale: str | None = None,
    evaluation: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The model card as Markdown.

    ``plots`` are paths relative to the run folder; ``run`` is the run folder as the user names it
    in commands (its last component is the card's title); without it the commands say ``RUN``.
    ``stale`` says why the export no longer shows the run's model (``exports.stale_reason``).
    ``evaluation`` is evaluation.json's sections; their figures are shown with them, not under Plots.
    """
    config, metrics, history = config or {}, metrics or {}, history or {}
    evaluated = set(evaluation_metrics(list(evaluation)))
    figures = {name for section in evaluation for name in section.get("figures") or []}
    run_text = str(run) if run is not None else "RUN"
    name = Path(run_text).name if run is not None else None
    title = config.get("architecture") or "model"
    title = f"{title} — {name}" if name and name != title else str(title)
    sections = [
        [f"# {title}", "", _summary(config, metrics, history)],
        _architecture(config),
        _data(config, metrics),
        _training(config, metrics, history),
        _results(metrics, history, evaluated),
        _evaluation(evaluation),
        _plots([p for p in plots if PurePosixPath(str(p).replace(os.sep, "/")).name not in figures]),
        _onnx(manifest, stale, run_text),
        _versions(config),
        _usage(run_text),
    ]
    return "\n\n".join("\n".join(s) for s in sections if s) + "\n"


def _read(path: Path) -> Any:
    """A run-folder JSON file, or None where it does not exist."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RunFolderError(f"Cannot read {str(path)!r}: {exc}") from exc


def write(
    run_dir: str | os.PathLike[str],
    config: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    history: Mapping[str, Any] | None = None,
    plots: Sequence[str] | None = None,
    manifest: Mapping[str, Any] | None = None,
    *,
    run: str | os.PathLike[str] | None = None,
) -> Path:
    """Render the card and write ``run_dir/README.md`` atomically; returns its path.

    What is not handed in is read from ``run_dir`` (config, metrics, history, ``*.png``,
    ``onnx/manifest.json``; evaluation.json always), so an export can refresh the card with
    ``write(run_path)``. While the run is still being written to a temporary folder, pass ``run``
    as its final path. An export
    read from ``onnx/`` that the run's model has moved on from (a resumed run) is shown as stale.
    """
    run_dir = Path(run_dir)
    if config is None:
        config = _read(run_dir / CONFIG_FILE) or {}
    if metrics is None:
        metrics = _read(run_dir / METRICS_FILE) or {}
    if history is None:
        history = _read(run_dir / HISTORY_FILE) or {}
    if plots is None:
        names = [p.name for p in run_dir.glob("*.png") if not p.name.startswith(".")]
        plots = sorted(names, key=lambda name: (not name.startswith("history"), name))  # curves first
    stale = None
    if manifest is None:
        manifest = _read(exports.run_export(run_dir) / exports.MANIFEST_FILE)
        stale = exports.stale_reason(run_dir, exports.run_export(run_dir)) if manifest else None
    path = run_dir / README_FILE
    shown = run if run is not None else run_dir
    try:
        record = _read(run_dir / EVALUATION_FILE)
    except RunFolderError:  # a damaged view of the run: the card goes without it
        record = None
    sections = record.get("sections") if isinstance(record, dict) else None
    evaluation = [s for s in sections if isinstance(s, Mapping)] if isinstance(sections, list) else []
    text = render(config, metrics, history, plots, manifest, run=shown, stale=stale, evaluation=evaluation)
    atomic.write_text(path, text)
    return path
