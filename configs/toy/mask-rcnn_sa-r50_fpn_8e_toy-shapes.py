# The Faster R-CNN toy detector plus mmdet's Mask R-CNN mask branch (the
# differences between mmdet's faster-rcnn_r50_fpn.py and mask-rcnn_r50_fpn.py),
# with a 2-conv, 128-channel mask head.
_base_ = './faster-rcnn_sa-r50_fpn_8e_toy-shapes.py'

model = dict(
    type='MaskRCNN',
    data_preprocessor=dict(pad_mask=True),
    roi_head=dict(
        mask_roi_extractor=dict(
            type='FastSingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=128,
            featmap_strides=[4, 8, 16, 32],
        ),
        mask_head=dict(
            type='FCNMaskHead',
            num_convs=2,
            in_channels=128,
            conv_out_channels=128,
            num_classes=4,
            loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0),
        ),
    ),
    train_cfg=dict(rcnn=dict(assigner=dict(match_low_quality=True), mask_size=28)),
    test_cfg=dict(rcnn=dict(mask_thr_binary=0.5)),
)

val_evaluator = dict(metric=['bbox', 'segm'])
test_evaluator = val_evaluator
