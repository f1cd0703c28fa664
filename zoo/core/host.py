"""The plugin host: finds plugins, loads each in isolation, and builds the registry.

Built-in plugins and third-party ones are found the same way, through the ``zoo`` entry-point
group. Each is imported and called in its own ``try``: a plugin that raises (``sys.exit`` and a
``KeyboardInterrupt`` it raised itself included) is recorded (see ``zoo plugins``) and named in a
warning, and the others go on; a Ctrl-C still stops zoo. What a plugin prints goes to stderr, and
one slow to load is named (``zoo.core.registry.PluginCode``). Environment:

- ``ZOO_LOAD_PLUGINS=a,b`` loads only the entry points named (empty: none);
- ``ZOO_STRICT_PLUGINS=1`` re-raises a plugin's error instead (for plugin authors);
- ``ZOO_SLOW_PLUGIN_SECONDS`` (default ``SLOW_PLUGIN_SECONDS``): a plugin that takes longer to
  import and register is named in a warning.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from importlib import metadata
from typing import Any

import pluggy

from zoo.core import hookspecs, settings, specs
from zoo.core.errors import PluginCodeError
from zoo.core.registry import PluginCode, PluginRecord, Registry, Spec, explained

ENTRY_POINT_GROUP = "zoo"
CORE_DISTRIBUTION = "keras-zoo"  # the distribution zoo is installed as (the import name is zoo)
REGISTER_HOOKS = (
    "zoo_register_architectures",
    "zoo_register_datasets",
    "zoo_register_exporters",
)
# Every command waits for every plugin to load. The seven built-ins load in about 20 ms together;
# importing Keras and TensorFlow at import (what hookspecs says not to do) takes 1.9 s or more on
# the development machine, so a threshold of 2 s would miss the commonest cause, and 1 s is still
# 50 times what all the built-ins need.
SLOW_PLUGIN_SECONDS = 1.0


def _normalized(distribution: str) -> str:
    """A distribution's name as PyPI compares them (PEP 503): keras_zoo, Keras.Zoo -> keras-zoo."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _source_path(plugin: object) -> str | None:
    """The folder a plugin's code lives in, so users can see where it comes from."""
    try:
        path = getattr(plugin, "__file__", None) or inspect.getfile(type(plugin))
    except TypeError:
        return None
    return os.path.dirname(os.path.abspath(path))


def _is_builtin(entry_point: metadata.EntryPoint) -> bool:
    """Whether an entry point is one of zoo's own plugins (from the keras-zoo distribution)."""
    dist = entry_point.dist
    return bool(dist) and _normalized(dist.name) == CORE_DISTRIBUTION


def _did_you_mean(plugin: object) -> str:
    """For a hook name zoo does not know (a missing 's'): the one it probably meant."""
    names = [n for n in dir(plugin) if n.startswith(f"{hookspecs.PROJECT}_") and n not in REGISTER_HOOKS]
    for name in names:
        close = difflib.get_close_matches(name, REGISTER_HOOKS, n=1)
        if close:
            return f" (did you mean {close[0]!r}?)"
    return ""


def _describe(exc: BaseException) -> str:
    exc = explained(exc)
    return f"{type(exc).__name__}: {exc}"


class PluginHost:
    """Owns one pluggy PluginManager and the records of the plugins given to it.

    ``strict`` re-raises the first plugin error; ``warn`` is called with one line per error, and
    per plugin that took more than ``slow_seconds`` to load (None: never).
    """

    def __init__(
        self,
        strict: bool = False,
        warn: Callable[[str], None] | None = None,
        slow_seconds: float | None = None,
    ) -> None:
        self.strict = strict
        self.warn = warn or (lambda message: None)
        self.slow_seconds = slow_seconds
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self._import_seconds: dict[str, float] = {}

    def _fail(self, record: PluginRecord, what: str, exc: BaseException, hint: str = "") -> None:
        record.errors.append(f"{what}: {_describe(exc)}{hint}")
        self.warn(f"plugin {record.name!r} failed ({what}): {_describe(exc)}{hint}")
        if self.strict:
            if isinstance(exc, Exception):
                raise exc
            # re-raised, sys.exit would end zoo without a word: the traceback is what strict is for
            raise PluginCodeError(record.name, what, explained(exc)) from exc

    def _run(self, record: PluginRecord, code: Callable[[], Any]) -> tuple[bool, Any]:
        """``(True, code())``, run as plugin code (``PluginCode``) and timed into the record's
        ``load_seconds``; or ``(False, exc)``, the plugin's failure. A signal's exception passes."""
        guard = PluginCode()
        try:
            with guard:
                return True, code()
        except BaseException as exc:
            if not guard.owns(exc):
                raise
            return False, exc
        finally:
            record.load_seconds += guard.seconds

    def add(self, plugin: object, record: PluginRecord) -> None:
        """Register an imported plugin object (a module or a class instance)."""
        self.records[record.name] = record
        record.module = record.module or getattr(plugin, "__name__", type(plugin).__name__)
        record.path = record.path or _source_path(plugin)

        def register() -> None:
            self.pm.register(plugin, name=record.name)
            self.pm.check_pending()

        ok, error = self._run(record, register)
        if not ok:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self._fail(record, "register", error, _did_you_mean(plugin))
            return
        record.hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])

    def add_entry_points(self, only: Iterable[str] | None = None) -> None:
        """Import every entry point of the ``zoo`` group (or only those named)."""
        wanted = None if only is None else set(only)
        # Built-ins first: a third party naming its entry point as a built-in's is the one refused.
        points = sorted(
            metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (not _is_builtin(e), e.name)
        )
        unknown = sorted((wanted or set()) - {ep.name for ep in points})
        if unknown:
            self.warn(
                f"{settings.LOAD_PLUGINS} names {', '.join(map(repr, unknown))}, which no installed "
                f"plugin is called (installed: {', '.join(ep.name for ep in points) or 'none'})"
            )
        for ep in points:
            if wanted is not None and ep.name not in wanted:
                continue
            dist = ep.dist
            record = PluginRecord(
                name=ep.name,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
                builtin=_is_builtin(ep),
                module=ep.value,
            )
            if ep.name in self.records:
                taken_by = self.records[ep.name].distribution
                record.name = f"{ep.name} ({record.distribution})"
                self.records[record.name] = record
                self._fail(
                    record,
                    "import",
                    NameError(f"plugin name {ep.name!r} is taken by {taken_by!r}; this one is not loaded"),
                )
                continue
            self.records[ep.name] = record
            loaded, plugin = self._run(record, ep.load)
            self._import_seconds[record.name] = record.load_seconds
            if not loaded:
                self._fail(record, "import", plugin)
                continue
            self.add(plugin, record)

    def build_registry(self) -> Registry:
        """Call every registration hook, one plugin at a time, and collect the specs."""
        registry = Registry()
        for hook_name in REGISTER_HOOKS:
            caller = getattr(self.pm.hook, hook_name)
            # Called implementation by implementation (not caller(...)) so that an error is
            # attributed to its plugin and does not stop the plugins after it; the built-ins
            # first, so that a third party registering a built-in's name is the one refused.
            impls = caller.get_hookimpls()
            for impl in sorted(impls, key=lambda i: not self.records[i.plugin_name].builtin):
                self._call_register(registry, hook_name, impl)
        registry.plugins = sorted(self.records.values(), key=lambda r: (not r.builtin, r.name))
        for record in registry.plugins:
            self._warn_if_slow(record)
        return registry

    def _warn_if_slow(self, record: PluginRecord) -> None:
        """Name a plugin that every command waits for, with where its time went."""
        if self.slow_seconds is None or record.load_seconds <= self.slow_seconds:
            return
        imported = self._import_seconds.get(record.name, 0.0)
        self.warn(
            f"plugin {record.name!r} took {record.load_seconds:.1f} s to load (import {imported:.1f} s, "
            f"hooks {record.load_seconds - imported:.1f} s), which every zoo command waits for "
            f"(said above {settings.SLOW_PLUGIN_SECONDS}={self.slow_seconds:g} s)"
        )

    def _call_register(self, registry: Registry, hook_name: str, impl: Any) -> None:
        record = self.records[impl.plugin_name]
        staged: list[Spec] = []

        def register(spec: Spec) -> None:
            registry.table_for(spec)  # type check now, so the plugin's traceback points at it
            staged.append(replace(spec, plugin=record.name))

        called, error = self._run(record, lambda: impl.function(**{arg: register for arg in impl.argnames}))
        if not called:
            self._fail(record, hook_name, error)
            return
        for spec in staged:
            try:
                registry.add(spec)
            except Exception as exc:  # a spec zoo cannot even judge is refused like a bad one
                self._fail(record, hook_name, exc)
                continue
            record.registered.append(spec.name)


def load_registry(warn: Callable[[str], None] | None = None) -> Registry:
    """The registry of every installed plugin, as the CLI sees it (environment applied)."""
    specs.max_input_pixels()  # a malformed limit is said once, not taken for the default
    slow = settings.positive_number(settings.SLOW_PLUGIN_SECONDS, SLOW_PLUGIN_SECONDS)
    host = PluginHost(strict=settings.flag(settings.STRICT_PLUGINS), warn=warn, slow_seconds=slow)
    only = settings.plugin_allowlist()
    host.add_entry_points(only)
    registry = host.build_registry()
    if only is not None:
        registry.note = (
            f"{settings.LOAD_PLUGINS}={','.join(only)} loads only those plugins"
            if only
            else f"{settings.LOAD_PLUGINS} is set and empty: no plugin is loaded"
        )
    return registry


def registry_from_plugins(
    *plugins: object, strict: bool = True, warn: Callable[[str], None] | None = None
) -> Registry:
    """A registry from plugin objects given directly (tests; embedding without entry points)."""
    host = PluginHost(strict=strict, warn=warn)
    for plugin in plugins:
        name = getattr(plugin, "__name__", type(plugin).__name__)
        host.add(plugin, PluginRecord(name=name))
    return host.build_registry()
