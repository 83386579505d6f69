# SE-ResNet-50 in SENet's form, with FC biases (dict(type='SqueezeExcitation', bias=False) drops
# them), from mmpretrain's ImageNet SE-ResNet-50, whose backbone keys are these; with sa_mmdet's
# runtime, which registers AttentionResNet.
_base_ = '../../_base_/sa_mmdet_runtime.py'

se_resnet50 = dict(
    type='AttentionResNet',
    attention=dict(type='SqueezeExcitation', ratio=16),
    init_cfg=dict(
        type='Pretrained',
        prefix='backbone.',
        checkpoint='https://download.openmmlab.com/mmclassification/v0/se-resnet/se-resnet50_batch256_imagenet_20200804-ae206104.pth',  # noqa: E501
    ),
)
