"""zoo: a plugin-based model zoo for Keras with ONNX export.

Plugins import ``zoo.api`` (``hookimpl`` is also here, where plugins always found it). The
packages below are layered one way: ``core`` <- ``runs`` <- ``training`` <- ``export`` <-
``bench`` <- ``cli``; none imports TensorFlow at module level.
"""

from __future__ import annotations

from zoo.core.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl"]
