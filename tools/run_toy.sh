#!/usr/bin/env bash
# The toy main job, end to end on a CPU: install, generate the toy shapes
# dataset, train a detector with SA-ResNet-50 from scratch (`mim train`), then
# test its last checkpoint (`mim test`): COCO AP from pycocotools is printed and
# painted predictions are written under the work dir.
#
# Usage: bash tools/run_toy.sh [CONFIG] [EXTRA ARGS FOR mmdet's train.py AND test.py]
#   CONFIG defaults to configs/toy/faster-rcnn_sa-r50_fpn_toy.py; extra args,
#   e.g. --cfg-options train_cfg.max_epochs=1, go to both train and test.
# Environment:
#   SKIP_INSTALL=1   do not run tools/install.sh (the stack is already there)
#   RETRAIN=1        train again even if WORK_DIR holds a finished training
#   WORK_DIR         default work_dirs/<config name>
#   VIRTUAL_ENV      the venv to use, default ./.venv (as tools/install.sh)
#
# Re-running is quick: the dataset is generated only if its annotation files
# are missing (it is deterministic; delete data/toy_coco to regenerate), and
# training is skipped when WORK_DIR already has a final checkpoint.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
config=${1:-configs/toy/faster-rcnn_sa-r50_fpn_toy.py}
shift $(( $# > 0 ? 1 : 0 ))
extra=("$@")
name=$(basename "$config" .py)
work_dir=${WORK_DIR:-work_dirs/$name}
data_dir=data/toy_coco  # where configs/toy/ read it
venv=${VIRTUAL_ENV:-$repo/.venv}
py="$venv/bin/python"
if [ ! -f "$config" ]; then
  echo "[run_toy] error: config $config not found; the toy configs are:" >&2
  ls configs/toy/*.py >&2
  exit 1
fi

if [ "${SKIP_INSTALL:-0}" = 1 ]; then
  echo "[run_toy] SKIP_INSTALL=1: using $venv as it is"
else
  bash tools/install.sh
fi

if [ -f "$data_dir/annotations/instances_train.json" ] \
    && [ -f "$data_dir/annotations/instances_val.json" ]; then
  echo "[run_toy] toy dataset found in $data_dir (delete it to regenerate)"
else
  echo "[run_toy] generating the toy dataset in $data_dir"
  "$py" tools/dataset_converters/generate_toy_coco.py "$data_dir"
fi

last="$work_dir/last_checkpoint"
if [ "${RETRAIN:-0}" != 1 ] && [ -f "$last" ] && [ -f "$(cat "$last")" ]; then
  echo "[run_toy] $work_dir already has $(cat "$last"); skipping training (RETRAIN=1 to train again)"
else
  echo "[run_toy] training $config (progress is logged every 10 iterations)"
  start=$SECONDS
  "$py" -m mim train mmdet "$config" --gpus 0 --work-dir "$work_dir" "${extra[@]}"
  echo "[run_toy] training took $(( SECONDS - start )) s"
fi
checkpoint=$(cat "$last")

echo "[run_toy] testing $checkpoint"
"$py" -m mim test mmdet "$config" --checkpoint "$checkpoint" \
  --work-dir "$work_dir" --show-dir show "${extra[@]}"
show=$(ls -td "$work_dir"/*/show 2>/dev/null | head -n 1)
echo "[run_toy] done: checkpoint $checkpoint, logs in $work_dir, painted predictions in ${show:-$work_dir/<timestamp>/show}"
