"""The time limit on one run of a file in any runtime (``ZOO_RUN_TIMEOUT``), and its words."""

from __future__ import annotations

from zoo.core.settings import RUN_TIMEOUT, positive_number

DEFAULT_SECONDS = 60.0  # as the ONNX exporter's checks: a file from elsewhere may hold a Loop of 10^12


def run_limit() -> float:
    """Seconds one run may take: ``ZOO_RUN_TIMEOUT``, else 60."""
    return positive_number(RUN_TIMEOUT, DEFAULT_SECONDS)


class RunTimedOut(Exception):
    """A run stopped at the time limit."""

    def __init__(self, runtime: str, seconds: float) -> None:
        super().__init__(
            f"{runtime} stopped after {seconds:g} s, the limit on one run "
            f"(raise {RUN_TIMEOUT} for a model this slow)"
        )
