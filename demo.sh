#!/usr/bin/env bash
# Set up (a .venv beside this file, once) and run zoo's main job on the embedded MNIST sample:
# train LeNet-5, export it and its two parts to ONNX (each checked against Keras), benchmark it.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/zoo ]; then
  "${PYTHON:-python3}" -m venv .venv
  .venv/bin/pip install -qq --upgrade pip
  .venv/bin/pip install -qq -e ".[dev,openvino,opencv]"  # the extras: zoo verify's other runtimes
fi
zoo=.venv/bin/zoo
"$zoo" list
echo
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$zoo" train lenet5 --dataset mnist-sample --epochs 5 --out runs | tee "$log"
run=$(tail -n 1 "$log")
echo
"$zoo" export "$run"
echo
"$zoo" bench "$run/onnx/model.onnx"
