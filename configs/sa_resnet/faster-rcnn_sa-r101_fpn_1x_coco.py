_base_ = './faster-rcnn_sa-r50_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='SANetPretrained', checkpoint='checkpoints/sa_resnet101.pth.tar'),
    )
)
