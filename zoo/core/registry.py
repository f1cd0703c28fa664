"""Lookups by name over everything the plugins registered, and the record of each plugin.

Names are unique per kind: a second registration of a name is refused. References such as
``"zoo_lenet.model:build"`` are resolved only when used, by ``resolve``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from zoo.core.errors import (
    DatasetUnavailable,
    DuplicateName,
    InvalidSpec,
    PluginCodeError,
    PluginError,
    UnknownArchitecture,
    UnknownDataset,
    UnknownExporter,
    ZooError,
)
from zoo.core.specs import ArchitectureSpec, DatasetSpec, ExporterSpec

Spec = ArchitectureSpec | DatasetSpec | ExporterSpec
_KINDS: dict[type, str] = {
    ArchitectureSpec: "architecture",
    DatasetSpec: "dataset",
    ExporterSpec: "exporter",
}


@dataclass
class PluginRecord:
    """What is known of one plugin: where it comes from, what it implements, what failed."""

    name: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False
    module: str | None = None
    path: str | None = None
    hooks: list[str] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        return "; ".join(self.errors) if self.errors else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "builtin": self.builtin,
            "module": self.module,
            "path": self.path,
            "hooks": self.hooks,
            "registered": self.registered,
            "error": self.error,
        }


@dataclass
class Registry:
    """The registered specs, by kind and name, and the plugins they came from."""

    architectures: dict[str, ArchitectureSpec] = field(default_factory=dict)
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    exporters: dict[str, ExporterSpec] = field(default_factory=dict)
    plugins: list[PluginRecord] = field(default_factory=list)
    # "architecture 'x'" -> why it was refused at registration, to say so when it is asked for
    refused: dict[str, str] = field(default_factory=dict)
    # why names may be missing (ZOO_LOAD_PLUGINS loaded only some plugins), added to "Unknown ..."
    note: str = ""

    def table_for(self, spec: Spec) -> dict[str, Any]:
        kind = _KINDS.get(type(spec))
        if kind is None:
            raise TypeError(
                f"register() takes an ArchitectureSpec, DatasetSpec or ExporterSpec, "
                f"not {type(spec).__name__}"
            )
        return {
            "architecture": self.architectures,
            "dataset": self.datasets,
            "exporter": self.exporters,
        }[kind]

    def add(self, spec: Spec) -> None:
        """Add a spec; one with problems (``spec.problems()``), or whose name is taken (by any
        plugin), is refused with the reason."""
        table = self.table_for(spec)
        kind = _KINDS[type(spec)]
        problems = spec.problems()
        if problems:
            self.refused[f"{kind} {spec.name!r}"] = f"{'; '.join(problems)} (plugin {spec.plugin!r})"
            raise InvalidSpec(f"{kind} {spec.name!r} refused: {'; '.join(problems)}")
        if spec.name in table:
            raise DuplicateName(
                f"{kind} {spec.name!r} is already registered by plugin {table[spec.name].plugin!r}"
            )
        table[spec.name] = spec

    def _missing(self, kind: str, name: str) -> None:
        """A name asked for that a plugin registered but zoo refused: say why, not "Unknown"."""
        reason = self.refused.get(f"{kind} {name!r}")
        if reason is not None:
            raise PluginError(f"{kind} {name!r} was refused when its plugin registered it: {reason}")

    def architecture(self, name: str) -> ArchitectureSpec:
        try:
            return self.architectures[name]
        except KeyError:
            self._missing("architecture", name)
            raise UnknownArchitecture(name, self.architectures, self.note) from None

    def dataset(self, name: str) -> DatasetSpec:
        """A dataset by name; ``NAME:ARGUMENT`` for those that take one (``folder:PATH``)."""
        base, colon, argument = name.partition(":")
        spec = self.datasets.get(base)
        if spec is None:
            self._missing("dataset", base)
            raise UnknownDataset(name, self.datasets, self.note)
        if bool(colon) != bool(spec.argument) or (colon and not argument):
            usage = f"{base}:{spec.argument}" if spec.argument else base
            raise DatasetUnavailable(f"Dataset {name!r}: write it as {usage}")
        return spec

    def exporter(self, name: str) -> ExporterSpec:
        try:
            return self.exporters[name]
        except KeyError:
            self._missing("exporter", name)
            raise UnknownExporter(name, self.exporters, self.note) from None


def owner(spec: Spec) -> str:
    """Who declared a spec's references, for errors: ``architecture 'unet' of plugin 'unet'``."""
    kind = _KINDS.get(type(spec), "spec")
    return f"{kind} {spec.name!r}" + (f" of plugin {spec.plugin!r}" if spec.plugin else "")


def call(spec: Spec, ref: str, /, *args: Any, **kwargs: Any) -> Any:
    """Call plugin code: ``ref`` (one of ``spec``'s references), resolved now.

    A ``ZooError`` it raises is the plugin telling the user of a mistake and passes as it is;
    any other exception is a bug in the plugin and becomes a ``PluginCodeError`` naming the
    plugin and the callable.
    """
    function = resolve(ref, owner=owner(spec))
    try:
        return function(*args, **kwargs)
    except ZooError:
        raise
    except Exception as exc:
        raise PluginCodeError(spec.plugin or owner(spec), ref, exc) from exc


def resolve(ref: str, owner: str = "") -> Any:
    """Import ``"package.module:attr.sub"`` and return the attribute.

    ``owner`` names who declared the reference (``"architecture 'lenet5'"``) for the error.
    """
    module_name, _, attr_path = ref.partition(":")
    where = f" (declared by {owner})" if owner else ""
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise PluginError(f"Cannot import {module_name!r} for {ref!r}{where}: {exc}") from exc
    except Exception as exc:  # the module's own code failed while importing
        raise PluginError(
            f"Importing {module_name!r} for {ref!r}{where} raised {type(exc).__name__}: {exc}"
        ) from exc
    for attr in attr_path.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise PluginError(f"{module_name!r} has no attribute {attr_path!r}{where}") from None
    return obj
