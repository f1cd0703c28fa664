"""Hyper-parameters from the command line (``-p key=value``) checked against a spec."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from zoo.core.errors import InvalidHyperParameter
from zoo.core.specs import ArchitectureSpec, HyperParameter

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["units=32", "act=relu"]`` -> ``{"units": "32", "act": "relu"}``."""
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidHyperParameter(f"Hyper-parameter {item!r} is not of the form KEY=VALUE")
        values[key.strip()] = value.strip()
    return values


def _coerce(param: HyperParameter, value: Any, arch: str) -> Any:
    where = f"hyper-parameter {param.name!r} of {arch!r}"
    try:
        if param.type is bool:
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise ValueError
        if param.type is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(str(value)) if isinstance(value, str) else int(value)
        if param.type is float:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        return str(value)
    except (TypeError, ValueError):
        raise InvalidHyperParameter(
            f"{where} must be {param.type.__name__} ({param.describe_range()}), got {value!r}"
        ) from None


def validate(spec: ArchitectureSpec, given: Mapping[str, Any]) -> dict[str, Any]:
    """The full set of hyper-parameters: defaults overridden by ``given``, each checked."""
    params = {p.name: p for p in spec.hyperparameters}
    unknown = sorted(set(given) - set(params))
    if unknown:
        raise InvalidHyperParameter(
            f"Unknown hyper-parameter {unknown[0]!r} for {spec.name!r}. "
            f"Available: {', '.join(sorted(params)) or '(none)'}"
        )
    resolved: dict[str, Any] = {}
    for name, param in params.items():
        value = _coerce(param, given.get(name, param.default), spec.name)
        if not param.admits(value):
            raise InvalidHyperParameter(
                f"hyper-parameter {name!r} of {spec.name!r} must be {param.describe_range()}, got {value!r}"
            )
        resolved[name] = value
    return resolved
