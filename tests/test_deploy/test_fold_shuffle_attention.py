"""fold_shuffle_attention: same outputs, no shuffle, on SAResNet and on a detector."""

from pathlib import Path

import pytest
import torch
from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules
from mmengine.config import Config

from sa_mmdet.deploy import fold_shuffle_attention
from sa_mmdet.models import FoldedShuffleAttention, SAResNet, ShuffleAttention

CONFIG = Path(__file__).parents[2] / 'configs/sa_resnet/faster-rcnn_sa-r50_fpn_1x_coco.py'


def flatten(outputs) -> list:
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    return [t for item in outputs for t in flatten(item)]


def test_folded_sa_resnet_gives_the_same_outputs(randomize):
    model = randomize(SAResNet(depth=50, out_indices=(0, 1, 2, 3))).eval()
    folded = fold_shuffle_attention(model)
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = model(x), folded(x)
    for out, want in zip(got, expected, strict=True):
        # permuted conv3 channels round differently in oneDNN's blocked kernels, 16 layers deep
        # (1 of 24,576 outputs was 1.2e-5 off); a wrong permutation is off by O(1)
        torch.testing.assert_close(out, want, rtol=1e-4, atol=1e-4)
    assert not any(isinstance(m, ShuffleAttention) for m in folded.modules())
    layers = [m for m in folded.modules() if isinstance(m, FoldedShuffleAttention)]
    assert len(layers) == 16 and all(layer.inplace for layer in layers)
    # the unfolded model is untouched, the folded one is a different state dict
    assert any(isinstance(m, ShuffleAttention) for m in model.modules())
    assert tuple(folded.state_dict()['layer1.0.sa.weight'].shape) == (2, 2)
    assert 'layer1.0.sa.cweight' not in folded.state_dict()


def test_fold_in_place_and_training_mode_gradients(randomize):
    model = randomize(
        SAResNet(
            depth=50, num_stages=1, strides=(1,), dilations=(1,), out_indices=(0,), norm_eval=False
        ).double()
    )
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    expected = model(x)[0]
    grad = torch.autograd.grad(expected.square().sum(), model.conv1.weight)[0]
    folded = fold_shuffle_attention(model, inplace=True)
    assert folded is model
    got = folded(x)[0]  # train mode: BatchNorm uses batch statistics, per channel as well
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(torch.autograd.grad(got.square().sum(), model.conv1.weight)[0], grad)


def test_folded_detector_gives_the_same_outputs(randomize):
    register_all_modules()
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.backbone.init_cfg = None
    model = randomize(MODELS.build(cfg.model)).eval()
    folded = fold_shuffle_attention(model)
    inputs = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64), scale_factor=(1.0, 1.0)
        )
    )
    with torch.no_grad():
        expected = model(inputs, [sample], mode='tensor')
        got = folded(inputs, [sample], mode='tensor')
        features = folded.extract_feat(inputs), model.extract_feat(inputs)
    assert len(features[0]) == 5  # FPN levels
    for out, want in zip(*features):
        torch.testing.assert_close(out, want)
    got, expected = flatten(got), flatten(expected)
    assert len(got) == len(expected) == 2  # RoI classification scores and box deltas
    for out, want in zip(got, expected):
        torch.testing.assert_close(out, want)
    assert sum(isinstance(m, FoldedShuffleAttention) for m in folded.modules()) == 16


def test_models_that_cannot_be_folded_raise_value_error():
    # Rule: there must be a ShuffleAttention right after a bottleneck's conv3/bn3.
    with pytest.raises(ValueError, match='ResNet'):
        fold_shuffle_attention(ResNet(depth=50))
    # Rule: the folded form needs an even number of SA groups.
    with pytest.raises(ValueError, match='groups=1'):
        fold_shuffle_attention(SAResNet(depth=50, sa_groups=1))
    # Rule: bn3 must be a per-channel BatchNorm (a GroupNorm mixes channels).
    with pytest.raises(ValueError, match='GroupNorm'):
        fold_shuffle_attention(SAResNet(depth=50, norm_cfg=dict(type='GN', num_groups=32)))
