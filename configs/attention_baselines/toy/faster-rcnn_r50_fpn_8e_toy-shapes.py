_base_ = '../../toy/faster-rcnn_sa-r50_fpn_8e_toy-shapes.py'

# The toy Faster R-CNN with a plain ResNet-50 (from scratch, nothing frozen): the A/B's
# reference (tools/analysis_tools/toy_ab.py). Only the backbone differs from the SA config.
model = dict(backbone=dict(type='ResNet'))
# mmdet's ResNet needs no sa_mmdet model; the dataset and the engine hooks do.
custom_imports = dict(imports=['sa_mmdet.datasets', 'sa_mmdet.engine'], allow_failed_imports=False)
