"""An architecture's evaluator (ArchitectureSpec.evaluator) in a run: where what it finds lands
(metrics.json, --json, zoo runs, evaluation.json, the model card, its PNGs), that zoo evaluate
recomputes it from the model file, and that a failing one is named and never loses the run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import contract_registry, invoke, load_model, make_registry
from tests.fake_plugins import arch
from zoo import hookimpl
from zoo.api import Evaluation, TestSplit, figure
from zoo.core.specs import DatasetSpec

HERE = "tests.test_evaluations"


def judge(model, test: TestSplit, settings) -> Evaluation:
    """Measures the model's outputs, so that other weights give other figures."""
    probabilities = np.asarray(model.predict(test.x, verbose=0))
    fig = figure(3, 2)
    fig.add_subplot().plot(probabilities[:, 1])
    return Evaluation(
        metrics={
            "mean_top_probability": float(probabilities.max(axis=1).mean()),
            "seed_seen": settings["seed"],
            "per_label": {test.class_name(c): float(probabilities[:, c].mean()) for c in range(2)},
        },
        figures={"judged.png": fig},
        lines=["Judged by the tests."],
        title="judgement",
        headline="mean_top_probability",
    )


def raising(model, test, settings):
    raise ValueError("the evaluator broke")


def misnamed(model, test, settings):
    return Evaluation(metrics={"test_loss": 1.0})


def _plugin(evaluator: str):
    class Judged:
        @hookimpl
        def zoo_register_architectures(self, register):
            register(arch("judged-net", evaluator=f"{HERE}:{evaluator}", default_dataset="judged-data"))

        @hookimpl
        def zoo_register_datasets(self, register):
            register(
                DatasetSpec(
                    name="judged-data",
                    loader="tests.fake_models:load",
                    summary="16 random 8x8 images, 2 classes",
                    image_shape=(8, 8, 1),
                    num_classes=2,
                )
            )

    return Judged()


def _train(tmp_path: Path, evaluator: str):
    registry = make_registry(("judges", _plugin(evaluator)))
    out = tmp_path / "runs"
    result = invoke(
        registry, "train", "judged-net", "--dataset", "judged-data", "--epochs", "1", "--out", str(out)
    )
    return registry, result, out


def _run(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def test_an_evaluators_metrics_figures_and_lines_land_in_the_run(tmp_path):
    registry, result, out = _train(tmp_path, "judge")
    assert result.exit_code == 0, result.stderr
    run = _run(out)
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.5 <= metrics["mean_top_probability"] <= 1 and metrics["seed_seen"] == 0
    assert set(metrics["per_label"]) == {"0", "1"}
    assert (run / "judged.png").read_bytes().startswith(b"\x89PNG")
    (task, mine) = json.loads((run / "evaluation.json").read_text())["sections"]
    assert task["evaluator"] == "task:classification"
    assert mine["plugin"] == "judges" and mine["figures"] == ["judged.png"] and mine["error"] is None
    card = (run / "README.md").read_text()
    evaluation = card[card.index("## Evaluation") :]
    assert "### judgement" in evaluation and "Judged by the tests." in evaluation
    assert "![judged](judged.png)" in evaluation and "`mean_top_probability`" in evaluation
    assert "judged.png" not in card[card.index("## Plots") :]  # shown once, with its evaluation
    listed = invoke(registry, "runs", str(out))
    assert "EVALUATION" in listed.stdout and "mean_top_probability 0." in listed.stdout
    rows = json.loads(invoke(registry, "runs", str(out), "--json").stdout)
    assert rows[0]["evaluation"]["mean_top_probability"] == metrics["mean_top_probability"]


def test_the_train_json_result_holds_the_evaluators_metrics(tmp_path):
    registry = make_registry(("judges", _plugin("judge")))
    result = invoke(
        registry, "train", "judged-net", "--dataset", "judged-data", "--epochs", "1",
        "--out", str(tmp_path), "--json",
    )  # fmt: skip
    final = json.loads(result.stdout.splitlines()[-1])
    assert "mean_top_probability" in final["metrics"]


def test_evaluate_recomputes_the_figures_and_follows_the_weights(tmp_path):
    registry, _, out = _train(tmp_path, "judge")
    run = _run(out)
    again = invoke(registry, "evaluate", str(run), "--json")
    assert again.exit_code == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["evaluation"]["mean_top_probability"] == pytest.approx(
        report["evaluation_recorded"]["mean_top_probability"], rel=1e-6
    )
    assert (run / "evaluation" / "judged.png").read_bytes() == (run / "judged.png").read_bytes()

    model = load_model(run, compile=True, registry=registry)
    model.set_weights([w * 5 + 0.3 for w in model.get_weights()])
    model.save(run / "model.keras")
    changed = json.loads(invoke(registry, "evaluate", str(run), "--json").stdout)
    assert changed["evaluation"]["mean_top_probability"] != pytest.approx(
        report["evaluation"]["mean_top_probability"], rel=1e-3
    )
    assert changed["evaluation_recorded"] == report["evaluation_recorded"]  # the record stays
    assert (run / "evaluation" / "judged.png").read_bytes() != (run / "judged.png").read_bytes()
    table = invoke(registry, "evaluate", str(run), "--out", str(tmp_path / "again"))
    assert "mean_top_probability" in table.stdout and (tmp_path / "again" / "judged.png").is_file()


def test_a_raising_evaluator_is_named_and_the_run_is_kept(tmp_path):
    registry, result, out = _train(tmp_path, "raising")
    assert result.exit_code == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if "evaluation" in line]
    assert warning == [
        "zoo: warning: the evaluation of 'judged-net' failed: plugin 'judges' "
        "(tests.test_evaluations:raising): ValueError: the evaluator broke; the run is kept without it"
    ]
    run = _run(out)
    assert json.loads((run / "state.json").read_text())["status"] == "complete"
    assert "test_accuracy" in json.loads((run / "metrics.json").read_text())
    (_, mine) = json.loads((run / "evaluation.json").read_text())["sections"]
    assert "ValueError: the evaluator broke" in mine["error"]
    assert "**The evaluation failed:**" in (run / "README.md").read_text()
    again = invoke(registry, "evaluate", str(run))
    assert again.exit_code == 1 and "test_accuracy" in again.stdout  # the rest is still reported
    assert again.stderr.strip().splitlines()[-1] == (
        "zoo: error: the evaluation of 'judged-net' failed: plugin 'judges' "
        "(tests.test_evaluations:raising): ValueError: the evaluator broke"
    )


def test_an_evaluation_zoo_cannot_record_is_refused_with_the_reason(tmp_path):
    _, result, out = _train(tmp_path, "misnamed")
    assert result.exit_code == 0
    assert (
        "zoo: warning: the evaluation of 'judged-net' failed: plugin 'judges' "
        "(tests.test_evaluations:misnamed): what it returned cannot be recorded: metric name 'test_loss' "
        "starts with test_, which zoo keeps; the run is kept without it"
    ) in result.stderr
    assert "test_loss" in json.loads((_run(out) / "metrics.json").read_text())  # Keras', unchanged


def test_evaluate_will_not_replace_a_folder_of_something_else(tmp_path):
    registry, _, out = _train(tmp_path, "judge")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    result = invoke(registry, "evaluate", str(_run(out)), "--out", str(mine))
    assert result.exit_code == 2 and "holds files that are not an evaluation" in result.stderr
    assert (mine / "notes.txt").read_text() == "keep me"


def test_info_names_the_evaluator():
    registry = make_registry(("judges", _plugin("judge")))
    info = json.loads(invoke(registry, "info", "judged-net", "--json").stdout)
    assert info["evaluator"] == "tests.test_evaluations:judge"
    assert "and tests.test_evaluations:judge" in invoke(registry, "info", "judged-net").stdout
    assert json.loads(invoke(registry, "info", "lenet5", "--json").stdout)["evaluator"] is None


def test_the_names_zoo_keeps_are_those_a_run_records(tmp_path):
    """evaluators.ZOO_METRICS (what zoo plugins check refuses) is what fit.py writes besides
    test_ and train_ figures: the two cannot drift apart unseen."""
    from zoo.training.evaluators import ZOO_METRICS

    _, _, out = _train(tmp_path, "judge")
    metrics = json.loads((_run(out) / "metrics.json").read_text())
    evaluated = {
        k for s in json.loads((_run(out) / "evaluation.json").read_text())["sections"] for k in s["metrics"]
    }
    own = {k for k in metrics if not k.startswith(("test_", "train_")) and k not in evaluated}
    assert own == set(ZOO_METRICS)


def test_a_damaged_evaluation_record_hides_nothing_else(tmp_path):
    """evaluation.json is a view of the run: damaged, the run is still listed, evaluated and exported."""
    registry, _, out = _train(tmp_path, "judge")
    run = _run(out)
    (run / "evaluation.json").write_text('{"sections": 5}')
    listed = invoke(registry, "runs", str(out))
    assert (
        run.name in listed.stdout
        and "its evaluation is not shown (zoo evaluate recomputes it)" in listed.stderr
    )
    again = invoke(registry, "evaluate", str(run))
    assert again.exit_code == 0 and "mean_top_probability" in again.stdout
    assert "read from metrics.json" in again.stderr
    assert invoke(registry, "export", str(run)).exit_code == 0  # and its card is written without it
    assert "## Evaluation" not in (run / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(contract_registry().architectures))
def test_every_architectures_run_shows_its_evaluation(runs, name):
    """Built-ins and the example plugin: the task's evaluation and the architecture's own, each
    without error, with its figures in the folder and the card, its metrics in metrics.json."""
    run = runs.run(name)
    spec = runs.registry.architecture(name)
    sections = json.loads((run / "evaluation.json").read_text())["sections"]
    assert [s["evaluator"] for s in sections] == [
        f"task:{spec.task}",
        *([spec.evaluator] if spec.evaluator else []),
    ]
    assert [s["error"] for s in sections] == [None] * len(sections)
    figures = [f for s in sections for f in s["figures"]]
    assert figures and all((run / f).read_bytes().startswith(b"\x89PNG") for f in figures)
    card = (run / "README.md").read_text()
    assert "## Evaluation" in card and all(f"]({f})" in card for f in figures)
    metrics = json.loads((run / "metrics.json").read_text())
    assert {k for s in sections for k in s["metrics"]} <= set(metrics)
