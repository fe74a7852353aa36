#!/usr/bin/env bash
# The one-call GPU check of bandts, for a machine that has a GPU but no network (Python 3.12,
# torch with CUDA, no PyCUDA): the PyCUDA wheels travel in the git-ignored .gpu/ folder of the
# repository (see README, "What runs where"). Each step has its own time limit; logs and results
# go to $OUT. Steps:
#   1. the GPU, driver and PyCUDA versions;
#   2. the CUDA kernels against torch on the GPU (tests/kernels/test_kernels_gpu.py);
#   3. bench_gpu.py: FCN training steps (batch 16 / length 270 and 64 / 1024, eager and
#      CUDA-graphed, c = 0 / 0.5 / 0.75, both backends) and the three layers against cuDNN,
#      with max_memory_allocated per step;
#   4. the estimator trained eagerly and with compile_mode="reduce-overhead" (seconds per epoch).
# Usage (from the repository root): OUT=/some/dir bash benchmarks/gpu_check.sh
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
if ls .gpu/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .gpu/*.whl || exit 3
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/env.log"
python3 -c "import torch; print('torch', torch.__version__, torch.version.cuda)" | tee -a "$OUT/env.log"
python3 -c "import pycuda.driver as d; d.init(); print('pycuda', d.get_version())" 2>&1 \
    | tail -1 | tee -a "$OUT/env.log"

echo "== kernels against torch"
timeout 180 python3 -m pytest -p no:cacheprovider -q -rs tests/kernels/test_kernels_gpu.py 2>&1 \
    | tail -15 | tee "$OUT/tests.log"

echo "== bench_gpu"
timeout 300 python3 benchmarks/bench_gpu.py --out "$OUT" 2>&1 | tail -60 | tee "$OUT/bench_gpu.log"

echo "== estimator: eager against compile_mode=reduce-overhead"
timeout 240 python3 - <<'EOF' 2>&1 | tail -20 | tee "$OUT/compile.log"
import time

import numpy as np

from bandts import BandLimitedFCN

rng = np.random.default_rng(0)
X = rng.standard_normal((450, 1, 270)).astype(np.float32)  # FiftyWords' training-set shape
y = rng.integers(0, 50, 450)
for mode in (None, "reduce-overhead"):
    for conv, rate in (("direct", 0.0), ("fft", 0.5), ("fft", 0.75)):
        model = BandLimitedFCN(conv=conv, compress_rate=rate, n_epochs=12, device="cuda",
                               compile_mode=mode, random_state=0)
        start = time.perf_counter()
        model.fit(X, y)
        seconds = [entry["seconds"] for entry in model.history_]
        print(f"compile_mode={mode} {conv} c={rate}: fit {time.perf_counter() - start:.1f} s, "
              f"median epoch of the last 6 {np.median(seconds[-6:]):.4f} s")
EOF
echo "== done"
