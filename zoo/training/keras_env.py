"""Import Keras (TensorFlow backend) quietly, once, only where a model is really needed."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from types import ModuleType

from zoo.core import settings


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: TensorFlow's C++ libraries print start-up notes
    (no CUDA driver, absl's pre-init warning) there while they load, whatever the log level."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_keras() -> ModuleType:
    """Keras on TensorFlow, its import chatter hidden unless ``ZOO_DEBUG=1`` (``zoo --debug``)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", message=".*np.object.*", category=FutureWarning)
    if "keras" in sys.modules or settings.flag(settings.DEBUG):
        import keras
    else:
        with _native_stderr_silenced():
            import keras
    return keras
