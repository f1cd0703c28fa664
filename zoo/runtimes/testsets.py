"""Reading a file's test sets, the ONNX Model Zoo layout zoo writes (``zoo.runs.exports``): a
folder ``test_data_set_N/`` holding ``input_0.pb``, ... and ``output_0.pb``, ... as TensorProtos,
each carrying the name of the file's input or output it is; beside the file, or in
``test_data/<part>/`` of its export folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from zoo.runs.exports import TEST_DATA

if TYPE_CHECKING:
    import numpy as np

SET_PATTERN = "test_data_set_*"
_PART_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # as specs allow: no "/", no ".."


def is_part_name(part: object) -> bool:
    """Whether a file's ``zoo.part`` is a name (``full`` or a part), not a path out of its folder."""
    return isinstance(part, str) and bool(_PART_NAME.match(part))


def sets_of(model_file: Path, part: str | None) -> list[Path]:
    """The test sets of ``model_file``: beside it, or in ``test_data/<part>/`` of its folder."""
    beside = sorted(model_file.parent.glob(SET_PATTERN))
    if beside:
        return beside
    if part and is_part_name(part):
        return sorted((model_file.parent / TEST_DATA / part).glob(SET_PATTERN))
    return []


def named(folder: Path, kind: str) -> list[tuple[str, np.ndarray]]:
    """A test set's ``input`` or ``output`` tensors, in order, with the names they carry."""
    import onnx
    from onnx import numpy_helper

    found = []
    for path in sorted(folder.glob(f"{kind}_*.pb"), key=lambda p: int(p.stem.split("_")[-1])):
        tensor = onnx.TensorProto()
        tensor.ParseFromString(path.read_bytes())
        found.append((tensor.name, numpy_helper.to_array(tensor)))
    return found


def by_name(names: list[str], tensors: list[tuple[str, np.ndarray]], what: str) -> list[np.ndarray]:
    """``tensors`` in the order of ``names``: by the names they carry where those are ``names``,
    else in order (sets written elsewhere may name none); ``ValueError`` for another count."""
    if len(tensors) != len(names):
        raise ValueError(
            f"{len(tensors)} {what}s in the test set where the file has {len(names)} ({', '.join(names)})"
        )
    carried = dict(tensors)
    if sorted(carried) == sorted(names) and len(carried) == len(names):
        return [carried[n] for n in names]
    return [a for _, a in tensors]
