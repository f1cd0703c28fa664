"""What a benchmark is asked to do, as typed objects: ``SessionSettings`` (the ONNX Runtime
options that change the numbers) inside ``BenchSettings`` (where, which batch sizes, how long).

One ``BenchSettings`` travels from the command line to every session, measurement and report,
and across ``--isolate``'s process boundary as JSON. zoo's defaults are the configuration
measured fastest on an H200 for these networks (``docs/gpu.md``). Nothing here imports ONNX
Runtime at module level, so ``zoo --help`` stays light.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from zoo.core.errors import InvalidOption, ProviderUnavailable

PROVIDERS = {
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
SHORT_NAMES = {v: k for k, v in PROVIDERS.items()}
PROVIDER_CHOICES = ("auto", *PROVIDERS)
OPTIMIZATION_LEVELS = ("disable", "basic", "extended", "all")
CONV_ALGO_SEARCHES = ("heuristic", "exhaustive", "default")
# The runtimes zoo bench times (zoo verify checks more); ONNX Runtime is the default.
BENCH_RUNTIMES = ("onnxruntime", "openvino")
# OpenVINO's inference precision: ``default`` is what its CPU plugin picks (bfloat16 on a CPU with
# AVX-512 BF16 or AMX), read back; the others are asked for with INFERENCE_PRECISION_HINT.
PRECISION_CHOICES = ("default", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class SessionSettings:
    """The session and provider options that change the numbers; recorded with every report.

    zoo's defaults (``docs/gpu.md``): cuDNN's heuristic algorithm choice (ONNX Runtime's default
    exhaustive search picked kernels up to 11 times slower for these small networks), NHWC
    convolutions, a CUDA graph and inputs and outputs bound in device memory. ``ORT_DEFAULTS``
    is ONNX Runtime's own choice. ``threads`` 0 lets ONNX Runtime choose (one intra-op thread per
    physical core); ``spinning`` lets idle intra-op threads spin (ONNX Runtime's default).
    """

    threads: int = 0
    optimization: str = "all"
    spinning: bool = True
    io_binding: bool = True
    conv_algo: str = "heuristic"
    prefer_nhwc: bool = True
    tf32: bool = True
    cuda_graph: bool = True

    def __post_init__(self) -> None:
        if self.optimization not in OPTIMIZATION_LEVELS:
            raise ProviderUnavailable(
                f"Unknown optimization level {self.optimization!r}. "
                f"Available: {', '.join(OPTIMIZATION_LEVELS)}"
            )
        if self.conv_algo not in CONV_ALGO_SEARCHES:
            raise ProviderUnavailable(
                f"Unknown cuDNN algorithm search {self.conv_algo!r}. "
                f"Available: {', '.join(CONV_ALGO_SEARCHES)}"
            )
        if self.threads < 0:
            raise ProviderUnavailable(
                f"threads must be 0 (ONNX Runtime's choice) or more, not {self.threads}"
            )

    def options(self, strict: bool = False, profile_prefix: str | None = None) -> Any:
        """``ort.SessionOptions``; ``strict``: no node may fall back to the CPU."""
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[self.optimization]
        if not self.spinning:
            # Idle intra-op threads spin by default: fast for one session, but two sessions run
            # one after the other (a chain of parts) take each other's cores.
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if strict:
            opts.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
        if profile_prefix:
            opts.enable_profiling = True
            opts.profile_file_prefix = profile_prefix
        return opts

    def cuda_options(self, graph: bool) -> dict[str, str]:
        """The CUDA provider's options (ONNX Runtime takes them as strings)."""
        return {
            "cudnn_conv_algo_search": self.conv_algo.upper(),
            "prefer_nhwc": str(int(self.prefer_nhwc)),
            "use_tf32": str(int(self.tf32)),
            "enable_cuda_graph": str(int(graph)),
        }

    def providers(self, provider: str, graph: bool) -> list[Any]:
        """The provider list for a session on ``provider`` (short name)."""
        if provider == "cpu":
            return [PROVIDERS["cpu"]]
        cuda = (PROVIDERS["cuda"], self.cuda_options(graph and provider == "cuda"))
        if provider == "tensorrt":
            trt = {"trt_cuda_graph_enable": str(int(graph)), "trt_engine_cache_enable": "0"}
            return [(PROVIDERS["tensorrt"], trt), cuda]
        return [cuda]

    def recorded(self, provider: str) -> dict[str, Any]:
        """The settings that apply to ``provider``, for the report."""
        fields = asdict(self)
        if provider == "cpu":
            for key in ("conv_algo", "prefer_nhwc", "tf32", "cuda_graph"):
                fields.pop(key)
        return fields


ORT_DEFAULTS = SessionSettings(
    io_binding=False, conv_algo="exhaustive", prefer_nhwc=False, tf32=True, cuda_graph=False
)


@dataclass(frozen=True)
class BenchSettings:
    """Everything a measurement is asked for.

    ``provider``: auto, cuda, tensorrt or cpu. Each of ``batch_sizes`` is warmed up ``warmup``
    times, then run for ``seconds`` and at least ``min_runs`` times. ``sizes`` give free axes
    (``height``, ``width``, any named one) a size. ``debug`` lets ONNX Runtime's own log through.
    ``runtimes`` are timed one after the other at each batch size on the same inputs (of
    ``BENCH_RUNTIMES``); OpenVINO once per ``precisions`` (``default``: its own choice).
    """

    provider: str = "auto"
    batch_sizes: tuple[int, ...] = (1, 32, 256)
    seconds: float = 1.0
    min_runs: int = 10
    warmup: int = 3
    sizes: dict[str, int] = field(default_factory=dict)
    debug: bool = False
    session: SessionSettings = field(default_factory=SessionSettings)
    runtimes: tuple[str, ...] = ("onnxruntime",)
    precisions: tuple[str, ...] = ("default",)

    def __post_init__(self) -> None:
        if self.provider not in PROVIDER_CHOICES:
            raise ProviderUnavailable(
                f"Unknown provider {self.provider!r}. Available: {', '.join(PROVIDER_CHOICES)}"
            )
        for name in self.runtimes:
            if name not in BENCH_RUNTIMES:
                raise InvalidOption(
                    f"zoo bench times {' and '.join(BENCH_RUNTIMES)}, not {name!r} "
                    f"(`zoo verify --runtime {name}` checks a file there)"
                )
        for precision in self.precisions:
            if precision not in PRECISION_CHOICES:
                raise InvalidOption(
                    f"Unknown precision {precision!r}. Available: {', '.join(PRECISION_CHOICES)}"
                )
        if not self.runtimes or not self.precisions:
            raise InvalidOption("zoo bench needs at least one runtime and one precision")

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "batch_sizes": list(self.batch_sizes),
            "runtimes": list(self.runtimes),
            "precisions": list(self.precisions),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> BenchSettings:
        return cls(
            **{
                **obj,
                "batch_sizes": tuple(obj["batch_sizes"]),
                "session": SessionSettings(**obj["session"]),
                "runtimes": tuple(obj.get("runtimes", ("onnxruntime",))),
                "precisions": tuple(obj.get("precisions", ("default",))),
            }
        )
