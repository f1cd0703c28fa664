"""The inputs a benchmark feeds a session: the run's real test samples where the file lies in a
run's export folder and their shape fits, random values in [0, 1) otherwise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from zoo.core.errors import InvalidOption, ModelFileError
from zoo.runs.run_folder import SAMPLES_FILE

DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(uint8)": np.uint8,
}


def input_feed(
    session: Any,
    batch_size: int,
    seed: int = 0,
    sizes: dict[str, int] | None = None,
    samples: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Inputs for every model input (a U-Net decoder's ``code``, ``skip1`` and ``skip2`` each get
    one), the batch axis set to ``batch_size``.

    Named free axes (``height``, ``width``, ``code_height``) take their value from ``sizes``; a
    file with free axes left unsized is refused with every one of them named, in one line.
    ``samples``, real test inputs of the right shape, are repeated up to the batch size for the
    first input; otherwise the inputs are random in [0, 1).
    """
    rng = np.random.default_rng(seed)
    sizes = sizes or {}
    inputs = session.get_inputs()
    unsized = _unsized(inputs, sizes)
    if unsized:
        options = ", ".join(f"--{n} N" if n in ("height", "width") else f"--axis {n}=N" for n in unsized)
        if len(inputs) == 1:
            what = f"Input {inputs[0].name!r} has shape {list(inputs[0].shape)}: give its free axes"
        else:
            shapes = ", ".join(f"{v.name!r} {list(v.shape)}" for v in inputs)
            what = f"Inputs {shapes}: give their free axes"
        raise ModelFileError(f"{what} a size ({options})")
    feed = {}
    for value in inputs:
        dims = list(value.shape)
        fixed = [d if isinstance(d, int) and d > 0 else sizes[str(d)] for d in dims[1:]]
        dtype = DTYPES.get(value.type)
        if dtype is None:
            raise ModelFileError(f"Input {value.name!r} has type {value.type}, which bench cannot fill")
        shape = (batch_size, *fixed)
        _check_fits_in_memory(shape, dtype, value.name)
        if samples is not None and tuple(samples.shape[1:]) == tuple(fixed) and len(feed) == 0:
            feed[value.name] = tile(samples, batch_size).astype(dtype)
        else:
            feed[value.name] = rng.random(shape).astype(dtype)
    return feed


def _unsized(inputs: list[Any], sizes: dict[str, int]) -> list[str]:
    """The free axes (after the batch axis) of every input that ``sizes`` gives no size, each
    named once, in order; a scalar input is refused."""
    unsized: list[str] = []
    for value in inputs:
        dims = list(value.shape)
        if not dims:
            raise ModelFileError(f"Input {value.name!r} is a scalar; zoo bench needs a batch axis")
        for d in dims[1:]:
            if not (isinstance(d, int) and d > 0) and str(d) not in sizes and str(d) not in unsized:
                unsized.append(str(d))
    return unsized


def tile(samples: np.ndarray, batch_size: int) -> np.ndarray:
    """``samples`` repeated up to ``batch_size`` rows."""
    return np.concatenate([samples] * -(-batch_size // len(samples)))[:batch_size]


def _check_fits_in_memory(shape: tuple[int, ...], dtype: Any, name: str) -> None:
    """Refuse a batch whose input alone would take half the free memory (outputs and
    activations need more), in one line rather than an allocation failure."""
    need = float(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if need > free / 2:
        raise InvalidOption(
            f"batch size {shape[0]:,} needs {need / 2**30:.1f} GiB for input {name!r} alone; "
            f"this machine has {free / 2**30:.1f} GiB free: choose smaller --batch-sizes"
        )


def run_samples(model: Path) -> np.ndarray | None:
    """The run's real test inputs when ``model`` lies in a run's export folder
    (``RUN/onnx*/file.onnx``, ``samples.npz`` in RUN), else None."""
    candidate = model.resolve().parent.parent / SAMPLES_FILE
    if not candidate.is_file():
        return None
    try:
        with np.load(candidate, allow_pickle=False) as data:
            return np.asarray(data["x"], dtype=np.float32)
    except (OSError, ValueError, KeyError):
        return None
