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

from zoo.core.errors import UnsafeModelFile

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
