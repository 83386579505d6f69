# Schedule of the toy detectors: batch 4, 8 epochs (800 iterations) on 2 CPU cores; COCO AP
# at the middle and at the end (mmengine always validates after the last epoch).
max_epochs = 8
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs // 2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# fused AdamW: one kernel for all parameters (its gain: docs/toy_data.md)
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
