"""Export: ``job`` is what an exporter plugin receives; ``orchestrate`` takes a run folder
through an exporter plugin into a folder renamed into place when every check passed.

``ExportJob`` is also importable from here, as exporters written before ``zoo.api`` did; it
imports only ``job``, never the orchestration.
"""

from __future__ import annotations

from zoo.export.job import ExportJob

__all__ = ["ExportJob"]
