#!/usr/bin/env bash
# The checks to run the moment a GPU is available (about 8 minutes on one H200):
#   bash benchmarks/gpu_check.sh        # on the GPU
#   bash benchmarks/gpu_check.sh --cpu  # the same on the CPU, quickly, to check the script works
# 1. the tests whose code paths change with the device (training, chunks, strategies, R3GAN);
# 2. benchmarks/gpu_check.py: the default fine-tune and pretraining throughput, one table.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--cpu" ]]; then
    export CUDA_VISIBLE_DEVICES=""
fi
python -m pytest -q -x tests/test_trainer.py tests/test_chunks.py tests/test_r3gan.py tests/test_strategies.py \
    tests/test_faults.py -k "not forked"
python benchmarks/gpu_check.py "$@"
