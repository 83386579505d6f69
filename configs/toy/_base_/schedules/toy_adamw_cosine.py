# Optimizer and learning rate of the toy runs: AdamW, a linear warmup, then a cosine decay to
# 1/100 over the epochs. The toy detectors take it as it is (toy_schedule_8e.py); the toy
# pretraining (configs/toy/sa-resnet50_1xb64_toy-shapes-cls.py) with its own lr, warmup and epochs.
max_epochs = 8

# fused AdamW: one kernel for all parameters (its gain: docs/toy_data.md)
optim_wrapper = dict(
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
