"""Kept so that plugins written before ``zoo.api`` still load (``from zoo.errors import ...``);
new code imports the errors from ``zoo.api``."""

from __future__ import annotations

from zoo.core.errors import (
    DatasetUnavailable,
    DuplicateName,
    ExportValidationError,
    FolderBusy,
    InvalidHyperParameter,
    InvalidOption,
    InvalidSpec,
    ModelFileError,
    OutputExists,
    PluginError,
    ProviderUnavailable,
    RunFolderError,
    ShapeMismatch,
    TrainingInterrupted,
    UnknownArchitecture,
    UnknownDataset,
    UnknownExporter,
    UnknownNameError,
    UnsafeModelFile,
    ZooError,
)

__all__ = [
    "DatasetUnavailable",
    "DuplicateName",
    "ExportValidationError",
    "FolderBusy",
    "InvalidHyperParameter",
    "InvalidOption",
    "InvalidSpec",
    "ModelFileError",
    "OutputExists",
    "PluginError",
    "ProviderUnavailable",
    "RunFolderError",
    "ShapeMismatch",
    "TrainingInterrupted",
    "UnknownArchitecture",
    "UnknownDataset",
    "UnknownExporter",
    "UnknownNameError",
    "UnsafeModelFile",
    "ZooError",
]
