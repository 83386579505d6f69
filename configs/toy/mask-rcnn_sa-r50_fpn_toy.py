_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    './_base_/toy-coco_instance.py', './_base_/toy_runtime.py'
]
custom_imports = dict(imports=['sa_mmdet'], allow_failed_imports=False)

# As faster-rcnn_sa-r50_fpn_toy.py, plus a 2-conv, 128-channel mask head.
model = dict(
    backbone=dict(
        type='SAResNet', frozen_stages=-1, norm_eval=False, init_cfg=None),
    neck=dict(out_channels=128),
    rpn_head=dict(
        in_channels=128,
        feat_channels=128,
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=128),
        bbox_head=dict(in_channels=128, fc_out_channels=512, num_classes=4),
        mask_roi_extractor=dict(out_channels=128),
        mask_head=dict(
            num_convs=2,
            in_channels=128,
            conv_out_channels=128,
            num_classes=4)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=100)))

val_evaluator = dict(metric=['bbox', 'segm'])
test_evaluator = val_evaluator
