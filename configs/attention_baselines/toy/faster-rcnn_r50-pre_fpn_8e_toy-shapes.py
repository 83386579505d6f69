_base_ = '../../toy/faster-rcnn_sa-r50-graft-pre_fpn_8e_toy-shapes.py'

# The plain ResNet-50 pretrained on the toy crops, in the toy Faster R-CNN: the reference of
# the grafted SA-R50 (only the backbone type differs).
model = dict(backbone=dict(type='ResNet'))
