# What every sa_mmdet COCO config adds to mmdet's runtime: our modules, and checkpoints that
# torch's weights-only loading reads (mim test, --resume). mmengine refuses a key that two bases
# set, so each config also says default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
# (written atomically, the previous one removed only after the new one is complete).
custom_imports = dict(imports=['sa_mmdet', 'sa_mmdet.engine'], allow_failed_imports=False)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
