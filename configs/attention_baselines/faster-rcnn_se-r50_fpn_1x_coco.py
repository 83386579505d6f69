_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', '../_base_/sa_mmdet_runtime.py']
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))

# SENet's form, with FC biases (dict(type='SqueezeExcitation', bias=False) drops them), from
# mmpretrain's ImageNet SE-ResNet-50, whose backbone keys are these.
model = dict(
    backbone=dict(
        type='AttentionResNet',
        attention=dict(type='SqueezeExcitation', ratio=16),
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/se-resnet/se-resnet50_batch256_imagenet_20200804-ae206104.pth',  # noqa: E501
        ),
    )
)
