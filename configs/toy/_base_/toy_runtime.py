# Schedule and runtime of the toy detectors: SA-R50 from scratch on the toy
# shapes, batch 4, 8 epochs (800 iterations) on 2 CPU cores.
_base_ = 'mmdet::_base_/default_runtime.py'

max_epochs = 8
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# fused AdamW: one kernel for all parameters (the optimizer step took 100 of the 530 ms of a
# toy Faster R-CNN training step on 2 cores, 50 fused; tools/analysis_tools/profile_train_step.py)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05, fused=True),
    clip_grad=dict(max_norm=10, norm_type=2),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min_ratio=0.01,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True,
    ),
]
auto_scale_lr = dict(enable=False, base_batch_size=4)

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
