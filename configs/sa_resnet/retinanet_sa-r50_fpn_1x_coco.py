_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['sa_mmdet'], allow_failed_imports=False)

# ImageNet-pretrained SA-ResNet-50 from the official SA-Net release
# (see README: "Pretrained SA-Net weights").
model = dict(
    backbone=dict(
        type='SAResNet',
        init_cfg=dict(
            type='Pretrained', checkpoint='checkpoints/sa_resnet50.pth.tar')))
