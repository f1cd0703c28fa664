"""Test sets in the ONNX Model Zoo layout, so that other runtimes can check a file themselves:
``<folder>/model.onnx`` (a hard link to the file) and ``test_data_set_0/input_0.pb``,
``output_0.pb``, ... as TensorProtos, each carrying the name of the file's input or output it
is: one ``input_N.pb`` per input, in the file's order (a U-Net decoder's ``code``, ``skip1``,
``skip2``). zoo writes one per file in ``test_data/<stage>/``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import onnx

from zoo.api import testsets as layout

# Reading is zoo's, one reader for the exporter and every runtime (zoo.runtimes.testsets).
named, sets_of, is_part_name = layout.named, layout.sets_of, layout.is_part_name

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


def tensors(folder: Path, kind: str) -> list[np.ndarray]:
    """A test set's ``input`` or ``output`` tensors, in order."""
    return [array for _, array in named(folder, kind)]
