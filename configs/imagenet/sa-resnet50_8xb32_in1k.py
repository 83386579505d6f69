# SA-ResNet-50 ImageNet-1k pretraining with mmpretrain, for detector backbones.
# Needs `pip install -e ".[pretrain]"` (mmpretrain 1.2.0).
#
# The SA-Net paper's recipe (arXiv 2102.00240): SGD, lr 0.1 at batch 256
# (8 GPUs x 32 images), momentum 0.9, weight decay 1e-4, 100 epochs, lr / 10
# at epochs 30, 60 and 90, linear warmup over the first 5 epochs; random
# 224 x 224 crops + horizontal flips for training, short side resized to 256
# and a center 224 x 224 crop for evaluation (mmpretrain's imagenet_bs32
# pipelines). SA: G = 64 groups; cweight = sweight = 0 and cbias = sbias = 1
# at init (ShuffleAttention's own init, untouched by the init_cfg).
#
#   mim train mmpretrain configs/imagenet/sa-resnet50_8xb32_in1k.py \
#       --launcher pytorch --gpus 8
#   # then, for the COCO configs:
#   python tools/model_converters/sanet2mmdet.py \
#       work_dirs/sa-resnet50_8xb32_in1k/epoch_100.pth checkpoints/sa_resnet50.pth.tar
#
# The backbone is mmdet's SAResNet registered into mmpretrain
# (sa_mmdet.pretrain), so the checkpoint's `backbone.*` keys are the
# detector's; init_cfg=dict(type='SANetPretrained', checkpoint=...) also reads
# the mmpretrain checkpoint as it is.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['sa_mmdet.pretrain', 'sa_mmdet.engine'], allow_failed_imports=False)
# checkpoints that torch's weights-only loading reads (the detectors' init_cfg,
# mim test, --resume)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
# checkpoints written atomically, the previous one removed only after (sa_mmdet.engine)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))

model = dict(
    backbone=dict(
        _delete_=True,
        type='SAResNet',
        depth=50,
        sa_groups=64,
        out_indices=(3,),
        style='pytorch',
        # mmdet's defaults suit fine-tuning a pretrained detector backbone;
        # pretraining updates BatchNorm statistics and, like the official
        # torchvision-based code, does not zero-init the last BN of blocks.
        norm_eval=False,
        zero_init_residual=False,
    )
)

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.001,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True,
    ),
    dict(type='MultiStepLR', by_epoch=True, milestones=[30, 60, 90], gamma=0.1),
]
