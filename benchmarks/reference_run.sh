#!/usr/bin/env bash
# The GPU reference run of chapter 08, as one script (about 10 minutes on one H100 or H200).
#
#   benchmarks/reference_run.sh            # from the repository root, on a machine with CUDA
#
# 1. a 20-second smoke run (tiny evaluation) catches a broken CUDA setup or graph capture early;
# 2. the reference run: `python -m aevae_lib reproduce --device cuda` trains for 9 minutes and
#    evaluates -log p(x) with k = 5000 on the 10,000 test images (target: 86.76 nats);
# 3. its JSON goes to benchmarks/results/reference_run.json and the weights to
#    aevae_lib/weights/reference_vae.pt, which chapter 08 evaluates on a CPU.
# MNIST must be reachable (AEVAE_DATA, or ../shared/data); PYTHON defaults to .venv/bin/python
# and needs a CUDA build of torch.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
if [[ -z "${AEVAE_DATA:-}" && -d ../shared/data ]]; then export AEVAE_DATA=$PWD/../shared/data; fi
mkdir -p benchmarks/results aevae_lib/weights
"$PYTHON" -c 'import torch; assert torch.cuda.is_available(), "no CUDA device"; print(torch.__version__, torch.cuda.get_device_name())'
"$PYTHON" -m aevae_lib reproduce --device cuda --minutes 0.3 --k 50 --n-test 500 \
  --save /tmp/aevae_smoke.pt --json > benchmarks/results/reference_smoke.json
"$PYTHON" -c 'import json; r = json.load(open("benchmarks/results/reference_smoke.json")); print("smoke:", {k: r[k] for k in ("cuda_graphs", "ms_per_step", "epochs", "test_nll_iw")})'
"$PYTHON" -m aevae_lib reproduce --device cuda --json "$@" \
  --save aevae_lib/weights/reference_vae.pt > benchmarks/results/reference_run.json
"$PYTHON" -c 'import json; r = json.load(open("benchmarks/results/reference_run.json")); print({k: r[k] for k in ("test_nll_iw", "k", "n_test", "meets_target", "train_s", "eval_s", "epochs", "cuda_graphs", "device")})'
