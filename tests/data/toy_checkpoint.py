"""A toy detector checkpoint written by mmengine's runner with WeightsOnlyCheckpointHook.

Loaded by path (``import_tool('tests/data/toy_checkpoint.py')``): ``make_toy_checkpoint``
writes 2+2 toy images and trains a toy config for 2 iterations at 96 px, which is what
``mim train`` does, so the checkpoint holds what real ones hold (message hub, metas).
"""

import os.path as osp
from pathlib import Path

from mmengine.config import Config
from mmengine.runner import Runner

from toy_coco import generate_toy_coco


def make_toy_checkpoint(config: str, work_dir: Path) -> Path:
    """Train ``config`` for 2 iterations in ``work_dir``; return its ``epoch_1.pth``."""
    data_root = str(work_dir / 'toy_coco')
    generate_toy_coco(data_root, num_train=2, num_val=2, image_size=176)
    cfg = Config.fromfile(config)
    cfg.work_dir = str(work_dir)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].batch_size = 1
        cfg[loader].num_workers = 0
        cfg[loader].dataset.data_root = data_root
        for transform in cfg[loader].dataset.pipeline:
            if transform.type == 'Resize':
                transform.scale = (96, 96)
    for evaluator in ('val_evaluator', 'test_evaluator'):
        cfg[evaluator].ann_file = osp.join(data_root, 'annotations', 'instances_val.json')
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_begin = 2
    cfg.default_hooks.checkpoint.update(interval=1, save_optimizer=False)
    Runner.from_cfg(cfg).train()
    checkpoint = work_dir / 'epoch_1.pth'
    assert checkpoint.is_file()
    return checkpoint
