_base_ = ['./mask-rcnn_sa-r50_fpn_8e_toy-shapes.py', './_base_/sa-r50-toy-pre.py']

model = dict(backbone=_base_.sa_r50_toy_pre)
