#!/usr/bin/env bash
# Install sa_mmdet and its tested stack into a virtual environment.
#
# Usage: bash tools/install.sh            # creates/uses ./.venv
#        VIRTUAL_ENV=/path bash tools/install.sh   # uses an activated venv
#        SA_MMDET_EXTRAS= bash tools/install.sh    # without mmpretrain
#
# Order matters: torch first (an installed torch, e.g. a CUDA build, is kept),
# then build tools, then mmcv 2.1.0 compiled from source with ops against that
# torch (~10 min on 2 cores the first time; pip caches the wheel, so re-runs
# take seconds), then mmengine/mmdet/pycocotools/openmim and sa_mmdet itself.
# pip may warn that openxlab (pulled in by openmim for downloads) wants
# setuptools~=60.2; nothing here uses openxlab.
# torchvision is never installed: its only wheel here breaks mmengine's runner.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${VIRTUAL_ENV:-$repo/.venv}
if [ ! -x "$venv/bin/python" ]; then
  echo "[install] creating virtual environment $venv"
  "${PYTHON:-python3}" -m venv "$venv"
fi
py="$venv/bin/python"
pip=("$py" -m pip install --disable-pip-version-check)

has() { "$py" -c "$1" >/dev/null 2>&1; }

if has 'import torch'; then
  echo "[install] keeping installed torch $("$py" -c 'import torch; print(torch.__version__)')"
else
  "${pip[@]}" torch==2.13.0
fi

"${pip[@]}" -q "mmengine==0.10.7"

if has 'import mmcv, mmcv.ops; assert mmcv.__version__.startswith("2.1.")'; then
  echo "[install] keeping installed mmcv $("$py" -c 'import mmcv; print(mmcv.__version__)') (with ops)"
else
  echo "[install] building mmcv 2.1.0 with ops (first time ~10 min, then cached by pip)"
  # setuptools<70 builds mmcv 2.1.0; torch asks for >=77, restored below (no conflict warning
  # for the moment in between)
  "${pip[@]}" -q --no-warn-conflicts "setuptools<70" wheel ninja
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} "${pip[@]}" --no-warn-conflicts --no-build-isolation \
    "mmcv==2.1.0"
  "${pip[@]}" -q --no-warn-conflicts "setuptools>=77.0.3,<81"
fi

"${pip[@]}" -q "mmdet==3.3.0" pycocotools
# openmim without its download backend (opendatalab -> openxlab, which pins
# setuptools~=60.2 and would make pip report a dependency conflict on every
# run): mim's train/test/search commands do not use it.
if ! has 'import mim'; then
  "${pip[@]}" -q --no-deps "openmim==0.3.9"
  "${pip[@]}" -q Click colorama model-index pandas requests rich tabulate
fi
# Extras (setup.py): "tests" (pytest, pytest-xdist, ruff), "pretrain" (mmpretrain 1.2.0),
# "deploy" (onnx, onnxscript, onnxruntime), "triton" (Triton kernels; on a CPU
# their tests run in Triton's interpreter). SA_MMDET_EXTRAS= installs none.
extras=${SA_MMDET_EXTRAS-tests,pretrain,deploy,triton}
# torch 2.13 needs setuptools>=77.0.3; mmengine 0.10.7 imports pkg_resources,
# which setuptools 81 removed.
has 'import setuptools; from packaging.version import Version as V; assert V("77.0.3") <= V(setuptools.__version__) < V("81")' \
  || "${pip[@]}" -q --no-warn-conflicts "setuptools>=77.0.3,<81"
# sa_mmdet itself, editable, compiling the SA CPU kernel (sa_mmdet._ext); a
# re-run skips the build when the kernel is newer than its sources and
# setup.py, and only checks the extras. --use-pep517: setuptools 80 otherwise
# runs a legacy `setup.py develop` that builds in an isolated environment
# without torch and skips the kernel.
ext=$(ls "$repo"/sa_mmdet/_ext*.so 2>/dev/null | head -n 1 || true)
if [ -n "$ext" ] && [ -z "$(find "$repo/setup.py" "$repo/sa_mmdet/ops/csrc" -newer "$ext" -type f)" ] \
    && [ -e "$repo/sa_mmdet/.mim/configs" ] && has 'import sa_mmdet._ext'; then
  echo "[install] sa_mmdet and its SA kernel are up to date"
  if [ -n "$extras" ]; then
    "${pip[@]}" -q $(for e in ${extras//,/ }; do echo -r "$repo/requirements/$e.txt"; done)
  fi
else
  echo "[install] building sa_mmdet and its SA CPU kernel (about 1-2 minutes)"
  "${pip[@]}" -q --no-build-isolation --use-pep517 -e "$repo${extras:+[$extras]}"
fi

# mmengine and mim look for a package's configs (sa_mmdet/.mim) next to its
# distribution, which an editable (PEP 660) install does not have there: link
# the checkout's package into site-packages (for `mim search sa_mmdet` and
# `sa_mmdet::` config names).
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ -L "$site/sa_mmdet" ] || [ ! -e "$site/sa_mmdet" ]; then
  ln -sfn "$repo/sa_mmdet" "$site/sa_mmdet"
fi

if has 'import torchvision'; then
  echo "[install] error: torchvision is installed in $venv; it breaks mmengine's runner here." >&2
  echo "[install] remove it with: $py -m pip uninstall -y torchvision" >&2
  exit 1
fi
"$py" -c 'import sa_mmdet, mmcv.ops, mmdet; print(f"[install] ok: sa_mmdet {sa_mmdet.__version__}, mmdet {mmdet.__version__}, mmcv {mmcv.__version__}")' 2>/dev/null \
  || { "$py" -c 'import sa_mmdet'; exit 1; }
echo "[install] done; activate with: source $venv/bin/activate"
