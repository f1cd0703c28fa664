"""What each exported file says about itself (``metadata_props``), so that it can travel alone."""

from __future__ import annotations

import json

import onnx

from zoo.api import FULL, ExportJob, __version__


def describe(
    job: ExportJob, stage: str, names: dict[str, list[str]], layout: str, precision: str
) -> dict[str, str]:
    """The file's provenance: zoo, architecture, plugin, part, task, data, layout, labels, metrics."""
    config = job.run.config
    metrics = {k: v for k, v in job.run.metrics.items() if k.startswith("test_")}
    return {
        "zoo.version": __version__,
        "zoo.architecture": job.spec.name,
        "zoo.plugin": f"{job.spec.plugin} {config.get('plugin_version') or ''}".strip(),
        "zoo.part": stage,
        "zoo.parts": json.dumps([FULL, *job.parts]),
        "zoo.task": job.spec.task,
        "zoo.dataset": str(config.get("dataset", "")),
        "zoo.preprocessing": json.dumps(config.get("preprocessing", [])),
        "zoo.input_range": "[0, 1] float32",
        "zoo.layout": layout.upper(),
        "zoo.precision": precision,
        "zoo.class_labels": json.dumps(config.get("class_names", [])),
        "zoo.inputs": json.dumps(names["inputs"]),
        "zoo.outputs": json.dumps(names["outputs"]),
        "zoo.training_metrics": json.dumps(metrics),
        "zoo.untrained": json.dumps(bool(job.options.get("untrained"))),
    }


def set_metadata(proto: onnx.ModelProto, values: dict[str, str]) -> None:
    """Set ``values`` in ``metadata_props``, replacing keys already there."""
    keep = [p for p in proto.metadata_props if p.key not in values]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    for key, value in values.items():
        proto.metadata_props.add(key=key, value=value)


def read(proto: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in proto.metadata_props}
