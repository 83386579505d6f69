_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['sa_mmdet', 'sa_mmdet.engine'], allow_failed_imports=False)

# ImageNet-pretrained SA-ResNet-50 from the official SA-Net release, every key
# checked (see README: "Pretrained SA-Net weights").
model = dict(
    backbone=dict(
        type='SAResNet',
        init_cfg=dict(type='SANetPretrained', checkpoint='checkpoints/sa_resnet50.pth.tar'),
    )
)
# checkpoints that torch's weights-only loading reads (mim test, --resume)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
# checkpoints written atomically, the previous one removed only after (sa_mmdet.engine)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
