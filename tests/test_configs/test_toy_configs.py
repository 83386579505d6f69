import glob
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from sa_mmdet.models import SAResNet
from toy_coco import CLASSES as TOY_CLASSES
from toy_coco import generate_toy_coco

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ALL_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'toy', '*.py')))
# Detectors from scratch, detectors from the toy-pretrained backbone, the pretraining.
SCRATCH = [c for c in ALL_CONFIGS if '_sa-r50_fpn_' in c]
PRETRAINED = [c for c in ALL_CONFIGS if '_sa-r50-pre_fpn_' in c]
PRETRAIN = osp.join(REPO, 'configs', 'toy', 'sa-resnet50_1xb64_toy-shapes-cls.py')
TOY_CONFIGS = SCRATCH + PRETRAINED
# SE, ECA, SGE and CBAM from scratch: the toy A/B's other models (toy_ab.py runs R50 and SA).
ATTENTION_BASELINES = sorted(
    glob.glob(osp.join(REPO, 'configs', 'attention_baselines', 'toy', '*-r50_fpn_8e_toy-shapes.py'))
)
SEGM = {'mask-rcnn_sa-r50_fpn_8e_toy-shapes.py', 'mask-rcnn_sa-r50-pre_fpn_8e_toy-shapes.py'}
CONVERTED = 'checkpoints/sa-resnet50_toy-shapes-cls.pth'


def test_there_is_a_toy_config_per_detector():
    assert [osp.basename(c) for c in ALL_CONFIGS] == [
        'faster-rcnn_sa-r50-graft-pre_fpn_8e_toy-shapes.py',
        'faster-rcnn_sa-r50-pre_fpn_8e_toy-shapes.py',
        'faster-rcnn_sa-r50_fpn_8e_toy-shapes.py',
        'mask-rcnn_sa-r50-pre_fpn_8e_toy-shapes.py',
        'mask-rcnn_sa-r50_fpn_8e_toy-shapes.py',
        'resnet50_1xb64_toy-shapes-cls.py',
        'retinanet_sa-r50-pre_fpn_8e_toy-shapes.py',
        'retinanet_sa-r50_fpn_8e_toy-shapes.py',
        'sa-resnet50_1xb64_toy-shapes-cls.py',
    ]


def test_plain_pretraining_has_the_sa_pretrainings_recipe_and_budget():
    plain = Config.fromfile(osp.join(REPO, 'configs', 'toy', 'resnet50_1xb64_toy-shapes-cls.py'))
    sa = Config.fromfile(PRETRAIN)
    assert plain.model.backbone.pop('type') == 'ResNet'
    assert sa.model.backbone.pop('type') == 'SAResNet' and sa.model.backbone.pop('sa_groups') == 64
    for key in ('model', 'train_dataloader', 'optim_wrapper', 'param_scheduler', 'train_cfg'):
        assert plain[key] == sa[key], key


def test_the_three_toy_starts_differ_only_in_backbone_and_checkpoint():
    # R50 from R50-pre, SA-R50 grafted from R50-pre, SA-R50 from SA-R50-pre (toy_ab.py)
    graft = Config.fromfile(
        osp.join(REPO, 'configs/toy/faster-rcnn_sa-r50-graft-pre_fpn_8e_toy-shapes.py')
    )
    plain = Config.fromfile(
        osp.join(REPO, 'configs/attention_baselines/toy/faster-rcnn_r50-pre_fpn_8e_toy-shapes.py')
    )
    sa_pre = Config.fromfile(
        osp.join(REPO, 'configs/toy/faster-rcnn_sa-r50-pre_fpn_8e_toy-shapes.py')
    )
    expected = dict(
        type='Pretrained', prefix='backbone.', checkpoint='checkpoints/resnet50_toy-shapes-cls.pth'
    )
    for cfg in (graft, plain):
        assert cfg.pretrain_config == 'configs/toy/resnet50_1xb64_toy-shapes-cls.py'
        assert cfg.model.backbone.pop('init_cfg') == expected
    assert sa_pre.model.backbone.pop('init_cfg').type == 'SANetPretrained'
    assert (plain.model.backbone.pop('type'), graft.model.backbone.pop('type')) == (
        'ResNet',
        'SAResNet',
    )
    sa_pre.model.backbone.pop('type')
    assert plain.model == graft.model == sa_pre.model
    for key in ('train_dataloader', 'optim_wrapper', 'param_scheduler', 'train_cfg'):
        assert plain[key] == graft[key] == sa_pre[key], key


@pytest.mark.parametrize('config', PRETRAINED, ids=osp.basename)
def test_pretrained_toy_detector_is_the_scratch_one_with_the_pretrained_backbone(config):
    cfg = Config.fromfile(config)
    scratch = Config.fromfile(config.replace('-pre_fpn_8e_', '_fpn_8e_'))
    init_cfg = cfg.model.backbone.pop('init_cfg')
    assert init_cfg == dict(type='SANetPretrained', checkpoint=CONVERTED)
    scratch.model.backbone.pop('init_cfg')
    for key in ('frozen_stages', 'norm_eval'):
        scratch.model.backbone.pop(key)
        cfg.model.backbone.pop(key)
    assert cfg.model == scratch.model
    assert cfg.train_dataloader == scratch.train_dataloader
    assert cfg.optim_wrapper == scratch.optim_wrapper  # the same lr (docs/toy_data.md)
    assert cfg.val_evaluator == scratch.val_evaluator


def test_pretraining_config_builds_an_sa_resnet50_classifier_of_the_toy_crops(sa_mmdet_pretrain):
    from toy_classification import CLASSES

    cfg = Config.fromfile(PRETRAIN)
    assert cfg.default_scope == 'mmpretrain'
    for loader in ('train_dataloader', 'val_dataloader'):
        assert cfg[loader].dataset.data_root == 'data/toy_cls/'
        assert tuple(cfg[loader].dataset.metainfo.classes) == CLASSES
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = sa_mmdet_pretrain.MODELS.build(cfg.model)
    assert type(model.backbone) is SAResNet and model.backbone.depth == 50
    assert model.head.fc.out_features == len(CLASSES)


@pytest.mark.parametrize('config', SCRATCH, ids=osp.basename)
def test_toy_config_loads_and_builds_sa_r50_from_scratch(config):
    cfg = Config.fromfile(config)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert tuple(cfg[loader].dataset.metainfo.classes) == TOY_CLASSES
    metrics = cfg.val_evaluator.metric
    expected = ['bbox', 'segm'] if osp.basename(config) in SEGM else 'bbox'
    assert metrics == expected
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    assert isinstance(model.backbone, SAResNet)
    # From scratch: mmdet's ResNet falls back to Kaiming/constant init.
    assert cfg.model.backbone.init_cfg is None
    assert model.backbone.depth == 50
    assert 'Pretrained' not in str(model.backbone.init_cfg)
    heads = [getattr(model, name, None) for name in ('bbox_head', 'roi_head')]
    head = next(h for h in heads if h is not None)
    bbox_head = getattr(head, 'bbox_head', head)
    assert bbox_head.num_classes == len(TOY_CLASSES)
    if osp.basename(config) in SEGM:
        assert head.mask_head.num_classes == len(TOY_CLASSES)


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_coco')
    generate_toy_coco(str(root), num_train=2, num_val=2, image_size=176)
    return str(root)


@pytest.fixture(scope='module')
def toy_pretrained(tmp_path_factory):
    """An mmpretrain-layout SA-ResNet-50 classifier checkpoint (random weights)."""
    state_dict = {f'backbone.{k}': v for k, v in SAResNet(depth=50).state_dict().items()}
    state_dict.update({'head.fc.weight': torch.zeros(5, 2048), 'head.fc.bias': torch.zeros(5)})
    path = tmp_path_factory.mktemp('pretrained') / 'epoch_2.pth'
    torch.save(dict(state_dict=state_dict), path)
    return str(path)


def tiny_run_cfg(config: str, data_root: str, work_dir: str, pretrained: str = '') -> Config:
    """The toy config on 2+2 images at 96 px, one epoch of 2 iterations."""
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    if cfg.model.backbone.init_cfg:
        cfg.model.backbone.init_cfg.checkpoint = pretrained
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].batch_size = 1
        cfg[loader].num_workers = 0
        dataset = cfg[loader].dataset
        dataset.data_root = data_root
        for transform in dataset.pipeline:
            if transform.type == 'Resize':
                transform.scale = (96, 96)
    for evaluator in ('val_evaluator', 'test_evaluator'):
        cfg[evaluator].ann_file = osp.join(data_root, 'annotations', 'instances_val.json')
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_begin = 2  # evaluated by runner.test() instead
    cfg.default_hooks.checkpoint.update(interval=1, save_optimizer=False)
    cfg.default_hooks.logger.interval = 1
    # Keep the top boxes of an untrained model, so that COCOeval has results.
    test_cfg = cfg.model.test_cfg
    (test_cfg.rcnn if 'rcnn' in test_cfg else test_cfg).update(score_thr=0.0, max_per_img=20)
    return cfg


def train_only(cfg: Config) -> tuple:
    """Train ``cfg`` without validation or checkpoints: the runner and its last loss."""
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner, runner.message_hub.get_scalar('train/loss').current()


# Faster R-CNN takes this path through tools/run_toy.sh (tests/test_tools/test_run_toy.py).
@pytest.mark.slow
@pytest.mark.parametrize(
    'config', [c for c in TOY_CONFIGS if 'faster-rcnn' not in c], ids=osp.basename
)
def test_toy_detector_trains_saves_and_tests_with_cocoeval(
    config, toy_root, toy_pretrained, tmp_path
):
    cfg = tiny_run_cfg(config, toy_root, str(tmp_path), toy_pretrained)
    runner = Runner.from_cfg(cfg)
    runner.train()
    checkpoint = tmp_path / 'epoch_1.pth'
    assert checkpoint.is_file() and runner.iter == 2
    assert (tmp_path / 'last_checkpoint').read_text() == str(checkpoint)
    del runner

    # As `mim test ... --checkpoint epoch_1.pth --show-dir show`: a fresh
    # runner loads the checkpoint (weights-only), evaluates with pycocotools
    # and paints every test image.
    cfg = tiny_run_cfg(config, toy_root, str(tmp_path), toy_pretrained)
    cfg.load_from = str(checkpoint)
    cfg.default_hooks.visualization.update(draw=True, test_out_dir='show')
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    iou_types = ['bbox', 'segm'] if osp.basename(config) in SEGM else ['bbox']
    for iou_type in iou_types:
        for key in ('mAP', 'mAP_50', 'mAP_s', 'mAP_m', 'mAP_l'):
            value = metrics[f'coco/{iou_type}_{key}']
            assert value == -1 or 0 <= value <= 1
    painted = glob.glob(str(tmp_path / '*' / 'show' / '*.jpg'))
    assert sorted(osp.basename(p) for p in painted) == ['000001.jpg', '000002.jpg']


@pytest.mark.slow
def test_toy_detector_trains_with_mmengines_compile_option(toy_root, tmp_path):
    # cfg.compile: mmengine wraps the model's train_step in torch.compile. Dynamo's eager
    # backend captures the same graphs Inductor would compile, SA included, without minutes of
    # code generation on 2 cores (tests/test_ops traces SA-R50 through AOTAutograd).
    config = [c for c in TOY_CONFIGS if 'faster-rcnn' in c][0]
    cfg = tiny_run_cfg(config, toy_root, str(tmp_path))
    cfg.compile = dict(backend='eager')
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1)  # one compile, one step
    runner, loss = train_only(cfg)
    assert runner.iter == 1
    assert loss == loss and loss > 0  # finite, trained through the compiled step


@pytest.mark.slow
@pytest.mark.parametrize('config', ATTENTION_BASELINES, ids=osp.basename)
def test_toy_attention_baseline_trains(config, toy_root, tmp_path):
    runner, loss = train_only(tiny_run_cfg(config, toy_root, str(tmp_path)))
    assert runner.iter == 2
    assert loss == loss and loss > 0
