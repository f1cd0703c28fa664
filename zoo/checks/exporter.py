"""The checks of an exporter: its spec, its callables, a real export whose manifest says each
file passed, and its verifier on that export."""

from __future__ import annotations

from collections.abc import Callable

from zoo.checks.check import CheckFailed, CheckSkipped
from zoo.checks.subjects import ExporterSubject
from zoo.core.registry import call, owner, resolve


def spec_is_valid(subject: ExporterSubject) -> str:
    problems = subject.spec.problems()
    if problems:
        raise CheckFailed("; ".join(problems))
    return subject.spec.summary


def references_resolve(subject: ExporterSubject) -> str:
    spec = subject.spec
    refs = [spec.exporter, *([spec.verifier] if spec.verifier else [])]
    for ref in refs:
        if not callable(resolve(ref, owner=owner(spec))):
            raise CheckFailed(f"{ref} is not callable")
    return ", ".join(refs)


def exports(subject: ExporterSubject) -> str:
    architecture = subject.subject()
    result = architecture.export(subject.spec.name)
    files = result.manifest["files"]
    missing = [f["file"] for f in files if not (result.path / f["file"]).exists()]
    if missing:
        raise CheckFailed(f"the manifest lists files the exporter did not write: {', '.join(missing)}")
    return f"{architecture.spec.name}: {', '.join(f['file'] for f in files)}, each passed"


def verifies(subject: ExporterSubject) -> str:
    spec = subject.spec
    if not spec.verifier:
        raise CheckSkipped("the exporter offers no verifier")
    result = subject.need("export", lambda: subject.subject().export(spec.name), "export")
    report = call(spec, spec.verifier, str(result.path), reference=False)
    if not isinstance(report, dict) or "passed" not in report:
        raise CheckFailed(f"{spec.verifier} returned {type(report).__name__}, not a dict with 'passed'")
    if not report["passed"]:
        failed = [f["file"] for f in report.get("files", []) if not f.get("passed")]
        raise CheckFailed(f"its own verifier fails the export it made: {', '.join(failed) or 'no reason'}")
    return f"{len(report.get('files', []))} files verified"


CHECKS: tuple[tuple[str, str, Callable[[ExporterSubject], str | None]], ...] = (
    ("spec", "the spec is valid", spec_is_valid),
    ("resolves", "the exporter (and verifier) import and are callable", references_resolve),
    ("export", "an export of a registered architecture: a manifest whose files each passed", exports),
    ("verify", "the verifier passes the export it made", verifies),
)
