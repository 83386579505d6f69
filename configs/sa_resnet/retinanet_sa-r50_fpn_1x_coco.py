_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', '../_base_/sa_mmdet_runtime.py']
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))

# ImageNet-pretrained SA-ResNet-50 from the official SA-Net release, every key checked
# (docs/checkpoints.md); the *_sa-r50-tv-pre_* sibling starts from torchvision's ResNet-50.
model = dict(
    backbone=dict(
        type='SAResNet',
        init_cfg=dict(type='SANetPretrained', checkpoint='checkpoints/sa_resnet50.pth.tar'),
    )
)
