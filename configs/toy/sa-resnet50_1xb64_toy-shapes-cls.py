# Pretraining SA-ResNet-50 with mmpretrain on the toy shapes classification set
# (tools/dataset_converters/generate_toy_classification.py: 32x32 crops of the
# four shapes and of background, cut from images drawn as the toy detection
# set's), for the toy detectors' backbone (configs/toy/*_sa-r50-pre_*):
#
#   mim train mmpretrain configs/toy/sa-resnet50_1xb64_toy-shapes-cls.py --gpus 0
#
# (without torchvision, as on this project's tested stack: PYTHONPATH=tools/stack_shims first,
# as tools/run_toy.sh does)
#
# The backbone is mmdet's SAResNet registered into mmpretrain (sa_mmdet.pretrain),
# so the checkpoint's `backbone.*` keys are the detector's and SANetPretrained
# reads it as it is (the classifier's `head.fc.*` is left over).
_base_ = ['mmpretrain::_base_/default_runtime.py', './_base_/schedules/toy_adamw_cosine.py']
custom_imports = dict(imports=['sa_mmdet.pretrain', 'sa_mmdet.engine'], allow_failed_imports=False)
# checkpoints that torch's weights-only loading reads (the detectors' init_cfg)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]

classes = ('circle', 'square', 'triangle', 'star', 'background')
data_root = 'data/toy_cls/'
# 7 epochs: the toy Faster R-CNN's AP follows the backbone's (docs/toy_data.md)
max_epochs = 7

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='SAResNet',
        depth=50,
        sa_groups=64,
        out_indices=(3,),
        style='pytorch',
        norm_eval=False,
        zero_init_residual=True,
    ),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=len(classes),
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1,),
    ),
)
data_preprocessor = dict(
    num_classes=len(classes),
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
dataset = dict(type='CustomDataset', data_root=data_root, metainfo=dict(classes=classes))
train_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        **dataset, ann_file='meta/train.txt', data_prefix='train', pipeline=train_pipeline
    ),
)
val_dataloader = dict(
    batch_size=100,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**dataset, ann_file='meta/val.txt', data_prefix='val', pipeline=test_pipeline),
)
val_evaluator = dict(type='Accuracy', topk=(1,))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# the toy detectors' optimizer and learning-rate schedule, at a higher lr and a shorter warmup
optim_wrapper = dict(optimizer=dict(lr=3e-3))
param_scheduler = [
    dict(_base_.param_scheduler[0], end=30),
    dict(_base_.param_scheduler[1], T_max=max_epochs, end=max_epochs),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)  # top-1 at the end
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    # every epoch, written atomically: a killed run resumes (sa_mmdet.engine)
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=1),
)
randomness = dict(seed=0, deterministic=False)
