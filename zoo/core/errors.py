"""One exception type per kind of failure a user can cause or meet.

The CLI prints a ``ZooError`` as one line on stderr and exits with its ``exit_code``
(2 for the user's mistakes); any other exception is an internal failure (exit 1).
"""

from __future__ import annotations

import errno
from collections.abc import Iterable


def _names(available: Iterable[str]) -> str:
    names = sorted(available)
    return ", ".join(names) if names else "(none)"


# What the system refuses for a reason the user can fix (space, quota, permissions, a read-only
# mount, a file-size limit): the user's to act on, one line naming the path, exit code 2; never an
# internal error, nor a plugin's bug when plugin code meets it.
USER_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG})


class ZooError(Exception):
    """Base class: a failure the user can act on, shown without a traceback."""

    exit_code = 2


class UnknownNameError(ZooError):
    """A name that is not registered; the message lists what is."""

    kind = "name"

    def __init__(self, name: str, available: Iterable[str], note: str = "") -> None:
        self.name = name
        self.available = sorted(available)
        said = f"Unknown {self.kind} {name!r}. Available: {_names(self.available)}"
        super().__init__(f"{said} ({note})" if note else said)


class UnknownArchitecture(UnknownNameError):
    kind = "architecture"


class UnknownDataset(UnknownNameError):
    kind = "dataset"


class UnknownExporter(UnknownNameError):
    kind = "exporter"


class DuplicateName(ZooError):
    """Two plugins registered the same name; the second is refused."""


class InvalidSpec(ZooError):
    """A plugin registered something malformed (caught and recorded by the host)."""


class InvalidHyperParameter(ZooError):
    """A hyper-parameter that is unknown, of the wrong type or out of range."""


class DatasetUnavailable(ZooError):
    """A dataset that cannot be found locally nor downloaded."""


class ShapeMismatch(ZooError):
    """A dataset whose images do not fit an architecture's input."""


class RunFolderError(ZooError):
    """A path that is not a (complete) run folder."""


class InvalidOption(ZooError):
    """An option or environment variable whose value cannot be used."""


class TrainingInterrupted(ZooError):
    """Training stopped on request (Ctrl-C) after saving its last complete epoch."""

    exit_code = 130


class OutputExists(ZooError):
    """An output path that is taken by something zoo must not overwrite."""


class FolderBusy(ZooError):
    """A run or output folder that another zoo process is writing now (``zoo.runs.locks``)."""


class ModelFileError(ZooError):
    """A model file that is missing, unreadable or not what it claims to be."""


class UnsafeModelFile(ModelFileError):
    """A model file that would run its own code, or read files outside its folder, if loaded;
    refused before any loader touches it."""


class ProviderUnavailable(ZooError):
    """An ONNX Runtime execution provider that was asked for but cannot run here."""


class ExportValidationError(ZooError):
    """An exported file that failed its checks; nothing is left at the final path."""

    exit_code = 1


class EvaluationFailed(ZooError):
    """An evaluation of a run could not be made or recorded (an evaluator that raised, or
    returned what zoo cannot record); what the others found was reported before."""

    exit_code = 1


class PluginError(ZooError):
    """A plugin that does not keep the contract (a builder that cannot be found, say)."""

    exit_code = 1


class PluginCodeError(PluginError):
    """Plugin code (a builder, loader, pretrainer, exporter or verifier) raised an exception that
    is not a ``ZooError``: a bug in that plugin, named with the callable, rather than in zoo
    (an internal error) or in the user's input (exit code 2)."""

    def __init__(self, plugin: str, ref: str, error: BaseException) -> None:
        self.plugin, self.ref, self.error = plugin, ref, error
        super().__init__(f"error in plugin {plugin!r} ({ref}): {type(error).__name__}: {error}")
