"""ImageNet pretraining with mmpretrain (optional extra) and its path to the detector.

Skipped where mmpretrain is not installed (``pip install -e ".[pretrain]"``).
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

pytest.importorskip('mmpretrain')

from mmcv import imwrite  # noqa: E402
from mmpretrain.registry import MODELS  # noqa: E402

from sa_mmdet.models import SAResNet, ShuffleAttention  # noqa: E402
from sa_mmdet.models.weight_init import convert_sanet_state_dict  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs' / 'imagenet' / 'sa-resnet50_8xb32_in1k.py'
CLASSES = ('n01440764', 'n01443537')


@pytest.fixture(scope='module', autouse=True)
def registered(sa_mmdet_pretrain):
    """SAResNet registered in mmpretrain (conftest's ``sa_mmdet_pretrain``)."""


def test_sa_resnet_registered_in_mmpretrain():
    assert MODELS.get('SAResNet') is SAResNet


def test_config_states_the_paper_recipe():
    cfg = Config.fromfile(CONFIG)
    assert cfg.custom_imports.imports == ['sa_mmdet.pretrain', 'sa_mmdet.engine']
    assert cfg.custom_hooks == [dict(type='WeightsOnlyCheckpointHook')]
    backbone = cfg.model.backbone
    assert (backbone.type, backbone.depth, backbone.sa_groups) == ('SAResNet', 50, 64)
    assert backbone.out_indices == (3,)
    assert (backbone.norm_eval, backbone.zero_init_residual) == (False, False)
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum) == ('SGD', 0.1, 0.9)
    assert optimizer.weight_decay == 1e-4
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 256
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end, warmup.by_epoch) == ('LinearLR', 0, 5, True)
    assert (steps.type, steps.milestones, steps.gamma) == ('MultiStepLR', [30, 60, 90], 0.1)
    assert cfg.train_cfg.max_epochs == 100
    train = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    assert train['RandomResizedCrop'].scale == 224 and train['RandomFlip'].prob == 0.5
    test = {t.type: t for t in cfg.val_dataloader.dataset.pipeline}
    assert (test['ResizeEdge'].scale, test['ResizeEdge'].edge) == (256, 'short')
    assert test['CenterCrop'].crop_size == 224


def test_classifier_builds_with_sa_init():
    cfg = Config.fromfile(CONFIG)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        classifier = MODELS.build(cfg.model)
    classifier.init_weights()
    assert isinstance(classifier.backbone, SAResNet)
    sa_layers = [m for m in classifier.backbone.modules() if isinstance(m, ShuffleAttention)]
    assert len(sa_layers) == 16 and all(m.groups == 64 for m in sa_layers)
    for sa in sa_layers:
        assert torch.all(sa.cweight == 0) and torch.all(sa.sweight == 0)
        assert torch.all(sa.cbias == 1) and torch.all(sa.sbias == 1)
    # Same keys as the detector backbone, under backbone.
    assert [k for k in classifier.state_dict() if k.startswith('backbone.')] == [
        f'backbone.{k}' for k in SAResNet(depth=50).state_dict()
    ]
    classifier.eval()
    assert tuple(classifier(torch.rand(2, 3, 64, 64)).shape) == (2, 1000)


@pytest.fixture(scope='module')
def tiny_imagenet(tmp_path_factory):
    """2 classes x 4 train images (train/<wnid>/*.JPEG), 4 flat val images, meta/*.txt."""
    root = tmp_path_factory.mktemp('imagenet')
    rng = np.random.default_rng(0)
    lines = {'train': [], 'val': []}
    for label, wnid in enumerate(CLASSES):
        for i in range(4):
            name = f'{wnid}/{wnid}_{i}.JPEG'
            imwrite(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8), str(root / 'train' / name))
            lines['train'].append(f'{name} {label}')
        for i in range(2):
            name = f'ILSVRC2012_val_{2 * label + i + 1:08d}.JPEG'
            imwrite(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8), str(root / 'val' / name))
            lines['val'].append(f'{name} {label}')
    (root / 'meta').mkdir()
    for split, split_lines in lines.items():
        (root / 'meta' / f'{split}.txt').write_text('\n'.join(split_lines) + '\n')
    return root


@pytest.fixture(scope='module')
def pretrained_checkpoint(tiny_imagenet, tmp_path_factory, run_python, pretrain_env):
    """One epoch of the config through `mim train`, shrunk to 32 px crops on CPU."""
    work_dir = tmp_path_factory.mktemp('work_dir')
    options = {
        'train_dataloader.dataset.data_root': tiny_imagenet,
        'val_dataloader.dataset.data_root': tiny_imagenet,
        'train_dataloader.batch_size': 4,
        'val_dataloader.batch_size': 4,
        'train_dataloader.num_workers': 0,
        'val_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.persistent_workers': False,
        'train_dataloader.dataset.pipeline.1.scale': 32,
        'val_dataloader.dataset.pipeline.1.scale': 36,
        'val_dataloader.dataset.pipeline.2.crop_size': 32,
        'model.head.num_classes': 2,
        'data_preprocessor.num_classes': 2,
        'model.head.topk': '1,',
        'val_evaluator.topk': '1,',
        'train_cfg.max_epochs': 1,
        'default_hooks.logger.interval': 1,
        'randomness.seed': 0,
    }
    result = run_python(
        '-m',
        'mim',
        'train',
        'mmpretrain',
        CONFIG,
        '--gpus',
        0,
        '--work-dir',
        work_dir,
        '--cfg-options',
        *(f'{k}={v}' for k, v in options.items()),
        env=pretrain_env,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert 'Epoch(train) [1][2/2]' in log and 'Epoch(val) [1][1/1]' in log, log[-4000:]
    return work_dir / 'epoch_1.pth'


@pytest.mark.slow
def test_pretrained_checkpoint_loads_into_detector_backbone(
    pretrained_checkpoint, tmp_path, run_converter
):
    # weights-only (torch's default) works: the run had the WeightsOnlyCheckpointHook
    checkpoint = torch.load(pretrained_checkpoint)
    backbone = {
        k[len('backbone.') :]: v
        for k, v in checkpoint['state_dict'].items()
        if k.startswith('backbone.')
    }
    assert sorted(k for k in checkpoint['state_dict'] if not k.startswith('backbone.')) == [
        'head.fc.bias',
        'head.fc.weight',
    ]
    # The SA parameters were trained away from their init.
    assert not torch.all(backbone['layer4.2.sa.cbias'] == 1)

    conversion = convert_sanet_state_dict(checkpoint['state_dict'])
    assert (conversion.depth, conversion.sa_groups) == (50, 64)
    assert conversion.leftovers == ['head.fc.weight', 'head.fc.bias']

    dst = tmp_path / 'sa_resnet50.pth'
    result = run_converter(pretrained_checkpoint, dst)
    assert result.returncode == 0, result.stderr
    for source in (pretrained_checkpoint, dst):
        model = SAResNet(depth=50, init_cfg=dict(type='SANetPretrained', checkpoint=str(source)))
        model.init_weights()
        for key, value in model.state_dict().items():
            torch.testing.assert_close(value, backbone[key], rtol=0, atol=0, msg=key)
