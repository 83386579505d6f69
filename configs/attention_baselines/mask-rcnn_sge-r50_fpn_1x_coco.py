_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', '../_base_/sa_mmdet_runtime.py']
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))

# From the base's torchvision://resnet50: its plain ImageNet weights, with the attention grafted in
# at a constant gate so that the backbone starts as that ResNet (docs/checkpoints.md).
model = dict(
    backbone=dict(type='AttentionResNet', attention=dict(type='SpatialGroupEnhance', groups=64))
)
