_base_ = 'mmdet::faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py'
custom_imports = dict(imports=['sa_mmdet', 'sa_mmdet.engine'], allow_failed_imports=False)

# ImageNet weights not shipped; mmpretrain's se-resnet101_batch256_imagenet_20200804-ba5b51d4.pth
# has these keys: init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=...).
# SENet's form, with FC biases; dict(type='SqueezeExcitation', bias=False) drops them.
model = dict(
    backbone=dict(
        type='AttentionResNet', attention=dict(type='SqueezeExcitation', ratio=16), init_cfg=None
    )
)
# checkpoints that torch's weights-only loading reads (mim test, --resume)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
# checkpoints written atomically, the previous one removed only after (sa_mmdet.engine)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
