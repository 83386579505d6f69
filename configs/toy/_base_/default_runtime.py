# Runtime of the toy detectors: logging, checkpoints every epoch, the sa_mmdet imports and hooks.
_base_ = 'mmdet::_base_/default_runtime.py'

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    # a checkpoint every epoch, written atomically (sa_mmdet.engine): a run killed at any
    # point after the first epoch resumes with --resume; one kept (~320 MB with AdamW)
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=1),
    visualization=dict(type='DetVisualizationHook', draw=False),
)
log_processor = dict(type='LogProcessor', window_size=10, by_epoch=True)
randomness = dict(seed=0, deterministic=False)

# The SA models, the checked COCO dataset, and the engine helpers below.
custom_imports = dict(
    imports=['sa_mmdet', 'sa_mmdet.datasets', 'sa_mmdet.engine'], allow_failed_imports=False
)
# Distributed training also on CPU-only machines (gloo); mmengine's Runner on GPUs.
runner_type = 'CPUAwareRunner'
custom_hooks = [
    # checkpoints that torch's weights-only loading reads (mim test, --resume)
    dict(type='WeightsOnlyCheckpointHook'),
    # checkpoint the random generators, so that --resume continues bit-exactly
    dict(type='RandomStateHook'),
]
