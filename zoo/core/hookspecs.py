"""The hooks a zoo plugin can implement.

Each hook receives ``register``, a callback owned by the plugin host: the host records which
plugin registered what, refuses duplicate names and specs with problems (``spec.problems()``:
a default outside its own range, a name with a space, ...; the reason is shown by ``zoo
plugins`` and the plugin's other specs still load), and keeps one broken plugin from breaking
the others. A plugin module implements hooks with ``zoo.hookimpl``::

    from zoo.api import ArchitectureSpec, hookimpl

    @hookimpl
    def zoo_register_architectures(register):
        register(ArchitectureSpec(name="my-net", builder="my_pkg.model:build", ...))
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from zoo.core.specs import ArchitectureSpec, DatasetSpec, ExporterSpec

PROJECT = "zoo"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def zoo_register_architectures(register: Callable[[ArchitectureSpec], None]) -> None:
    """Register architectures: call ``register(ArchitectureSpec(...))`` once per model.

    The spec's ``builder`` is a ``"module:attr"`` string resolved only when the model is built,
    so this hook must not import Keras or TensorFlow.
    """


@hookspec
def zoo_register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register datasets: call ``register(DatasetSpec(...))`` once per dataset.

    The spec's ``loader`` is a ``"module:attr"`` string resolved only when data is loaded.
    """


@hookspec
def zoo_register_exporters(register: Callable[[ExporterSpec], None]) -> None:
    """Register export formats: call ``register(ExporterSpec(...))`` once per format.

    The spec's ``exporter`` is a ``"module:attr"`` string resolved only when exporting.
    """
