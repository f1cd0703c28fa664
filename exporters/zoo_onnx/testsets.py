"""Test sets in the ONNX Model Zoo layout, so that other runtimes can check a file themselves:
``<folder>/model.onnx`` (a hard link to the file) and ``test_data_set_0/input_0.pb``,
``output_0.pb``, ... as TensorProtos, each carrying the name of the file's input or output it
is: one ``input_N.pb`` per input, in the file's order (a U-Net decoder's ``code``, ``skip1``,
``skip2``). zoo writes one per file in ``test_data/<stage>/``."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import onnx

from zoo.api import TEST_DATA

FIRST_SET = "test_data_set_0"
BATCH = 8  # real test inputs per set


def write(
    folder: Path, model_file: Path, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray]
) -> None:
    """One test set for ``model_file`` in ``folder``: ``inputs`` and the ``outputs`` expected."""
    data = folder / FIRST_SET
    data.mkdir(parents=True)
    try:
        os.link(model_file, folder / "model.onnx")
    except OSError:
        shutil.copyfile(model_file, folder / "model.onnx")
    for kind, tensors in (("input", inputs), ("output", outputs)):
        for i, (name, array) in enumerate(tensors.items()):
            tensor = onnx.numpy_helper.from_array(np.ascontiguousarray(array), name=name)
            (data / f"{kind}_{i}.pb").write_bytes(tensor.SerializeToString())


def named(folder: Path, kind: str) -> list[tuple[str, np.ndarray]]:
    """A test set's ``input`` or ``output`` tensors, in order, with the names they carry."""
    found = []
    for path in sorted(folder.glob(f"{kind}_*.pb"), key=lambda p: int(p.stem.split("_")[-1])):
        tensor = onnx.TensorProto()
        tensor.ParseFromString(path.read_bytes())
        found.append((tensor.name, onnx.numpy_helper.to_array(tensor)))
    return found


def tensors(folder: Path, kind: str) -> list[np.ndarray]:
    """A test set's ``input`` or ``output`` tensors, in order."""
    return [array for _, array in named(folder, kind)]


_PART_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # as specs allow: no "/", no ".."


def is_part_name(part: object) -> bool:
    """Whether a file's ``zoo.part`` is a name (``full`` or a part), not a path out of its folder."""
    return isinstance(part, str) and bool(_PART_NAME.match(part))


def sets_of(model_file: Path, part: str | None) -> list[Path]:
    """The test sets that belong to ``model_file``: beside it (Model Zoo layout) or in
    ``test_data/<part>/`` of its folder (zoo's export layout)."""
    beside = sorted(model_file.parent.glob("test_data_set_*"))
    if beside:
        return beside
    if part and is_part_name(part):
        return sorted((model_file.parent / TEST_DATA / part).glob("test_data_set_*"))
    return []
