"""Which checks run for the names asked (plugins or items; none: everything installed), and
the report of running them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from zoo.checks import architecture, dataset, exporter
from zoo.checks.check import FAIL, PASS, SKIP, Check, CheckFailed, Outcome, run
from zoo.checks.subjects import ArchitectureSubject, DatasetSubject, ExporterSubject
from zoo.core.errors import UnknownNameError
from zoo.core.registry import PluginRecord, Registry

__all__ = ["Outcome", "checks", "report", "run_all", "timed"]

KINDS = ("plugin", "architecture", "dataset", "exporter")


class UnknownCheckTarget(UnknownNameError):
    kind = "plugin, architecture, dataset or exporter"


def plugin_loads(record: PluginRecord) -> str:
    if record.errors:
        raise CheckFailed(record.error or "")
    return f"registered {', '.join(record.registered) or 'nothing'}"


@dataclass
class _Subjects:
    """One subject per item and registry, so that the checks of an item (and an exporter's
    export of an architecture) share what they build."""

    registry: Registry
    made: dict[tuple[str, str], Any] = field(default_factory=dict)

    def get(self, kind: str, name: str) -> Any:
        if (kind, name) not in self.made:
            if kind == "architecture":
                self.made[kind, name] = ArchitectureSubject(self.registry, self.registry.architectures[name])
            elif kind == "dataset":
                self.made[kind, name] = DatasetSubject(self.registry, self.registry.datasets[name])
            else:
                lookup = partial(self.get, "architecture")
                self.made[kind, name] = ExporterSubject(self.registry, self.registry.exporters[name], lookup)
        return self.made[kind, name]


def _items(registry: Registry, names: Iterable[str]) -> list[tuple[str, str]]:
    """(kind, name) of everything selected, plugins first, in registry order."""
    tables: dict[str, dict[str, Any]] = {
        "architecture": registry.architectures,
        "dataset": registry.datasets,
        "exporter": registry.exporters,
    }
    plugins = {p.name: p for p in registry.plugins}
    wanted = list(dict.fromkeys(names))
    known = set(plugins) | {n for table in tables.values() for n in table}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise UnknownCheckTarget(unknown[0], known, registry.note)
    chosen_plugins = [p for p in plugins if not wanted or p in wanted]
    items = [("plugin", p) for p in chosen_plugins]
    for kind, table in tables.items():
        for name in sorted(table):
            if not wanted or name in wanted or table[name].plugin in wanted:
                items.append((kind, name))
    return items


def checks(registry: Registry, names: Iterable[str] = ()) -> list[Check]:
    """Every check of the named plugins and items (none named: of everything registered)."""
    subjects = _Subjects(registry)
    plugins = {p.name: p for p in registry.plugins}
    found: list[Check] = []
    for kind, name in _items(registry, names):
        if kind == "plugin":
            found.append(
                Check(
                    kind,
                    name,
                    "loads",
                    "imports and registers without errors",
                    partial(plugin_loads, plugins[name]),
                )
            )
            continue
        table: tuple[tuple[str, str, Callable[[Any], str | None]], ...] = {
            "architecture": architecture.CHECKS,
            "dataset": dataset.CHECKS,
            "exporter": exporter.CHECKS,
        }[kind]
        for check_name, why, function in table:
            found.append(
                Check(kind, name, check_name, why, partial(_on_subject, subjects, kind, name, function))
            )
    return found


def _on_subject(
    subjects: _Subjects, kind: str, name: str, function: Callable[[Any], str | None]
) -> str | None:
    return function(subjects.get(kind, name))


def run_all(found: list[Check], progress: Callable[[Outcome], None] | None = None) -> Iterator[Outcome]:
    """Run the checks in order, each whatever the others did."""
    from zoo.training.keras_env import import_keras

    import_keras()  # before a plugin's module imports it, so that TensorFlow starts quietly
    for check in found:
        outcome = run(check)
        if progress is not None:
            progress(outcome)
        yield outcome


def report(outcomes: list[Outcome], seconds: float) -> dict[str, Any]:
    """The JSON report: per item its checks, and whether everything passed."""
    items: dict[tuple[str, str], dict[str, Any]] = {}
    for outcome in outcomes:
        check = outcome.check
        item = items.setdefault(
            (check.kind, check.item), {"kind": check.kind, "name": check.item, "checks": [], "seconds": 0.0}
        )
        item["checks"].append(outcome.to_json())
        item["seconds"] = round(item["seconds"] + outcome.seconds, 3)
    for item in items.values():
        item["passed"] = all(c["status"] != FAIL for c in item["checks"])
    counts = {status: sum(o.status == status for o in outcomes) for status in (PASS, FAIL, SKIP)}
    return {
        "items": list(items.values()),
        "counts": counts,
        "passed": counts[FAIL] == 0,
        "seconds": round(seconds, 3),
    }


def timed(found: list[Check], progress: Callable[[Outcome], None] | None = None) -> dict[str, Any]:
    """Run the checks (``progress`` hears of each as it ends) and return the report, timed."""
    started = time.perf_counter()
    outcomes = list(run_all(found, progress))
    return report(outcomes, time.perf_counter() - started)
