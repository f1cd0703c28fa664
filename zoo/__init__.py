"""zoo: a plugin-based model zoo for Keras with ONNX export.

The core imports no TensorFlow at module level; see ``zoo.cli`` for the commands. Plugins
import ``hookimpl`` from here.
"""

from __future__ import annotations

from zoo.core.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl"]
