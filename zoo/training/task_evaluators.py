"""The evaluation every model of a task gets (zoo's own, before its architecture's evaluator).

Placeholder while the per-task figures move here from ``zoo.training.report``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zoo.core.evaluation import Evaluation, TestSplit
from zoo.core.specs import ArchitectureSpec


def evaluate(spec: ArchitectureSpec, model: Any, split: TestSplit, settings: Mapping[str, Any]) -> Evaluation:
    return Evaluation()
