#!/usr/bin/env bash
# GPU check of the Shuffle Attention operator: the CUDA tests, then the benchmark
# (official form eager / torch.compile / ours, bandwidth against the device's peak,
# SA-R50 vs ResNet-50 train step with AMP at 2x3x800x1344). About 5 minutes on one H200.
#
# Usage: bash tools/gpu_check.sh [OUT_DIR]        (default: $OUT, else work_dirs/gpu_check)
# Environment:
#   PYTHON   the Python with a CUDA build of torch and Triton (default: python3)
#   WHEELS   a folder of wheels to install first into a private site dir (for a bare GPU image
#            without mmengine/mmcv/mmdet: mmengine, mmdet, mmcv built without ops, and their
#            pure-Python dependencies); nothing is downloaded
#
# The check needs no mmcv op: where mmcv was installed without its compiled ops, a stand-in
# `mmcv._ext` lets mmdet's model modules import, and any mmcv op raises if called.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
out=${1:-${OUT:-work_dirs/gpu_check}}
mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
start=$SECONDS
step() { echo; echo "[gpu_check $(( SECONDS - start )) s] $*"; }

step "device and stack"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv || true
if [ -n "${WHEELS:-}" ]; then
  site=$(mktemp -d /tmp/sa_mmdet_site.XXXX)
  "$py" -m pip install -q --no-index --no-deps --no-compile --target "$site" "$WHEELS"/*.whl
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
"$py" - <<'EOF'
import importlib.util, os
import mmcv
ext = os.path.join(os.path.dirname(mmcv.__file__), '_ext.py')
if importlib.util.find_spec('mmcv._ext') is None:
    with open(ext, 'w') as f:  # mmcv without compiled ops: a stand-in, every op raises
        f.write('def __getattr__(name):\n'
                '    def missing(*args, **kwargs):\n'
                '        raise RuntimeError(f"mmcv op {name} is not compiled here")\n'
                '    return missing\n')
    print(f'mmcv {mmcv.__version__} has no compiled ops: wrote the stand-in {ext}')
EOF
"$py" -c "import torch, triton, mmcv, mmengine, mmdet, sa_mmdet; from sa_mmdet.ops import sa_backend; \
print(f'torch {torch.__version__} (CUDA {torch.version.cuda}), triton {triton.__version__}, mmcv {mmcv.__version__}, \
mmengine {mmengine.__version__}, mmdet {mmdet.__version__}; {torch.cuda.get_device_name()}; \
SA backend on cuda: {sa_backend(\"cuda\")}')"

step "CUDA tests (Triton kernels vs the paper's equations, compile, AMP)"
# a failing test is reported and the benchmark still runs
"$py" -m pytest -q -p no:cacheprovider tests/test_ops/test_shuffle_attention_cuda.py \
  2>&1 | tee "$out/tests.txt" || echo "CUDA TESTS FAILED (see $out/tests.txt)"

step "benchmark, float32 SA layers and AMP backbones"
"$py" tools/analysis_tools/benchmark_sa.py --device cuda 2>&1 | tee "$out/benchmark.txt"

step "benchmark, float16 SA layers (what AMP hands SA)"
"$py" tools/analysis_tools/benchmark_sa.py --device cuda --dtype float16 --skip-backbone --no-compile \
  2>&1 | tee "$out/benchmark_fp16.txt"

step "done; logs in $out"
