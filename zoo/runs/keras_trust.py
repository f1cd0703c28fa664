"""Refuse Keras model files that carry Python code, before Keras deserializes them.

A ``.keras`` file is a zip whose ``config.json`` describes the model. A ``Lambda`` layer made
from a Python lambda keeps that function's bytecode there, and Keras runs it when it loads the
file outside its safe mode. zoo loads in safe mode, whose refusal names Keras' own argument;
this check reads only the archive's JSON (no TensorFlow) and names the layer and zoo's flag.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zoo.core.errors import ModelFileError, UnsafeModelFile

UNSAFE_FLAG = "--unsafe-load-code"
BYTECODE = "__lambda__"  # Keras' class_name for a serialized Python function (marshal + base64)


def _holds_bytecode(obj: Any) -> bool:
    if isinstance(obj, dict):
        return obj.get("class_name") == BYTECODE or any(_holds_bytecode(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_holds_bytecode(v) for v in obj)
    return False


def code_in_config(obj: Any) -> Iterator[str]:
    """What in a Keras config would run stored bytecode: ``a Lambda layer 'name'`` per such
    layer, ``Python bytecode`` for a function stored anywhere else (a loss, a custom layer)."""
    if isinstance(obj, list):
        for value in obj:
            yield from code_in_config(value)
    elif isinstance(obj, dict):
        if obj.get("class_name") == "Lambda" and _holds_bytecode(obj.get("config")):
            name = obj.get("config", {}).get("name") or obj.get("name")
            yield f"a Lambda layer {name!r}"
        elif obj.get("class_name") == BYTECODE:
            yield "Python bytecode"
        else:
            for value in obj.values():
                yield from code_in_config(value)


def refusal(path: Path, what: str) -> str:
    """The one line that refuses ``path``: what code it holds and how to load it anyway."""
    return (
        f"{str(path)!r} contains code ({what}) that would run when the model is loaded; "
        f"zoo does not load it unless you trust the file: zoo {UNSAFE_FLAG} ..."
    )


def check_keras_file(path: Path) -> None:
    """Raise ``UnsafeModelFile`` if the ``.keras`` archive at ``path`` stores Python code.

    An archive that cannot be read is left to Keras, which says why when it loads it.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return
    found = list(dict.fromkeys(code_in_config(config)))
    if found:
        raise UnsafeModelFile(refusal(path, ", ".join(found)))


def archive_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a .keras archive (a zip), said before Keras says "File not found"."""
    try:
        with open(path, "rb") as fh:
            if not fh.read(1):
                return "it is empty"
        return None if zipfile.is_zipfile(path) else "it is no zip archive (truncated, or another format)"
    except OSError as exc:
        return exc.strerror or str(exc)


def check_model_file(path: Path, safe: bool) -> None:
    """Everything said about a ``.keras`` file before Keras opens it: ``ModelFileError`` if it
    is no archive, and, in safe mode, ``UnsafeModelFile`` if it stores Python code."""
    problem = archive_problem(path)
    if problem:
        raise ModelFileError(f"Cannot load {str(path)!r}: not a Keras model file (.keras): {problem}")
    if safe:
        check_keras_file(path)


def safe_mode_refusal(path: Path, exc: Exception) -> UnsafeModelFile | None:
    """Keras' own safe-mode refusal (code the check above does not know of), in zoo's words;
    None when ``exc`` is another failure."""
    if "safe_mode" not in str(exc):
        return None
    return UnsafeModelFile(refusal(path, str(exc).strip().split(". ")[0].rstrip(".")))
