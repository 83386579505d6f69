_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'

# SA-R50 from scratch (BN statistics trained, nothing frozen); a 128-channel
# FPN and head, and anchors from 16 px for 128 px images on a CPU.
model = dict(
    backbone=dict(type='SAResNet', frozen_stages=-1, norm_eval=False, init_cfg=None),
    neck=dict(out_channels=128),
    bbox_head=dict(
        num_classes=4,
        in_channels=128,
        feat_channels=128,
        anchor_generator=dict(octave_base_scale=2),
    ),
    test_cfg=dict(nms_pre=500),
)
