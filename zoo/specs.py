"""Kept so that plugins written before ``zoo.api`` still load (``from zoo.specs import
ArchitectureSpec, ...`` as zoo's README showed until 0.1); new code imports ``zoo.api``."""

from __future__ import annotations

from zoo.core.specs import ArchitectureSpec, DatasetSpec, ExporterSpec, HyperParameter

__all__ = ["ArchitectureSpec", "DatasetSpec", "ExporterSpec", "HyperParameter"]
