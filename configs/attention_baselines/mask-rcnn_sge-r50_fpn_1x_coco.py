_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['sa_mmdet', 'sa_mmdet.engine'], allow_failed_imports=False)

# ImageNet weights not shipped; the official sge_resnet50 (implus/PytorchInsight) has these keys.
model = dict(
    backbone=dict(
        type='AttentionResNet', attention=dict(type='SpatialGroupEnhance', groups=64), init_cfg=None
    )
)
# checkpoints that torch's weights-only loading reads (mim test, --resume)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
# checkpoints written atomically, the previous one removed only after (sa_mmdet.engine)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
