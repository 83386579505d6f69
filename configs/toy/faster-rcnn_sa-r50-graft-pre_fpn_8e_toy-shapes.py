_base_ = './faster-rcnn_sa-r50-pre_fpn_8e_toy-shapes.py'

# SA-R50 grafted exactly into the plain ResNet-50 pretrained on the toy crops with the SA
# pretraining's budget: the toy twin of configs/sa_resnet/*-tv-pre_*. tools/run_toy.sh makes
# the checkpoint (the classifier's, read under backbone.); toy_ab.py --models R50-pre SA-graft
# SA-pre compares the three starts.
pretrain_config = 'configs/toy/resnet50_1xb64_toy-shapes-cls.py'
pretrained = 'checkpoints/resnet50_toy-shapes-cls.pth'
model = dict(
    backbone=dict(
        init_cfg=dict(_delete_=True, type='Pretrained', prefix='backbone.', checkpoint=pretrained)
    )
)
