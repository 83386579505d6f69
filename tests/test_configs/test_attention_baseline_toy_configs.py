"""The toy A/B configs (configs/attention_baselines/toy/) switch only the backbone."""

import glob
import os.path as osp

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SA_TOY = osp.join(ROOT, 'configs', 'toy', 'faster-rcnn_sa-r50_fpn_8e_toy-shapes.py')
TOY_DIR = osp.join(ROOT, 'configs', 'attention_baselines', 'toy')
BACKBONES = {
    'faster-rcnn_r50_fpn_8e_toy-shapes.py': ('ResNet', None),
    'faster-rcnn_se-r50_fpn_8e_toy-shapes.py': ('AttentionResNet', 'SqueezeExcitation'),
    'faster-rcnn_eca-r50_fpn_8e_toy-shapes.py': ('AttentionResNet', 'EfficientChannelAttention'),
    'faster-rcnn_sge-r50_fpn_8e_toy-shapes.py': ('AttentionResNet', 'SpatialGroupEnhance'),
    'faster-rcnn_cbam-r50_fpn_8e_toy-shapes.py': ('AttentionResNet', 'CBAM'),
}


def test_every_baseline_has_a_toy_twin():
    # plus the ResNet-50 from toy pretraining (test_toy_configs: the three toy starts)
    assert sorted(osp.basename(p) for p in glob.glob(osp.join(TOY_DIR, '*.py'))) == sorted(
        [*BACKBONES, 'faster-rcnn_r50-pre_fpn_8e_toy-shapes.py']
    )


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_toy_twin_differs_from_the_sa_config_only_in_the_backbone(name):
    sa = Config.fromfile(SA_TOY).to_dict()
    twin = Config.fromfile(osp.join(TOY_DIR, name)).to_dict()
    backbone_type, attention = BACKBONES[name]
    sa_backbone, twin_backbone = sa['model'].pop('backbone'), twin['model'].pop('backbone')
    assert twin_backbone.pop('type') == backbone_type and sa_backbone.pop('type') == 'SAResNet'
    assert twin_backbone.pop('attention', None) == (attention and dict(type=attention))
    assert twin_backbone == sa_backbone  # depth, frozen_stages=-1, norm_eval=False, init_cfg=None
    # data, schedule, heads (FastSingleRoIExtractor too), hooks, imports: the same
    assert twin == sa
