_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', './_base_/se-resnet50.py']
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))

model = dict(backbone=_base_.se_resnet50)
