"""Refuse ONNX files whose external data lies outside their own folder, before anything loads them.

ONNX may keep a tensor's bytes in another file, named by a ``location`` inside the model. A
crafted model can name ``/etc/passwd``, ``../../secret`` or a symlink that leads out, and onnx
and ONNX Runtime would read it. zoo's own exports keep every byte in the ``.onnx`` file, so
this check only ever refuses a file that came from elsewhere. It parses the model without its
external data; onnx is imported here, not at module level.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from zoo.core.errors import ModelFileError, UnsafeModelFile


def _graph_tensors(graph: Any) -> Iterator[Any]:
    """Every TensorProto of a graph or function: initializers, sparse ones, attributes, and
    those of every subgraph (If, Loop, Scan bodies)."""
    yield from getattr(graph, "initializer", ())
    for sparse in getattr(graph, "sparse_initializer", ()):
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            for sparse in [attribute.sparse_tensor, *attribute.sparse_tensors]:
                yield sparse.values
                yield sparse.indices
            if attribute.HasField("g"):
                yield from _graph_tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _graph_tensors(subgraph)


def external_locations(model: Any) -> Iterator[tuple[str, str]]:
    """``(tensor name, location)`` for every tensor of ``model`` kept in an external file."""
    from onnx import TensorProto

    tensors = [*_graph_tensors(model.graph)]
    for function in model.functions:
        tensors.extend(_graph_tensors(function))
    for tensor in tensors:
        if tensor.data_location == TensorProto.EXTERNAL:
            entries = {e.key: e.value for e in tensor.external_data}
            yield tensor.name, entries.get("location", "")


def outside_reason(folder: Path, location: str) -> str | None:
    """Why ``location`` (relative to ``folder``) is not a file inside ``folder``; None if it is."""
    if not location:
        return "an empty location"
    if "\x00" in location:
        return "a location with a NUL byte"
    if PurePosixPath(location).is_absolute() or PureWindowsPath(location).anchor:
        return "an absolute path"
    if ".." in PureWindowsPath(location).parts:  # splits on both / and \
        return "a path that climbs out with '..'"
    base = folder.resolve()
    if not (base / location).resolve().is_relative_to(base):
        return "a link that leads out of the folder"
    return None


def check_external_data(path: str | Path) -> None:
    """Raise ``UnsafeModelFile`` if the ONNX file at ``path`` names external data outside its
    folder (absolute, with ``..``, or through a symlink); ``ModelFileError`` if it is no ONNX.

    Call it before onnx or ONNX Runtime load ``path``: both read external data as they load.
    """
    import onnx

    path = Path(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelFileError(f"Cannot read {str(path)!r} as ONNX: {type(exc).__name__}: {exc}") from exc
    for name, location in external_locations(model):
        reason = outside_reason(path.parent, location)
        if reason:
            raise UnsafeModelFile(
                f"{str(path)!r} keeps tensor {name!r} in external data at {location!r}, {reason}: "
                "zoo reads no data from outside a model's folder"
            )


def sha256_of(path: Path) -> str:
    """The file's sha256, as manifests record it."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_digest(path: Path, expected: str, manifest: Path) -> None:
    """Raise ``ModelFileError`` unless ``path`` is the file ``manifest`` describes (its sha256)."""
    try:
        actual = sha256_of(path)
    except OSError as exc:
        raise ModelFileError(f"Cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    if actual != expected:
        raise ModelFileError(
            f"{str(path)!r} is not the file {str(manifest)!r} describes (its sha256 differs): "
            "export again, or copy the whole export folder"
        )
