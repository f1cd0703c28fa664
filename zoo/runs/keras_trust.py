"""Refuse Keras model files that carry Python code, before Keras deserializes them.

A ``.keras`` file is a zip whose ``config.json`` describes the model. A ``Lambda`` layer made
from a Python lambda keeps that function's bytecode there, and Keras runs it when it loads the
file outside its safe mode. zoo loads in safe mode, whose refusal names Keras' own argument;
this check reads only the archive's JSON (no TensorFlow) and names the layer and zoo's flag.

A small archive can also claim a huge member: a 3.6 MB file whose config.json unpacks to 3 GB
(this check once read it whole; Keras 3.15's own guards start at 256 MiB, older ones have none).
Before any member is read, the sizes the archive declares are held to limits
(``ZOO_MAX_KERAS_CONFIG_MB``, ``ZOO_MAX_KERAS_EXPANSION``), and config.json is read no further
than its limit whatever its header says.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zoo.core import settings
from zoo.core.errors import ModelFileError, UnsafeModelFile

UNSAFE_FLAG = "--unsafe-load-code"
BYTECODE = "__lambda__"  # Keras' class_name for a serialized Python function (marshal + base64)
JSON_MEMBERS = ("config.json", "metadata.json")
# A Keras model's config.json is a few KB per layer (a thousand layers: a few MB); 64 MiB of
# Keras config parses into about 230 MiB of Python objects (measured), and Keras parses it again.
CONFIG_MB = 64
# Keras stores its members uncompressed (1:1) and DEFLATE tops out near 1032:1: a member that
# unpacks to 100 times what it stores was made to, not recompressed (Keras' own guards use 100
# too, from 256 MiB or 4 GiB up). A member under FLOOR_BYTES may expand more: it exhausts nothing.
EXPANSION = 100
FLOOR_BYTES = 64 * 2**20


def _mib(size: float) -> str:
    return f"{size / 2**20:,.1f} MiB"


def _limits() -> tuple[int, float]:
    """(bytes of config.json or metadata.json zoo reads, expansion a member may have)."""
    config_mb = settings.positive_number(settings.MAX_KERAS_CONFIG_MB, CONFIG_MB)
    return int(config_mb * 2**20), settings.positive_number(settings.MAX_KERAS_EXPANSION, EXPANSION)


def _too_large(path: Path, what: str, setting: str) -> ModelFileError:
    return ModelFileError(f"Cannot load {str(path)!r}: {what} (raise {setting} for a file you trust)")


def archive_limits(path: Path, archive: zipfile.ZipFile) -> None:
    """Raise ``ModelFileError`` if the sizes ``archive`` declares exceed zoo's limits, before any
    member is read: config.json or metadata.json larger than ``ZOO_MAX_KERAS_CONFIG_MB``; a member
    past ``FLOOR_BYTES``, or all of them, unpacking to more than ``ZOO_MAX_KERAS_EXPANSION``
    times the bytes stored."""
    config_bytes, expansion = _limits()
    infos = archive.infolist()
    for info in infos:
        if info.filename in JSON_MEMBERS and info.file_size > config_bytes:
            what = f"its {info.filename} unpacks to {_mib(info.file_size)}, more than {_mib(config_bytes)}"
            raise _too_large(path, what, settings.MAX_KERAS_CONFIG_MB)
        if info.file_size > FLOOR_BYTES and info.file_size > expansion * info.compress_size:
            what = (
                f"its {info.filename} unpacks to {_mib(info.file_size)} from {_mib(info.compress_size)} "
                f"stored, more than {expansion:g} times"
            )
            raise _too_large(path, what, settings.MAX_KERAS_EXPANSION)
    declared, stored = sum(info.file_size for info in infos), path.stat().st_size
    if declared > FLOOR_BYTES and declared > expansion * stored:
        what = (
            f"its {len(infos)} members unpack to {_mib(declared)} from a file of {_mib(stored)}, "
            f"more than {expansion:g} times"
        )
        raise _too_large(path, what, settings.MAX_KERAS_EXPANSION)


def _nests_too_deep(path: Path) -> ModelFileError:
    return ModelFileError(f"Cannot load {str(path)!r}: its config.json nests deeper than Python parses")


def read_config(path: Path, archive: zipfile.ZipFile) -> Any:
    """config.json parsed, read no further than ``ZOO_MAX_KERAS_CONFIG_MB`` whatever its header
    declares; ``ModelFileError`` if it holds more, or nests deeper than Python parses."""
    config_bytes, _ = _limits()
    with archive.open("config.json") as member:
        text = member.read(config_bytes + 1)
    if len(text) > config_bytes:
        what = f"its config.json holds more than {_mib(config_bytes)}"
        raise _too_large(path, what, settings.MAX_KERAS_CONFIG_MB)
    try:
        return json.loads(text)
    except RecursionError:
        raise _nests_too_deep(path) from None


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

    An archive that cannot be read is left to Keras, which says why when it loads it; one that
    declares members too large for zoo's limits is refused (``archive_limits``).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            archive_limits(path, archive)
            config = read_config(path, archive)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return
    try:
        found = list(dict.fromkeys(code_in_config(config)))
    except RecursionError:
        raise _nests_too_deep(path) from None
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
    is no archive or declares members beyond zoo's limits (safe mode or not: Keras would read
    them), and, in safe mode, ``UnsafeModelFile`` if it stores Python code."""
    problem = archive_problem(path)
    if problem:
        raise ModelFileError(f"Cannot load {str(path)!r}: not a Keras model file (.keras): {problem}")
    if safe:
        check_keras_file(path)
        return
    try:
        with zipfile.ZipFile(path) as archive:
            archive_limits(path, archive)
    except (OSError, zipfile.BadZipFile):
        return


def safe_mode_refusal(path: Path, exc: Exception) -> UnsafeModelFile | None:
    """Keras' own safe-mode refusal (code the check above does not know of), in zoo's words;
    None when ``exc`` is another failure."""
    if "safe_mode" not in str(exc):
        return None
    return UnsafeModelFile(refusal(path, str(exc).strip().split(". ")[0].rstrip(".")))
