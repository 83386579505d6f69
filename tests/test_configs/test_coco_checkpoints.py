"""Every COCO config starts from ImageNet weights that fit its backbone.

SA configs name the official SA-Net file (``SANetPretrained``) or, as ``*-tv-pre_*``,
torchvision's ResNet; SE configs mmpretrain's SE-ResNet; ECA and SGE torchvision's ResNet
(the attention grafted in, docs/checkpoints.md). Nothing is downloaded.
"""

import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from sa_mmdet.models import AttentionResNet
from sa_mmdet.models.backbones import match_resnet_checkpoint

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    osp.relpath(p, ROOT)
    for folder in ('sa_resnet', 'attention_baselines')
    for p in glob.glob(osp.join(ROOT, 'configs', folder, '*.py'))
)
MMPRETRAIN_SE = (
    'https://download.openmmlab.com/mmclassification/v0/se-resnet/'
    'se-resnet{}_batch256_imagenet_20200804-{}.pth'
)
SE_HASHES = {50: 'ae206104', 101: 'ba5b51d4'}  # mmpretrain's configs/seresnet/metafile.yml


def expected_init(name, depth):
    """The init_cfg each kind of config must have."""
    if '_sa-' in name and '-tv-pre_' not in name:
        return dict(type='SANetPretrained', checkpoint=f'checkpoints/sa_resnet{depth}.pth.tar')
    if '_se-' in name:
        checkpoint = MMPRETRAIN_SE.format(depth, SE_HASHES[depth])
        return dict(type='Pretrained', prefix='backbone.', checkpoint=checkpoint)
    return dict(type='Pretrained', checkpoint=f'torchvision://resnet{depth}')


def test_every_sa_config_has_a_torchvision_sibling():
    sa = {c for c in CONFIGS if c.startswith('configs/sa_resnet/')}
    assert len(sa) == 12
    for config in sa - {c for c in sa if '-tv-pre_' in c}:
        assert config.replace('_fpn', '-tv-pre_fpn', 1) in sa


@pytest.mark.parametrize('config', CONFIGS)
def test_config_names_a_checkpoint_for_its_backbone_depth(config):
    backbone = Config.fromfile(osp.join(ROOT, config)).model.backbone
    name = osp.basename(config)
    depth = 101 if '-r101' in name else 50
    assert backbone.depth == depth
    assert backbone.init_cfg.to_dict() == expected_init(name, depth)
    assert backbone.frozen_stages == 1 and backbone.norm_eval  # mmdet's 1x recipe


@pytest.fixture(scope='module')
def mmpretrain_backbones(sa_mmdet_pretrain):
    from mmpretrain.models.backbones import SEResNet

    return SEResNet


@pytest.mark.parametrize('depth', [50, 101])
def test_mmpretrain_se_resnet_checkpoints_fit_the_se_configs(depth, mmpretrain_backbones):
    # mmpretrain's SE-ResNet, saved as its classifiers are: backbone.* and head.*
    se_resnet = mmpretrain_backbones(depth)
    state = {f'backbone.{k}': v for k, v in se_resnet.state_dict().items()}
    state['head.fc.weight'] = torch.zeros(1000, 2048)
    config = f'configs/attention_baselines/faster-rcnn_se-r{depth}_fpn_1x_coco.py'
    backbone = Config.fromfile(osp.join(ROOT, config)).model.backbone
    with torch.device('meta'):
        model = AttentionResNet(depth, attention=backbone.attention)
    match = match_resnet_checkpoint(state, model, backbone.init_cfg.prefix)
    assert (match.layout, match.depth, match.kept) == ('attention', depth, [])
    assert list(match.state_dict) == list(model.state_dict())
