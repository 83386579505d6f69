_base_ = './mask-rcnn_sa-r50_fpn_8e_toy-shapes.py'

# SA-R50 pretrained on the toy shapes crops (configs/toy/sa-resnet50_1xb64_toy-shapes-cls.py,
# then tools/model_converters/sanet2mmdet.py), loaded as users load the official SA-Net weights;
# tools/run_toy.sh makes the checkpoint. BN statistics keep training (the crops' differ from
# whole images'), the stem and stage 1 are frozen; 6 epochs instead of 8, the same lr
# (2e-3 gave 0.361 bbox mAP for Faster R-CNN after 4 epochs, 1e-3 0.406; docs/toy_data.md).
pretrained = 'checkpoints/sa-resnet50_toy-shapes-cls.pth'
model = dict(
    backbone=dict(
        frozen_stages=1,
        norm_eval=False,
        init_cfg=dict(_delete_=True, type='SANetPretrained', checkpoint=pretrained),
    )
)
max_epochs = 6
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min_ratio=0.01,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True,
    ),
]
