# Schedule of the toy detectors: batch 4, 8 epochs (800 iterations) on 2 CPU cores; COCO AP
# at the middle and at the end (mmengine always validates after the last epoch).
_base_ = './toy_adamw_cosine.py'

train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=_base_.max_epochs, val_interval=_base_.max_epochs // 2
)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='OptimWrapper')
auto_scale_lr = dict(enable=False, base_batch_size=4)
