_base_ = '../../toy/faster-rcnn_sa-r50_fpn_8e_toy-shapes.py'

# The toy Faster R-CNN with SGE-ResNet-50 (from scratch, nothing frozen), for the A/B against
# SA (tools/analysis_tools/toy_ab.py). Only the backbone differs from the SA config.
model = dict(backbone=dict(type='AttentionResNet', attention=dict(type='SpatialGroupEnhance')))
