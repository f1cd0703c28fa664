"""The manifest: what the export folder holds, for people and for ``zoo verify`` and ``zoo bench``.

Per file: name, sha256, size, opset, layout, precision, inputs and outputs (name, shape, dtype),
the checks and their figures, the rewrites made; the links between parts (every tensor one
hands to the next, with the same name, shape and dtype on both sides); versions and provenance.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import onnx
import onnxruntime as ort

from zoo.api import ExportJob, __version__
from zoo_onnx.convert import tf2onnx_version


def tensor_info(value: onnx.ValueInfoProto) -> dict[str, Any]:
    """Name, shape (a free axis by its name) and dtype of a graph input or output."""
    tensor = value.type.tensor_type
    shape = [d.dim_param or (d.dim_value if d.HasField("dim_value") else None) for d in tensor.shape.dim]
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name if tensor.elem_type else None
    return {"name": value.name, "shape": shape, "dtype": dtype}


def links(parts: list[str], files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each pair of consecutive parts exported, every tensor the first hands to the second.

    A part hands the next its first k outputs, k the number of inputs the next takes; the link
    lists them as the first file declares them (``outputs``) and as the second does
    (``inputs``), in order, and ``agree`` says whether both lists hold the same names, shapes
    and dtypes. ``output`` and ``input`` are the first tensor of each (``code`` or
    ``features``), as manifests written before parts handed on several tensors had them."""
    by_part = {f["part"]: f for f in files}
    found = []
    for a, b in itertools.pairwise(parts):
        if a not in by_part or b not in by_part:
            continue
        taken = by_part[b]["inputs"]
        given = by_part[a]["outputs"][: len(taken)]
        found.append(
            {
                "from": a,
                "to": b,
                "tensors": [t["name"] for t in taken],
                "outputs": given,
                "inputs": taken,
                "output": given[0],
                "input": taken[0],
                "agree": given == taken,
            }
        )
    return found


def manifest(
    job: ExportJob, files: list[dict[str, Any]], opset: int, layout: str, precision: str
) -> dict[str, Any]:
    config = job.run.config
    untrained = bool(job.options.get("untrained"))
    return {
        "format": "onnx",
        "zoo_version": __version__,
        "architecture": job.spec.name,
        "plugin": job.spec.plugin,
        "run": None if untrained else str(job.run.path.resolve()),
        "untrained": untrained,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "opset": opset,
        "versions": {"onnx": onnx.__version__, "onnxruntime": ort.__version__, "tf2onnx": tf2onnx_version()},
        "dataset": config.get("dataset"),
        "preprocessing": config.get("preprocessing", []),
        "class_labels": config.get("class_names", []),
        "layout": layout.upper(),
        "precision": files[0]["precision"] if files else precision,
        "files": files,
        "links": links(list(job.parts), files),
    }
