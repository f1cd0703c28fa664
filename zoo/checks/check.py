"""One check of the plugin contract, and what running it found."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zoo.core.errors import ZooError

PASS, FAIL, SKIP = "pass", "fail", "skip"


class CheckFailed(AssertionError):
    """The plugin breaks the contract; the message says how, in one line. An AssertionError so
    that pytest shows it as a failed test."""


class CheckSkipped(Exception):
    """The check cannot run here (a dataset not downloaded, a check it needs failed); not a
    failure."""


class Blocked(CheckSkipped):
    """Skipped because a check it needs failed or was skipped (that check is named)."""


@dataclass(frozen=True)
class Check:
    """A named check of one registered item (``kind`` ``plugin``, ``architecture``, ``dataset``
    or ``exporter``). ``run`` raises ``CheckFailed`` or ``CheckSkipped``, or returns a detail for
    the table (a figure, what was tried)."""

    kind: str
    item: str
    name: str
    why: str
    run: Callable[[], str | None]

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.item}:{self.name}"

    def __call__(self) -> str | None:
        return self.run()


@dataclass(frozen=True)
class Outcome:
    check: Check
    status: str
    detail: str
    seconds: float
    error: BaseException | None = None  # what a failed check raised (pytest re-raises plugin code's)

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check.name,
            "why": self.check.why,
            "status": self.status,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
        }


MAX_DETAIL = 400  # a TensorFlow error carries its whole graph; a table cell is for reading


def said(exc: BaseException) -> str:
    """An exception in the words a plugin author reads, on one line: zoo's own errors as they
    are (they name the plugin and the callable), others with their type."""
    text = " ".join(str(exc).split())
    if not isinstance(exc, (CheckFailed, CheckSkipped, ZooError)):
        text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def hint(exc: BaseException, advice: str) -> str:
    """Advice for an exception of the plugin's own code (zoo's errors say what to do already)."""
    from zoo.core.errors import PluginCodeError

    return f" ({advice})" if isinstance(exc, PluginCodeError) else ""


def callables(spec: Any, refs: list[str]) -> str:
    """The ``"module:attr"`` references of a spec import and are callable."""
    from zoo.core.registry import owner, resolve

    for ref in refs:
        if not callable(resolve(ref, owner=owner(spec))):
            raise CheckFailed(f"{ref} is not callable")
    return ", ".join(refs)


def run(check: Check) -> Outcome:
    """Run one check; any exception it raises is its failure (a check never stops the others)."""
    started = time.perf_counter()
    error: BaseException | None = None
    try:
        detail = check.run() or ""
        status = PASS
    except CheckSkipped as exc:
        status, detail = SKIP, said(exc)
    except Exception as exc:
        status, detail, error = FAIL, said(exc), exc
    return Outcome(check, status, detail, time.perf_counter() - started, error)
