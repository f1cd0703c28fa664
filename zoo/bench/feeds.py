"""The inputs a benchmark feeds a session: the run's real test samples where the file lies in a
run's export folder and their shape fits, random values in [0, 1) otherwise (0 for integer and
boolean inputs: an id or a mask any graph takes); and the batch sizes a file can be fed at (a
file exported with a batch of 1 takes no other)."""

from __future__ import annotations

import os
from dataclasses import dataclass
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
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
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
        elif np.issubdtype(dtype, np.floating):
            feed[value.name] = rng.random(shape).astype(dtype)
        else:
            feed[value.name] = np.zeros(shape, dtype)
    return feed


@dataclass(frozen=True)
class Declared:
    """An input as the file declares it, named and shaped as ONNX Runtime's ``NodeArg``: a fixed
    axis is an int, a named one its name, an unnamed one None."""

    name: str
    shape: list[Any]
    type: str


def declared_inputs(path: Path) -> list[Declared] | None:
    """The inputs ``path`` declares, read with onnx (no session: ``--isolate`` opens its sessions
    in children); None where it is no regular file or no ONNX (``open_session`` says why)."""
    import onnx

    try:
        if not path.is_file():
            return None
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:
        return None
    constants = {t.name for t in graph.initializer}
    inputs = []
    for value in graph.input:
        if value.name in constants:  # an initializer listed as an input (IR version 3)
            continue
        kind = value.type.WhichOneof("value")
        if kind != "tensor_type":
            inputs.append(Declared(value.name, [], f"{kind}"))
            continue
        tensor = value.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim]
        element = onnx.TensorProto.DataType.Name(tensor.elem_type).lower()
        inputs.append(Declared(value.name, shape, f"tensor({element})"))
    return inputs


def fixed_batch(inputs: list[Any], path: Path) -> int | None:
    """The batch size ``path`` fixes: the first axis its inputs fix, None where all are free.

    ``ModelFileError`` for what bench cannot feed at all: no inputs, a scalar input (no batch
    axis), an input of a type it cannot fill, inputs fixing different first axes."""
    if not inputs:
        raise ModelFileError(f"{str(path)!r} takes no inputs: zoo bench times a model fed a batch of inputs")
    fixed: dict[str, int] = {}
    for value in inputs:
        if value.type not in DTYPES:
            raise ModelFileError(
                f"{str(path)!r} takes input {value.name!r} of type {value.type}, which zoo bench cannot "
                f"fill (it fills {', '.join(t[len('tensor(') : -1] for t in DTYPES)})"
            )
        if not value.shape:
            raise ModelFileError(
                f"{str(path)!r} takes input {value.name!r} as a scalar; zoo bench needs a batch axis"
            )
        first = value.shape[0]
        if isinstance(first, int) and first > 0:
            fixed[value.name] = first
    sizes = set(fixed.values())
    if len(sizes) > 1:
        listed = ", ".join(f"{name!r} {size}" for name, size in fixed.items())
        raise ModelFileError(
            f"{str(path)!r} fixes different batch sizes for its inputs ({listed}): zoo bench feeds "
            "them one batch size"
        )
    return sizes.pop() if sizes else None


def check_batch_sizes(inputs: list[Any], path: Path, batch_sizes: tuple[int, ...]) -> None:
    """``InvalidOption`` if ``path`` fixes a batch size that ``batch_sizes`` are not all of."""
    fixed = fixed_batch(inputs, path)
    others = [b for b in batch_sizes if fixed is not None and b != fixed]
    if others:
        raise InvalidOption(
            f"{str(path)!r} has a fixed batch of {fixed}: it cannot run at batch "
            f"{', '.join(map(str, others))} (give --batch-sizes {fixed})"
        )


def batch_sizes_for(path: Path, asked: tuple[int, ...], given: bool) -> tuple[tuple[int, ...], str | None]:
    """The batch sizes to measure ``path`` at, and a line to say why where they are not ``asked``:
    a file with a fixed batch is measured at that batch alone unless sizes were ``given`` (then
    any other is refused)."""
    inputs = declared_inputs(path)
    if inputs is None:
        return asked, None
    fixed = fixed_batch(inputs, path)
    if fixed is None or asked == (fixed,):
        return asked, None
    if given:
        check_batch_sizes(inputs, path, asked)
    return (fixed,), f"{str(path)!r} has a fixed batch of {fixed}; benchmarking batch {fixed} only"


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
