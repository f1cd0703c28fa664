"""Lookups by name over everything the plugins registered, the record of each plugin, and how
plugin code is run (``PluginCode``, ``call``).

Names are unique per kind: a second registration of a name is refused. References such as
``"zoo_lenet.model:build"`` are resolved only when used, by ``resolve``.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from zoo.core.errors import (
    USER_ERRNOS,
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
from zoo.core.specs import ArchitectureSpec, DatasetSpec, ExporterSpec, shown_name

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
    load_seconds: float = 0.0  # importing it and calling its hooks: what every command waits for

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
            "load_seconds": round(self.load_seconds, 3),
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
            raise InvalidSpec(f"{kind} {shown_name(spec.name)} refused: {'; '.join(problems)}")
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


# Signals whose Python handler may turn them into an exception (SIGINT: KeyboardInterrupt).
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class PluginCode:
    """A ``with`` block that runs plugin code (an import, a hook, a builder): its stdout goes to
    stderr, so that a ``print()`` cannot corrupt zoo's JSON, and it is timed (``seconds``, added
    up over uses).

    ``owns(exc)`` says whether an exception that left the block is the plugin's failure, to be
    named like any other: an ``Exception``, a ``SystemExit`` (a plugin calling ``sys.exit`` does
    not end zoo) or a ``KeyboardInterrupt`` the plugin raised itself. Whatever leaves the block
    after a signal's handler raised into it (the user's Ctrl-C) is not, and must go on. To tell
    them apart, the Python handlers of SIGINT, SIGTERM and SIGHUP are wrapped for the block's
    duration: the wrapper does what the handler did, noting when it raised. Only in the main
    thread, where Python runs signal handlers; in any other a KeyboardInterrupt can only come
    from code.
    """

    def __init__(self) -> None:
        self.signalled = False  # a signal's handler raised into the block
        self.seconds = 0.0
        self._stack = contextlib.ExitStack()
        self._started = 0.0

    def _noting(self, handler: Any) -> Any:
        def noted(signum: int, frame: Any) -> Any:
            try:
                return handler(signum, frame)
            except BaseException:
                self.signalled = True
                raise

        return noted

    def __enter__(self) -> PluginCode:
        self._stack = contextlib.ExitStack()
        if threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                handler = signal.getsignal(signum)
                if callable(handler):  # SIG_DFL and SIG_IGN raise nothing in Python
                    signal.signal(signum, self._noting(handler))
                    self._stack.callback(signal.signal, signum, handler)
        self._stack.enter_context(contextlib.redirect_stdout(sys.stderr))
        self._started = time.perf_counter()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.seconds += time.perf_counter() - self._started
        self._stack.close()

    def owns(self, exc: BaseException) -> bool:
        """Whether ``exc``, raised in the block, is the plugin's failure (not the user's stop)."""
        return not self.signalled and isinstance(exc, (Exception, SystemExit, KeyboardInterrupt))


def explained(exc: BaseException) -> BaseException:
    """A ``SystemExit`` or ``KeyboardInterrupt`` from plugin code, saying what it is (by itself it
    says ``3``, or nothing); any other exception as it is."""
    if isinstance(exc, SystemExit):
        return SystemExit(f"plugin code called sys.exit({exc.code!r})")
    if isinstance(exc, KeyboardInterrupt):
        return KeyboardInterrupt("raised by plugin code, not by Ctrl-C")
    return exc


def call(spec: Spec, ref: str, /, *args: Any, **kwargs: Any) -> Any:
    """Call plugin code: ``ref`` (one of ``spec``'s references), resolved now, in ``PluginCode``.

    A ``ZooError`` it raises is the plugin telling the user of a mistake and passes as it is;
    any other exception (``sys.exit`` and a ``KeyboardInterrupt`` it raised itself included) is
    a bug in the plugin and becomes a ``PluginCodeError`` naming the plugin and the callable.
    """
    guard = PluginCode()
    try:
        with guard:
            function = resolve(ref, owner=owner(spec))
            return function(*args, **kwargs)
    except ZooError:
        raise
    except OSError as exc:
        if exc.errno in USER_ERRNOS:  # a full disk met by plugin code is the disk's, not the plugin's
            raise
        raise PluginCodeError(spec.plugin or owner(spec), ref, exc) from exc
    except BaseException as exc:
        if not guard.owns(exc):
            raise
        raise PluginCodeError(spec.plugin or owner(spec), ref, explained(exc)) from exc


def resolve(ref: str, owner: str = "") -> Any:
    """Import ``"package.module:attr.sub"`` and return the attribute.

    ``owner`` names who declared the reference (``"architecture 'lenet5'"``) for the error.
    """
    module_name, _, attr_path = ref.partition(":")
    where = f" (declared by {owner})" if owner else ""
    guard = PluginCode()
    try:
        with guard:
            obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise PluginError(f"Cannot import {module_name!r} for {ref!r}{where}: {exc}") from exc
    except BaseException as exc:  # the module's own code failed while importing
        if not guard.owns(exc):
            raise
        failure = explained(exc)
        raise PluginError(
            f"Importing {module_name!r} for {ref!r}{where} raised {type(failure).__name__}: {failure}"
        ) from exc
    for attr in attr_path.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise PluginError(f"{module_name!r} has no attribute {attr_path!r}{where}") from None
    return obj
