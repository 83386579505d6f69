# SA-R50 pretrained on the toy shapes crops (configs/toy/sa-resnet50_1xb64_toy-shapes-cls.py,
# then tools/model_converters/sanet2mmdet.py), loaded as users load the official SA-Net weights;
# tools/run_toy.sh makes the checkpoint. BN statistics keep training (the crops' differ from
# whole images'), the stem and stage 1 are frozen; the schedule is the scratch config's (its
# choice and results: docs/toy_data.md).
pretrained = 'checkpoints/sa-resnet50_toy-shapes-cls.pth'
sa_r50_toy_pre = dict(
    frozen_stages=1,
    norm_eval=False,
    init_cfg=dict(_delete_=True, type='SANetPretrained', checkpoint=pretrained),
)
