"""What an exporter plugin receives: ``ExportJob``.

Its own module, so that an exporter (which imports it through ``zoo.api``) never imports the
orchestration that calls it back (``zoo.export.orchestrate``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras
    import numpy as np

    from zoo.core.specs import ArchitectureSpec
    from zoo.runs.run_folder import Run
    from zoo.training.data import Arrays


@dataclass
class ExportJob:
    """Everything an exporter needs; it writes its files into ``out_dir`` (a temporary folder).

    ``run`` is the run folder (``run.config``, ``run.metrics``, ``run.samples()``); ``spec`` its
    architecture. ``parts`` are in the architecture's order: applied one after the other they
    equal ``model``. ``samples`` are real test inputs, preprocessed as in training, for
    validation. ``options``: ``opset``, ``stages`` (which of "full" and the parts to write;
    None: all), ``layout``, ``dtype``, ``quantize``, ``untrained``, as the exporter
    understands them. ``load_data()`` gives the run's dataset (for calibration and accuracy
    checks), or None when it cannot be loaded here. ``passed_on(part)`` says how many tensors a
    part hands the next (its first k outputs, k the number of inputs the next part takes).

    The exporter returns the manifest, a JSON-able dict whose ``files`` entries each carry
    ``part``, ``file``, ``passed`` and, where it failed, ``reason``; zoo writes it as
    ``manifest.json`` once every file passed.
    """

    run: Run
    spec: ArchitectureSpec
    model: keras.Model
    parts: dict[str, keras.Model]
    samples: np.ndarray
    out_dir: Path
    options: dict[str, Any] = field(default_factory=dict)
    load_data: Callable[[], Arrays | None] = lambda: None

    def passed_on(self, part: str) -> int:
        """How many tensors ``part`` hands the next part: its first k outputs, in order, where k
        is the number of inputs the next part takes (``zoo.training.models.passed_between``,
        the one statement of the rule); 0 for the last part. Outputs beyond k are extras that
        only the full model uses while training (a VAE encoder's ``log_var``)."""
        from zoo.training.models import passed_between

        names = list(self.parts)
        at = names.index(part)
        if at == len(names) - 1:
            return 0
        return passed_between(self.parts[part], self.parts[names[at + 1]])
