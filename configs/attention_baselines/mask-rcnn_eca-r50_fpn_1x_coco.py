_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['sa_mmdet', 'sa_mmdet.engine'], allow_failed_imports=False)

# ImageNet weights not shipped; the official eca_resnet50_k3557.pth.tar (BangguWu/ECANet) has
# these keys with kernel sizes (3, 5, 5, 7): pass one attention dict per stage to load it.
model = dict(
    backbone=dict(
        type='AttentionResNet', attention=dict(type='EfficientChannelAttention'), init_cfg=None
    )
)
# checkpoints that torch's weights-only loading reads (mim test, --resume)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
# checkpoints written atomically, the previous one removed only after (sa_mmdet.engine)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
