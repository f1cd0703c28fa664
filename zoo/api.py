"""zoo's public plugin API: everything a plugin imports from zoo, and nothing else.

A plugin package imports ``zoo`` and ``zoo.api`` only; the rest of zoo may change between
releases, this module keeps its names (an import-linter contract holds zoo's own plugins to it).
A plugin's ``__init__`` registers specs, whose builders, loaders and exporters are
``"module:attr"`` strings resolved only when used, so that ``zoo list`` stays instant::

    from zoo.api import ArchitectureSpec, HyperParameter, hookimpl

    @hookimpl
    def zoo_register_architectures(register):
        register(ArchitectureSpec(name="mlp", builder="zoo_mlp.model:build", ...))

What is here:

- ``hookimpl`` and the specs a hook registers: ``ArchitectureSpec``, ``HyperParameter``,
  ``DatasetSpec``, ``ExporterSpec``; ``Task`` and ``task`` say what a spec's task means;
- ``TestSplit`` and ``Evaluation``, what an architecture's evaluator receives and returns, and
  ``figure`` (a pyplot-free matplotlib Figure) and ``image_grid`` (rows of images) to draw its
  figures with;
- ``ExportJob``, what an exporter receives, and the export folder's names
  (``MANIFEST_FILE``, ``TEST_DATA``, ``FULL``, ``stage_file``, ``stage_test_set``,
  ``read_manifest``);
- the errors a plugin raises for the user's mistakes, each shown as one line with exit code 2:
  ``DatasetUnavailable`` (a data folder or file that is missing or wrong), ``ShapeMismatch``,
  ``InvalidHyperParameter``, ``InvalidOption``, ``ModelFileError``, ``OutputExists`` (all
  ``ZooError``); any other exception from plugin code is shown as
  ``zoo: error in plugin 'NAME' (module:attr): ...`` with exit code 1 (a bug in the plugin);
- helpers: ``load_dataset`` (a registered dataset, as its loader returns it), ``readable_folder``
  and ``segmentation_masks`` (datasets), ``check_external_data``, ``outside_reason`` and
  ``sha256_of`` (ONNX files that came from elsewhere); ``limit(VARIABLE, default)``, a limit a
  user raises through the environment (a positive number, or one ``zoo: error`` line naming it);
- ``compare``: zoo's one rule for comparing outputs (``compare.tolerance()``,
  ``compare.compare_outputs``, ``compare.passes``...), the module ``zoo verify``'s runtimes use;
- ``testsets``: reading a file's test sets (``testsets.sets_of``, ``testsets.named``,
  ``testsets.is_part_name``), as every runtime of ``zoo verify`` reads them;
- ``parametrize_with_checks``: ``zoo plugins check``'s checks as pytest tests.

The helpers that need NumPy or pytest are imported on first use, so that importing this module
(as every plugin's ``__init__`` does) costs ``zoo list`` nothing measurable.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from zoo import __version__
from zoo.core.errors import (
    DatasetUnavailable,
    ExportValidationError,
    InvalidHyperParameter,
    InvalidOption,
    InvalidSpec,
    ModelFileError,
    OutputExists,
    PluginError,
    ShapeMismatch,
    UnsafeModelFile,
    ZooError,
)
from zoo.core.evaluation import Evaluation, TestSplit
from zoo.core.hookspecs import hookimpl
from zoo.core.settings import positive_number as limit
from zoo.core.specs import ArchitectureSpec, DatasetSpec, ExporterSpec, HyperParameter
from zoo.core.tasks import Task, task
from zoo.export.job import ExportJob
from zoo.runs.exports import FULL, MANIFEST_FILE, TEST_DATA, read_manifest, stage_file, stage_test_set
from zoo.runs.onnx_trust import check_external_data, outside_reason, sha256_of

if TYPE_CHECKING:
    from zoo.checks.testing import parametrize_with_checks
    from zoo.runs.plots import figure, image_grid
    from zoo.runtimes import compare, testsets
    from zoo.training.data import load_dataset, readable_folder, segmentation_masks

_MODULES_ON_FIRST_USE = {"compare": "zoo.runtimes.compare", "testsets": "zoo.runtimes.testsets"}
_ON_FIRST_USE = {
    "load_dataset": "zoo.training.data",
    "readable_folder": "zoo.training.data",
    "segmentation_masks": "zoo.training.data",
    "parametrize_with_checks": "zoo.checks.testing",
    "figure": "zoo.runs.plots",
    "image_grid": "zoo.runs.plots",
}

__all__ = [
    "FULL",
    "MANIFEST_FILE",
    "TEST_DATA",
    "ArchitectureSpec",
    "DatasetSpec",
    "DatasetUnavailable",
    "Evaluation",
    "ExportJob",
    "ExportValidationError",
    "ExporterSpec",
    "HyperParameter",
    "InvalidHyperParameter",
    "InvalidOption",
    "InvalidSpec",
    "ModelFileError",
    "OutputExists",
    "PluginError",
    "ShapeMismatch",
    "Task",
    "TestSplit",
    "UnsafeModelFile",
    "ZooError",
    "__version__",
    "check_external_data",
    "compare",
    "figure",
    "hookimpl",
    "image_grid",
    "limit",
    "load_dataset",
    "outside_reason",
    "parametrize_with_checks",
    "read_manifest",
    "readable_folder",
    "segmentation_masks",
    "sha256_of",
    "stage_file",
    "stage_test_set",
    "task",
    "testsets",
]


def __getattr__(name: str) -> Any:
    """The helpers that need NumPy, imported when a plugin first uses one."""
    if name in _MODULES_ON_FIRST_USE:
        value = importlib.import_module(_MODULES_ON_FIRST_USE[name])
        globals()[name] = value
        return value
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module 'zoo.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
