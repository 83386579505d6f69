_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

# SA-R50 from scratch (BN statistics trained, nothing frozen); a 128-channel
# FPN, smaller anchors, fewer proposals and RoIs, and 2x2 RoIAlign samples for
# 128 px images on a CPU, pooled by sa_mmdet's multi-threaded RoIAlign (the
# same features as mmcv's, faster on a CPU: docs/performance.md).
model = dict(
    backbone=dict(type='SAResNet', frozen_stages=-1, norm_eval=False, init_cfg=None),
    neck=dict(out_channels=128),
    rpn_head=dict(in_channels=128, feat_channels=128, anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(
            type='FastSingleRoIExtractor', roi_layer=dict(sampling_ratio=2), out_channels=128
        ),
        bbox_head=dict(in_channels=128, fc_out_channels=512, num_classes=4),
    ),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=200), rcnn=dict(sampler=dict(num=64))
    ),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=100)),
)
