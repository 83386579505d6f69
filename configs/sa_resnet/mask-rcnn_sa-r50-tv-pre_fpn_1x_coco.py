_base_ = './mask-rcnn_sa-r50_fpn_1x_coco.py'

# torchvision's ImageNet ResNet-50, SA grafted in exactly (docs/checkpoints.md)
model = dict(
    backbone=dict(
        init_cfg=dict(_delete_=True, type='Pretrained', checkpoint='torchvision://resnet50')
    )
)
