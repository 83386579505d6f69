_base_ = '../../toy/faster-rcnn_sa-r50_fpn_8e_toy-shapes.py'

# The toy Faster R-CNN with a plain ResNet-50 (from scratch, nothing frozen): the A/B's
# reference (tools/analysis_tools/toy_ab.py). Only the backbone differs from the SA config.
# The RoI extractor (FastSingleRoIExtractor) is still sa_mmdet's: the base's imports stay.
model = dict(backbone=dict(type='ResNet'))
