"""Inference benchmarks through ONNX Runtime: settings, sessions, input feeds, timing, a file,
a whole run, --tune, --isolate, the machine (NVML) and the plot. No TensorFlow at import."""
