#!/usr/bin/env bash
# The toy main job, end to end on a CPU, as a user runs the SA-Net flow with
# the official ImageNet weights, on embedded data:
#   1 install      tools/install.sh (unless SKIP_INSTALL=1)
#   2 data         generate the toy detection set (data/toy_coco) and the toy
#                  classification set of shape and background crops (data/toy_cls)
#   3 pretrain     `mim train mmpretrain` SA-ResNet-50 on the crops
#   4 convert      tools/model_converters/sanet2mmdet.py checks every backbone key
#                  and writes the checkpoint the detector's init_cfg names (for a
#                  type='Pretrained' init_cfg the classifier's checkpoint is copied:
#                  a plain ResNet, which Pretrained grafts SA into exactly)
#   5 train        `mim train mmdet` the detector from that backbone
#   6 test         `mim test mmdet`: COCO AP from pycocotools, painted predictions
# Stages 3-4 run only for configs whose backbone init_cfg names a checkpoint
# (configs/toy/*-pre_*); the *_sa-r50_* configs train from scratch. The pretraining
# config is the detector config's `pretrain_config` (default: the SA-ResNet-50 one).
#
# Usage: bash tools/run_toy.sh [CONFIG] [EXTRA ARGS FOR mmdet's train.py AND test.py]
#   CONFIG defaults to configs/toy/faster-rcnn_sa-r50-pre_fpn_8e_toy-shapes.py (also when
#   the first argument is an option); extra args, e.g. --cfg-options train_cfg.max_epochs=1,
#   go to both train and test.
# Environment:
#   SKIP_INSTALL=1   do not run tools/install.sh (the stack is already there)
#   RETRAIN=1        pretrain and train again even if their work dirs are finished
#   WORK_DIR         default work_dirs/<config name>
#   PRETRAIN_CONFIG  default: the config's pretrain_config, else
#                    configs/toy/sa-resnet50_1xb64_toy-shapes-cls.py
#   PRETRAIN_ONLY=1  stop after stage 4 (the checkpoint the detector starts from)
#   PRETRAIN_ARGS    extra args for mmpretrain's train.py (split on spaces)
#   VIRTUAL_ENV      the venv to use, default ./.venv (as tools/install.sh)
#
# A re-run skips every stage whose output exists: the data sets (deterministic;
# delete data/toy_coco or data/toy_cls to regenerate), a finished pretraining or
# training (a `finished` file beside last_checkpoint in its work dir), a converted
# checkpoint newer than the pretraining's. A pretraining or training that was
# interrupted resumes from its last checkpoint (--resume).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
config=configs/toy/faster-rcnn_sa-r50-pre_fpn_8e_toy-shapes.py
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then  # a first argument that is not an option
  config=$1
  shift
fi
extra=("$@")
name=$(basename "$config" .py)
work_dir=${WORK_DIR:-work_dirs/$name}
read -r -a pretrain_args <<< "${PRETRAIN_ARGS:-}"
coco_dir=data/toy_coco  # where configs/toy/ read them
cls_dir=data/toy_cls
venv=${VIRTUAL_ENV:-$repo/.venv}
py="$venv/bin/python"
job_start=$SECONDS
stage=setup

log() { echo "[run_toy] $*"; }
on_error() {
  [ -n "${cls_pid:-}" ] && kill "$cls_pid" 2>/dev/null  # a data set still being generated
  echo "[run_toy] FAILED in stage '$stage': $1" >&2
  exit 1
}
# Run a stage: STAGE, HINT (what to do if it fails), then the command.
run_stage() {
  stage=$1
  local hint=$2 start=$SECONDS
  shift 2
  "$@" || on_error "$hint"
  log "stage $stage took $(( SECONDS - start )) s"
}
# A training stage writes WORK_DIR/finished when it completes; one that was interrupted after
# a checkpoint (the toy configs keep one every epoch) resumes from it on the next run.
finished() {  # a work dir whose training completed, unless RETRAIN=1
  [ "${RETRAIN:-0}" != 1 ] && [ -f "$1/finished" ] && [ -f "$1/last_checkpoint" ] \
    && [ -f "$(cat "$1/last_checkpoint")" ]
}
resume_args() {  # --resume for a work dir with a checkpoint of an interrupted run
  if [ "${RETRAIN:-0}" != 1 ] && [ -f "$1/last_checkpoint" ]; then
    log "resuming the interrupted run in $1 from $(cat "$1/last_checkpoint")" >&2
    echo --resume
  fi
}

if [ ! -f "$config" ]; then
  echo "[run_toy] error: config $config not found; the toy configs are:" >&2
  ls configs/toy/*.py >&2
  exit 1
fi

log "1/6 install"
if [ "${SKIP_INSTALL:-0}" = 1 ]; then
  log "SKIP_INSTALL=1: using $venv as it is"
else
  run_stage install "see the messages of tools/install.sh above; re-run it alone to retry" \
    bash tools/install.sh
fi
[ -x "$py" ] || { stage=install; on_error "no Python at $py; run tools/install.sh or set VIRTUAL_ENV"; }

# The checkpoint the detector's backbone init_cfg loads (if any), its init type, the pretraining.
stage=config
read -r pretrained init_type config_pretrain < <("$py" - "$config" <<'EOF'
import sys

from mmengine.config import Config

cfg = Config.fromfile(sys.argv[1], import_custom_modules=False)
init_cfg = cfg.model.backbone.get('init_cfg') or {}
default = 'configs/toy/sa-resnet50_1xb64_toy-shapes-cls.py'
print(init_cfg.get('checkpoint', '-'), init_cfg.get('type', '-'), cfg.get('pretrain_config', default))
EOF
) || on_error "$config does not load; see the error above"
[ -n "${init_type:-}" ] || on_error "$config does not load; see the error above"
[ "$pretrained" = - ] && pretrained=
pretrain_config=${PRETRAIN_CONFIG:-$config_pretrain}
pretrain_dir=work_dirs/$(basename "$pretrain_config" .py)

log "2/6 data"
# The detection set, and the classification set if the detector starts from a pretraining:
# generated side by side (one core each).
cls_pid=
if [ -n "$pretrained" ]; then
  if [ -f "$cls_dir/meta/train.txt" ] && [ -f "$cls_dir/meta/val.txt" ]; then
    log "toy classification set found in $cls_dir (delete it to regenerate)"
  else
    "$py" tools/dataset_converters/generate_toy_classification.py "$cls_dir" &
    cls_pid=$!
  fi
fi
if [ -f "$coco_dir/annotations/instances_train.json" ] \
    && [ -f "$coco_dir/annotations/instances_val.json" ]; then
  log "toy detection set found in $coco_dir (delete it to regenerate)"
else
  run_stage data "is sa_mmdet importable by $py? delete $coco_dir and re-run" \
    "$py" tools/dataset_converters/generate_toy_coco.py "$coco_dir"
fi
if [ -n "$cls_pid" ]; then
  run_stage data "is sa_mmdet importable by $py? delete $cls_dir and re-run" wait "$cls_pid"
fi

if [ -z "$pretrained" ]; then
  log "3/6 pretrain, 4/6 convert: skipped, $config trains from scratch"
else
  log "3/6 pretrain $pretrain_config"
  if finished "$pretrain_dir"; then
    log "$pretrain_dir already has $(cat "$pretrain_dir/last_checkpoint"); skipping (RETRAIN=1 to redo)"
  else
    rm -f "$pretrain_dir/finished"
    read -r -a resume <<< "$(resume_args "$pretrain_dir")"
    # mmpretrain imports torchvision, which the tested stack lacks: its stand-in, for this stage only
    shims=
    "$py" -c 'import torchvision' 2>/dev/null || shims=$repo/tools/stack_shims
    run_stage pretrain "see the error above (log in $pretrain_dir); mmpretrain must be installed (pip install -e '.[pretrain]')" \
      env PYTHONPATH="${shims:+$shims:}${PYTHONPATH:-}" "$py" -m mim train mmpretrain "$pretrain_config" --gpus 0 --work-dir "$pretrain_dir" \
      "${resume[@]}" "${pretrain_args[@]}"
    touch "$pretrain_dir/finished"
  fi
  classifier=$(cat "$pretrain_dir/last_checkpoint")

  log "4/6 convert $classifier -> $pretrained"
  if [ -f "$pretrained" ] && [ "$pretrained" -nt "$classifier" ]; then
    log "$pretrained is newer than $classifier; skipping (delete it to convert again)"
  elif [ "$init_type" = SANetPretrained ]; then
    run_stage convert "$classifier is not an SA-ResNet checkpoint that fits; delete $pretrain_dir and pretrain again" \
      "$py" tools/model_converters/sanet2mmdet.py "$classifier" "$pretrained"
  else  # type='Pretrained' checks (and grafts) at init
    mkdir -p "$(dirname "$pretrained")"
    run_stage convert "cannot copy $classifier to $pretrained" cp "$classifier" "$pretrained"
  fi
fi
if [ "${PRETRAIN_ONLY:-0}" = 1 ]; then
  log "PRETRAIN_ONLY=1: ${pretrained:-no checkpoint needed} for $config; done in $(( SECONDS - job_start )) s"
  exit 0
fi

log "5/6 train $config"
if finished "$work_dir"; then
  log "$work_dir already has $(cat "$work_dir/last_checkpoint"); skipping training (RETRAIN=1 to train again)"
else
  log "progress is logged every 10 iterations"
  rm -f "$work_dir/finished"
  read -r -a resume <<< "$(resume_args "$work_dir")"
  run_stage train "the log is in $work_dir; fix the cause and re-run (finished stages are skipped, an interrupted one resumes)" \
    "$py" -m mim train mmdet "$config" --gpus 0 --work-dir "$work_dir" "${resume[@]}" "${extra[@]}"
  touch "$work_dir/finished"
fi
checkpoint=$(cat "$work_dir/last_checkpoint")

log "6/6 test $checkpoint"
run_stage test "the detector checkpoint is $checkpoint; delete $work_dir to train again" \
  "$py" -m mim test mmdet "$config" --checkpoint "$checkpoint" \
  --work-dir "$work_dir" --show-dir show "${extra[@]}"
show=$(ls -td "$work_dir"/*/show 2>/dev/null | head -n 1)
log "done in $(( SECONDS - job_start )) s: checkpoint $checkpoint, logs in $work_dir, painted predictions in ${show:-$work_dir/<timestamp>/show}"
