"""tools/run_toy.sh, the main job: every stage hands the next a valid artifact.

The script runs in a scratch root that links this checkout's tools/ and configs/, so data/,
checkpoints/ and work_dirs/ land in tmp_path; tiny data and a few iterations per stage.
"""

import os
import re
import subprocess
import sys

import pytest
import torch

from sa_mmdet.models import SAResNet
from sa_mmdet.models.weight_init import SANetPretrainedInit
from toy_classification import generate_toy_classification
from toy_coco import generate_toy_coco

DETECTOR = 'faster-rcnn_sa-r50-pre_fpn_8e_toy-shapes'
PRETRAIN = 'sa-resnet50_1xb64_toy-shapes-cls'
CONVERTED = 'checkpoints/sa-resnet50_toy-shapes-cls.pth'
HEAD = ['head.fc.weight', 'head.fc.bias']
LOADED = r'Loaded attention ResNet-50 from {} into SAResNet: 414 keys checked; left over: '
TINY_PRETRAIN = ' '.join(
    [
        '--cfg-options',
        'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=4',
        'default_hooks.logger.interval=1',
        *(
            f'{loader}.{key}'
            for loader in ('train_dataloader', 'val_dataloader')
            for key in ('num_workers=0', 'persistent_workers=False')
        ),
    ]
)
TINY_DETECTOR = [
    '--cfg-options',
    'train_cfg.max_epochs=1',
    'train_cfg.val_begin=2',
    'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0',
    'test_dataloader.num_workers=0',
    'default_hooks.checkpoint.save_optimizer=False',
    'model.test_cfg.rcnn.score_thr=0.0',
    'model.test_cfg.rcnn.max_per_img=20',
]


@pytest.fixture
def root(repo, tmp_path):
    """A scratch root with this checkout's tools/ and configs/ and tiny toy data sets."""
    for name in ('tools', 'configs'):
        os.symlink(repo / name, tmp_path / name)
    generate_toy_coco(str(tmp_path / 'data' / 'toy_coco'), num_train=2, num_val=2, image_size=176)
    generate_toy_classification(str(tmp_path / 'data' / 'toy_cls'), num_train=10, num_val=5)
    return tmp_path


def run_toy(repo, root, *args: str, **env: str) -> subprocess.CompletedProcess:
    full_env = dict(
        os.environ,
        SKIP_INSTALL='1',
        VIRTUAL_ENV=sys.prefix,
        PYTHONPATH=os.pathsep.join(filter(None, [str(repo), os.environ.get('PYTHONPATH')])),
        **env,
    )
    cmd = ['bash', str(root / 'tools' / 'run_toy.sh'), *args]
    return subprocess.run(cmd, env=full_env, cwd=root, capture_output=True, text=True)


def test_a_failure_names_the_stage_and_what_to_do(repo, root):
    run = run_toy(repo, root, PRETRAIN_CONFIG='configs/toy/no_such_pretraining.py')
    assert run.returncode == 1
    assert "[run_toy] FAILED in stage 'pretrain': see the error above" in run.stderr
    assert '[run_toy] 5/6 train' not in run.stdout


@pytest.mark.slow
def test_whole_flow_pretrains_converts_trains_tests_and_paints(repo, root):
    run = run_toy(repo, root, *TINY_DETECTOR, PRETRAIN_ARGS=TINY_PRETRAIN)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-5000:]
    for stage in ('pretrain', 'convert', 'train', 'test'):
        assert re.search(rf'\[run_toy\] stage {stage} took \d+ s', out), stage

    # pretrain -> an mmpretrain ImageClassifier checkpoint (weights-only) of SA-ResNet-50.
    classifier = root / 'work_dirs' / PRETRAIN / 'epoch_1.pth'
    state_dict = torch.load(classifier)['state_dict']
    backbone_keys = [f'backbone.{k}' for k in SAResNet(depth=50).state_dict()]
    assert sorted(state_dict) == sorted(backbone_keys + HEAD)
    assert 'accuracy/top1' in out
    # It loads into the detector's backbone as it is: every key found, the head left over.
    conversion = SANetPretrainedInit(checkpoint=str(classifier))(SAResNet(depth=50))
    assert sorted(conversion.leftovers) == sorted(HEAD)
    assert sorted(f'backbone.{k}' for k in conversion.state_dict) == sorted(backbone_keys)

    # convert -> the checkpoint the detector's init_cfg names, every key checked.
    assert f'left over (not saved): {HEAD}' in out
    converted = torch.load(root / CONVERTED)['state_dict']
    for key, value in converted.items():
        assert torch.equal(value, state_dict[f'backbone.{key}']), key

    # train -> the detector started from it; test -> COCO AP and painted predictions.
    assert re.search(LOADED.format(re.escape(CONVERTED)) + 'none', out), out[-5000:]
    assert 'kept their init' not in out
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in out
    assert re.search(r'coco/bbox_mAP: [0-9.]+', out)
    work_dir = root / 'work_dirs' / DETECTOR
    painted = sorted(p.name for p in work_dir.glob('*/show/*.jpg'))
    assert painted == ['000001.jpg', '000002.jpg']

    # A second run finds every stage's output and only tests.
    again = run_toy(repo, root, *TINY_DETECTOR, PRETRAIN_ARGS=TINY_PRETRAIN)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    for found in ('toy detection set found', 'toy classification set found', 'skipping (RETRAIN'):
        assert found in again.stdout
    assert f'{CONVERTED} is newer than' in again.stdout
    assert 'skipping training' in again.stdout
    assert 'stage test took' in again.stdout

    # A training that did not finish (no `finished` file) resumes from its last checkpoint.
    (work_dir / 'finished').unlink()
    resumed = run_toy(repo, root, *TINY_DETECTOR, PRETRAIN_ARGS=TINY_PRETRAIN)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f'resuming the interrupted run in work_dirs/{DETECTOR} from ' in resumed.stderr
    assert 'resumed epoch: 1, iter: 1' in resumed.stdout + resumed.stderr
    assert (work_dir / 'finished').is_file()


@pytest.mark.slow
def test_from_scratch_config_skips_pretraining(repo, root):
    # stopped after stage 4: the train and test stages do not depend on it (whole flow above)
    config = 'configs/toy/faster-rcnn_sa-r50_fpn_8e_toy-shapes.py'
    run = run_toy(repo, root, config, PRETRAIN_ONLY='1')
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f'3/6 pretrain, 4/6 convert: skipped, {config} trains from scratch' in run.stdout
    assert f'PRETRAIN_ONLY=1: no checkpoint needed for {config}' in run.stdout
    assert not (root / 'work_dirs').exists() and not (root / 'checkpoints').exists()


@pytest.mark.slow
def test_graft_config_pretrains_a_plain_resnet_and_stops_with_pretrain_only(repo, root):
    config = 'configs/toy/faster-rcnn_sa-r50-graft-pre_fpn_8e_toy-shapes.py'
    run = run_toy(repo, root, config, PRETRAIN_ARGS=TINY_PRETRAIN, PRETRAIN_ONLY='1')
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert '3/6 pretrain configs/toy/resnet50_1xb64_toy-shapes-cls.py' in run.stdout
    assert 'PRETRAIN_ONLY=1: checkpoints/resnet50_toy-shapes-cls.pth' in run.stdout
    assert '5/6 train' not in run.stdout
    # the plain classifier's checkpoint as it is; Pretrained grafts SA into it at init
    classifier = torch.load(root / 'work_dirs/resnet50_1xb64_toy-shapes-cls/epoch_1.pth')
    copied = torch.load(root / 'checkpoints/resnet50_toy-shapes-cls.pth')
    assert copied['state_dict'].keys() == classifier['state_dict'].keys()
    init_cfg = dict(
        type='Pretrained',
        prefix='backbone.',
        checkpoint=str(root / 'checkpoints/resnet50_toy-shapes-cls.pth'),
    )
    model = SAResNet(depth=50, init_cfg=init_cfg)
    model.init_weights()
    for key, value in model.state_dict().items():
        if '.sa.' not in key and 'bn3' not in key and 'conv3' not in key:
            assert torch.equal(value, classifier['state_dict'][f'backbone.{key}']), key
