"""ONNX Runtime sessions on the provider asked for, honest about where the nodes really run.

onnxruntime-gpu lists ``CUDAExecutionProvider`` as available even where CUDA cannot load, and
then quietly runs on the CPU; a graph with a node the CUDA provider cannot take runs that node on
the CPU, copying around it, and says nothing at the default log level. So a GPU session is first
created with CPU fallback disabled (``session.disable_cpu_ep_fallback``): ``--provider cuda`` (or
``tensorrt``) is that session or an error naming the nodes; ``auto`` falls back to a mixed
session, listing the nodes that run on the CPU, or to the CPU alone, saying why.
No TensorFlow is imported on this path.
"""

from __future__ import annotations

import functools
import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zoo.bench.feeds import input_feed
from zoo.bench.settings import PROVIDERS, SHORT_NAMES, BenchSettings, SessionSettings
from zoo.bench.watchdog import Watchdog, session_run
from zoo.core.errors import ModelFileError, ProviderUnavailable
from zoo.runs.onnx_trust import check_external_data
from zoo.runtimes.onnxruntime import missing_library


@dataclass
class OpenSession:
    """A session and the truth about it."""

    session: Any
    path: Path
    provider: str  # the short name of the provider that runs the graph: cpu, cuda, tensorrt
    requested: str
    settings: SessionSettings
    fallback: str | None = None  # why the GPU was not used, or used only in part (auto)
    cpu_nodes: list[str] | None = None  # nodes a GPU session runs on the CPU; None for cpu
    create_ms: float = 0.0
    # ``op_type name`` of each node -> the provider that ran it, from ONNX Runtime's profile of
    # one run; None where no profile was needed (the CPU; a strict CUDA session, where every
    # node is on CUDA)
    placements: dict[str, str] | None = None

    @property
    def on_gpu(self) -> bool:
        return self.provider != "cpu"

    @functools.cached_property
    def precision(self) -> str:
        """What ONNX Runtime computes in: the file's own precision (it lowers nothing), ``tf32``
        where a float32 file's matrix maths may use TF32 on the CUDA provider (``--tf32``)."""
        from zoo.runtimes.onnxruntime import file_precision

        written = file_precision(self.path)
        if written == "float32" and "cuda" in self.label.split("+") and self.settings.tf32:
            return "tf32"
        return written

    @property
    def tensorrt_whole(self) -> bool | None:
        """TensorRT runs every node itself (none left to CUDA); None for other providers."""
        if self.provider != "tensorrt":
            return None
        return bool(self.placements) and set(self.placements.values()) == {"tensorrt"}

    @property
    def label(self) -> str:
        """The providers that really run the nodes, ``+``-joined in priority order where more
        than one does: ``tensorrt+cuda`` when TensorRT took only part of the graph, ``cuda+cpu``
        when some nodes run on the CPU."""
        return provider_label(self.placements, self.provider)

    @property
    def nodes_per_provider(self) -> dict[str, int] | None:
        """How many profiled nodes each provider runs (a TensorRT engine counts as one); None
        where no profile was made."""
        return None if self.placements is None else count_nodes(self.placements.values())

    @property
    def cuda_graph(self) -> bool:
        """Whether runs go through a CUDA graph: only when every node is on the GPU."""
        if self.provider == "tensorrt" and not self.tensorrt_whole:
            return False
        return self.on_gpu and self.settings.cuda_graph and self.settings.io_binding and not self.cpu_nodes

    def reopen(self, graph: bool) -> OpenSession:
        """The same session created anew (a CUDA graph is captured for one input shape)."""
        import time

        import onnxruntime as ort

        started = time.perf_counter()
        providers = self.settings.providers(self.provider, graph)
        if self.cpu_nodes:
            providers.append(PROVIDERS["cpu"])
        options = self.settings.options(strict=self.on_gpu and not self.cpu_nodes)
        session = new_session(ort, str(self.path), options, providers)
        return replace(self, session=session, create_ms=(time.perf_counter() - started) * 1e3)


LABEL_ORDER = ("tensorrt", "cuda", "cpu")


def provider_label(placements: dict[str, str] | None, provider: str) -> str:
    """``provider``, or where a profile says where the nodes ran, every provider that ran one,
    ``+``-joined in priority order (``tensorrt+cuda``)."""
    if not placements:
        return provider
    used = set(placements.values())
    return "+".join([p for p in LABEL_ORDER if p in used] + sorted(used - set(LABEL_ORDER)))


def count_nodes(providers: Any) -> dict[str, int]:
    """Provider -> how many of ``providers`` (one entry per node) name it, in priority order."""
    counts: dict[str, int] = {}
    for where in providers:
        counts[where] = counts.get(where, 0) + 1
    order = {p: i for i, p in enumerate(LABEL_ORDER)}
    return dict(sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def new_session(ort: Any, model: str | bytes, options: Any, providers: list[Any]) -> Any:
    """``ort.InferenceSession`` without ONNX Runtime's own Python fallback: left on, a provider
    that fails to load or to run makes it print a banner on stdout (into ``--json``) and retry
    on other providers without their options, so that rows labelled TensorRT or CUDA would come
    from another provider. Here a failure is an exception, reported in one line."""
    return ort.InferenceSession(model, sess_options=options, providers=providers, enable_fallback=0)


def gpu_unavailable_reason(provider: str, available: list[str]) -> str:
    """Why the GPU provider did not come up, as far as can be told without CUDA itself."""
    if PROVIDERS[provider] not in available:
        name = {"cuda": "CUDA", "tensorrt": "TensorRT"}[provider]
        return f"this onnxruntime build has no {name} provider (install onnxruntime-gpu)"
    missing = missing_library(tensorrt=provider == "tensorrt")
    if missing:
        return missing
    return (
        "ONNX Runtime could not load its CUDA provider: the CUDA 13 and cuDNN 9 libraries are "
        "missing (pip install 'onnxruntime-gpu[cuda,cudnn]'; --debug shows ONNX Runtime's log)"
    )


def cuda_unavailable_reason(available: list[str]) -> str:
    return gpu_unavailable_reason("cuda", available)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_file(path: Path) -> None:
    if not path.is_file():
        raise ModelFileError(
            f"Model file {str(path)!r} does not exist"
            if not path.exists()
            else f"{str(path)!r} is not a file"
        )


def open_session(model: str | Path, bench: BenchSettings | None = None) -> OpenSession:
    """A session on ``bench.provider`` (auto, cuda, tensorrt or cpu) with ``bench.session``'s
    options, or an error saying why not.

    ``bench.sizes`` give free axes a size for the one profiled run that finds which nodes a GPU
    session would place on the CPU.
    """
    import time

    import onnxruntime as ort

    bench = bench or BenchSettings()
    provider, settings, sizes, debug = bench.provider, bench.session, bench.sizes, bench.debug
    path = Path(model)
    check_file(path)
    check_external_data(path)  # before ONNX Runtime reads any external data
    available = ort.get_available_providers()
    gpu = "cuda" if provider == "auto" else provider
    fallback = None
    if provider == "auto" and PROVIDERS["cuda"] not in available:
        gpu = "cpu"  # a CPU-only build of ONNX Runtime: nothing fell back
    if gpu != "cpu":
        if PROVIDERS[gpu] in available and PROVIDERS["cuda"] in available:
            started = time.perf_counter()
            session, reason = _gpu_session(ort, path, gpu, settings, debug, available)
            if session is not None:
                opened = OpenSession(
                    session, path, gpu, provider, settings, cpu_nodes=[], create_ms=_ms(started)
                )
                if gpu == "tensorrt":  # it may take only part of the graph, leaving the rest to CUDA
                    opened.placements = node_placements(path, gpu, settings, sizes)
                return opened
            if reason is None:  # the provider works, but not for every node of this graph
                started = time.perf_counter()
                mixed = _mixed_session(ort, path, gpu, settings)
                create_ms = _ms(started)
                placements = node_placements(path, gpu, settings, sizes)
                cpu_nodes = [node for node, where in placements.items() if where == "cpu"]
                reason = f"{len(cpu_nodes)} nodes run on the CPU: {_node_list(cpu_nodes)}"
                if provider != "auto":
                    raise ProviderUnavailable(
                        f"{gpu.upper()} was asked for, but {reason}; run `zoo export` (which makes "
                        f"the graph GPU-ready) or use --provider auto to accept them"
                    )
                return OpenSession(
                    mixed,
                    path,
                    gpu,
                    provider,
                    settings,
                    fallback=reason,
                    cpu_nodes=cpu_nodes,
                    create_ms=create_ms,
                    placements=placements,
                )
        else:
            reason = gpu_unavailable_reason(gpu, available)
        if provider != "auto":
            raise ProviderUnavailable(f"{gpu.upper()} was asked for but cannot be used: {reason}")
        fallback = f"running on the CPU: {reason}"
    started = time.perf_counter()
    try:
        session = new_session(ort, str(path), settings.options(), [PROVIDERS["cpu"]])
    except Exception as exc:
        raise ModelFileError(f"ONNX Runtime cannot load {str(path)!r}: {first_line(exc)}") from exc
    return OpenSession(session, path, "cpu", provider, settings, fallback=fallback, create_ms=_ms(started))


def _ms(started: float) -> float:
    import time

    return round((time.perf_counter() - started) * 1e3, 3)


def _node_list(nodes: list[str], shown: int = 6) -> str:
    listed = ", ".join(nodes[:shown])
    return listed + (f" and {len(nodes) - shown} more" if len(nodes) > shown else "")


# ONNX Runtime's words when a session with CPU fallback disabled has nodes only the CPU takes;
# any other error (out of memory, a provider that fails) is that error, not CPU placement.
REFUSED_CPU_NODES = "assigned to the default CPU EP"


def _gpu_session(
    ort: Any, path: Path, provider: str, settings: SessionSettings, debug: bool, available: list[str]
) -> tuple[Any | None, str | None]:
    """A GPU session without CPU fallback; else None and why: a reason when the provider
    cannot run at all, None when it runs but not every node of this graph."""
    if not debug:
        ort.set_default_logger_severity(4)  # we report a failed load ourselves, in one line
    try:
        session = new_session(
            ort, str(path), settings.options(strict=True), settings.providers(provider, False)
        )
    except Exception as exc:
        if not _gpu_runs_anything(ort, provider):
            return None, gpu_unavailable_reason(provider, available)
        if REFUSED_CPU_NODES in str(exc):  # only this refusal means nodes on the CPU
            return None, None
        raise ModelFileError(f"ONNX Runtime cannot load {str(path)!r}: {first_line(exc)}") from exc
    finally:
        ort.set_default_logger_severity(2)
    if PROVIDERS[provider] not in session.get_providers():
        return None, gpu_unavailable_reason(provider, available)
    return session, ""


def _mixed_session(ort: Any, path: Path, provider: str, settings: SessionSettings) -> Any:
    return new_session(
        ort, str(path), settings.options(), [*settings.providers(provider, False), PROVIDERS["cpu"]]
    )


@functools.cache
def _gpu_runs_anything(ort: Any, provider: str) -> bool:
    """Whether a one-node graph (Add) gets a GPU-only session: tells a provider that cannot
    load apart from a graph it cannot run entirely."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    try:
        probe = SessionSettings()
        session = new_session(
            ort, model.SerializeToString(), probe.options(strict=True), probe.providers(provider, False)
        )
    except Exception:
        return False
    return PROVIDERS[provider] in session.get_providers()


def node_placements(
    path: Path, provider: str, settings: SessionSettings, sizes: dict[str, int] | None = None
) -> dict[str, str]:
    """``op_type name`` of each node -> the provider that ran it, from ONNX Runtime's profile of
    one run at batch 1.

    The profile is the only structured record of placement ONNX Runtime gives (its log needs
    the verbose level and is text). The run is stopped past ``ZOO_RUN_TIMEOUT``.
    """
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="zoo-profile-") as tmp:
        providers = settings.providers(provider, False)
        if provider != "cpu":
            providers = [*providers, PROVIDERS["cpu"]]
        session = new_session(
            ort, str(path), settings.options(profile_prefix=str(Path(tmp) / "run")), providers
        )
        with Watchdog(path) as dog:
            session_run(dog, session, input_feed(session, 1, sizes=sizes), "profiling where its nodes run")
        events = json.loads(Path(session.end_profiling()).read_text(encoding="utf-8"))
    return placements_from_profile(events)


def placements_from_profile(events: list[dict[str, Any]]) -> dict[str, str]:
    """``op_type name`` of each node -> the short name of the provider that ran it, from the
    events of ONNX Runtime's profile (its ``Node`` events ``NAME_kernel_time``)."""
    placements = {}
    for event in events:
        args = event.get("args") or {}
        if event.get("cat") == "Node" and "provider" in args and event["name"].endswith("_kernel_time"):
            node = f"{args.get('op_name', '?')} {event['name'].removesuffix('_kernel_time')}"
            placements[node] = SHORT_NAMES.get(args["provider"], args["provider"])
    return placements


def nodes_on_cpu(
    path: Path, provider: str, settings: SessionSettings, sizes: dict[str, int] | None = None
) -> list[str]:
    """The nodes (``op_type name``, after ONNX Runtime's graph optimizations) that a session on
    ``provider`` runs on the CPU."""
    return [
        node for node, where in node_placements(path, provider, settings, sizes).items() if where == "cpu"
    ]
