# Pretraining a plain ResNet-50 on the toy shapes crops with the SA-ResNet-50 pretraining's
# recipe and budget, for the toy detectors that start from a plain ResNet
# (configs/attention_baselines/toy/*_r50-pre_* and configs/toy/*_sa-r50-graft-pre_*, where
# Pretrained grafts SA into it exactly). mmpretrain's ResNet has mmdet's keys; sa_mmdet.pretrain
# stays imported: without torchvision it stops at once, naming the fix (tools/stack_shims).
_base_ = './sa-resnet50_1xb64_toy-shapes-cls.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=50,
        out_indices=(3,),
        style='pytorch',
        norm_eval=False,
        zero_init_residual=True,
    )
)
