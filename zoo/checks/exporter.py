"""The checks of an exporter: its callables, a real export (of a built-in architecture, so that
another plugin's broken model is not blamed on it) whose manifest says each file passed, and
its verifier on that export. Its spec was checked when it registered (``plugin loads``)."""

from __future__ import annotations

from collections.abc import Callable

from zoo.checks import architecture
from zoo.checks.check import CheckFailed, CheckSkipped, callables
from zoo.checks.subjects import ExporterSubject, verified


def references_resolve(subject: ExporterSubject) -> str:
    spec = subject.spec
    return callables(spec, [spec.exporter, *([spec.verifier] if spec.verifier else [])])


def exports(subject: ExporterSubject) -> str:
    arch = subject.subject()
    name = arch.spec.name
    arch.need("compose", lambda: architecture.parts_compose(arch), f"parts-compose of architecture {name}")
    result = arch.export(subject.spec.name)
    files = result.manifest["files"]
    stages = [f.get("part") for f in files]
    if stages != ["full", *arch.spec.parts]:
        raise CheckFailed(
            f"the manifest of {name}'s export holds {stages}, not the full model and every part"
        )
    missing = [f["file"] for f in files if not (result.path / f["file"]).exists()]
    if missing:
        raise CheckFailed(f"the manifest lists files the exporter did not write: {', '.join(missing)}")
    return f"{name}: {', '.join(f['file'] for f in files)}, each passed"


def verifies(subject: ExporterSubject) -> str:
    spec = subject.spec
    if not spec.verifier:
        raise CheckSkipped("the exporter offers no verifier")
    result = subject.need("export", lambda: subject.subject().export(spec.name), "export")
    return verified(spec, result.path)


CHECKS: tuple[tuple[str, str, Callable[[ExporterSubject], str | None]], ...] = (
    ("resolves", "the exporter (and verifier) import and are callable", references_resolve),
    (
        "export",
        "an export of a built-in architecture: a manifest of the full model and each part, each passed",
        exports,
    ),
    ("verify", "the verifier passes the export it made", verifies),
)
