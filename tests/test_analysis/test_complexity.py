"""Complexity counts of SA and baseline classifiers/detectors and the comparison table tool."""

import pytest
import torch
from mmdet.models.backbones import ResNet
from mmengine.analysis import FlopAnalyzer

from analysis_lib import ImageNetClassifier, classifier_complexity, measure_complexity
from analysis_lib.builder import build_model_from_config
from analysis_lib.paper_comparison import (
    BASELINE_DETECTORS,
    PAPER_CLASSIFIERS,
    PAPER_DETECTOR_PARAMS,
    baseline_detector_rows,
    classifier_rows,
    detector_pairs,
    detector_rows,
)
from analysis_lib.sa_gates import find_sa_layers
from analysis_lib.table import format_table
from sa_mmdet.models import SAResNet, ShuffleAttention


def sa_half_elements(height: int, width: int, blocks=(3, 4, 6, 3)) -> int:
    """sum(C/2 * H * W) over SA layers; stage s has C = 256 * 2^s at stride 4 * 2^s."""
    return sum(
        n * (128 << s) * (height // (4 << s)) * (width // (4 << s)) for s, n in enumerate(blocks)
    )


@pytest.mark.parametrize(
    'depth,resnet,sa_resnet', [(50, 25_557_032, 25_557_740), (101, 44_549_160, 44_550_684)]
)
def test_classifier_parameter_counts(depth, resnet, sa_resnet):
    # Torchvision's ResNet-50 has 25,557,032 parameters; SA adds 3C/G per bottleneck.
    models = [
        ImageNetClassifier(backbone(depth=depth, out_indices=(3,)))
        for backbone in (ResNet, SAResNet)
    ]
    counts = [sum(p.numel() for p in model.parameters()) for model in models]
    assert counts == [resnet, sa_resnet]
    per_stage = (12, 24, 48, 96)  # 3 * C / 64 for C = 256 ... 2048
    blocks = (3, 4, 6, 3) if depth == 50 else (3, 4, 23, 3)
    assert sa_resnet - resnet == sum(n * p for n, p in zip(blocks, per_stage))


def test_classifier_rows_reproduce_paper_table1_for_resnet50():
    resnet, sa_net = classifier_rows(depths=(50,), attentions=['SA'])
    assert (resnet.model, sa_net.model) == ('ResNet-50', 'SA-Net-50')
    assert (resnet.params, sa_net.params) == (25_557_032, 25_557_740)
    assert (resnet.paper_params, resnet.paper_gflops) == (25.557, 4.122)
    assert (sa_net.paper_params, sa_net.paper_gflops) == (25.557, 4.125)
    r, s = resnet.complexity, sa_net.complexity
    assert (r.sa_layers, s.sa_layers) == (0, 16)
    # mmengine counts only SA's GroupNorm: 5 FLOPs per element of the spatial halves.
    assert s.sa_half_elements == sa_half_elements(224, 224) == 2_759_680
    assert s.flops - r.flops == s.sa_flops == 5 * s.sa_half_elements
    assert {'aten::mean', 'aten::mul', 'aten::sigmoid'} <= set(s.sa_uncounted_ops)
    # The paper's convention: SA-Net-50 = ResNet-50 + 2.76e-3 GFLOPs, as its abstract says.
    assert s.paper_flops - r.paper_flops == s.sa_half_elements
    assert (round(r.paper_flops / 1e9, 3), round(s.paper_flops / 1e9, 3)) == (4.122, 4.125)


def test_mmengine_total_is_unchanged_by_the_paper_style_handles():
    model = ImageNetClassifier(SAResNet(depth=50, out_indices=(3,)))
    model.eval()
    for layer in model.modules():
        if isinstance(layer, ShuffleAttention):
            layer.implementation = 'reference'  # as measure_complexity traces SA
    inputs = (torch.randn(1, 3, 64, 64),)
    plain = FlopAnalyzer(model, inputs)
    plain.unsupported_ops_warnings(False)
    complexity = measure_complexity(model, inputs)
    assert complexity.flops == plain.total()
    assert complexity.sa_flops == sum(plain.total(name) for name in find_sa_layers(model))
    assert complexity.sa_half_elements == sa_half_elements(64, 64)


def test_detector_rows_compare_faster_rcnn_with_its_twin():
    twin, sa = detector_rows(['faster-rcnn_sa-r50_fpn_1x_coco.py'], size=(256, 192))
    assert (twin.model, sa.model) == (
        'faster-rcnn_r50_fpn_1x_coco',
        'faster-rcnn_sa-r50_fpn_1x_coco',
    )
    assert twin.input == sa.input == '256x192, 1000 RoIs'
    # Trainable parameters: layer1 (and its 3 SA layers of 12) is frozen.
    assert sa.params - twin.params == 708 - 36
    assert sa.complexity.params - twin.complexity.params == 708
    assert sa.paper_params is None and sa.paper_gflops is None  # paper figures: 1280x800 only
    # Only the backbone differs, so the FLOPs differ by what is counted inside SA.
    assert sa.complexity.flops - twin.complexity.flops == sa.complexity.sa_flops > 0
    assert sa.complexity.sa_half_elements == sa_half_elements(192, 256)


def test_detector_pairs_are_the_installed_configs_and_their_twins():
    assert detector_pairs(['retinanet_sa-r50_fpn_1x_coco.py']) == [
        (
            'sa_mmdet::sa_resnet/retinanet_sa-r50_fpn_1x_coco.py',
            'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
        )
    ]
    # Rule: names must be one of the six SA configs.
    with pytest.raises(KeyError, match='faster-rcnn_r50_fpn_1x_coco'):
        detector_pairs(['faster-rcnn_r50_fpn_1x_coco'])


def test_tool_prints_a_markdown_table_with_paper_figures(capsys, import_tool):
    tool = import_tool('tools/analysis_tools/complexity.py')
    rows = tool.main(
        [
            *('--only', 'classifiers', '--depths', '50', '--attentions', 'SA'),
            *('--classifier-size', '64', '--format', 'md'),
        ]
    )
    lines = capsys.readouterr().out.splitlines()
    assert [row.model for row in rows] == ['ResNet-50', 'SA-Net-50']
    assert lines[0].startswith('| model | input | params (M) | paper params (M) |')
    assert lines[1] == '|' + ' --- |' * len(tool.HEADER)
    # Paper figures exist for 224x224 only.
    assert lines[3].split(' | ')[:5] == ['| SA-Net-50', '64x64', '25.558', 'n/a', 'n/a']
    assert tool._diff(25.557740, 25.557, 3) == '+0.001' and tool._diff(4.12468, 4.125, 3) == '0'
    # The paper's trailing zeros are kept (Table 1 prints 28.090 for CBAM-ResNet-50).
    assert tool._paper(28.09, 3) == '28.090' and tool._diff(44.0336, 44.02, 2) == '+0.01'
    with pytest.raises(ValueError, match='md'):
        format_table(tool.HEADER, [tool.row_cells(row) for row in rows], 'csv')


def test_tool_counts_any_detector_config_such_as_the_toy_ones(capsys, import_tool, repo):
    tool = import_tool('tools/analysis_tools/complexity.py')
    config = str(repo / 'configs/toy/retinanet_sa-r50_fpn_8e_toy-shapes.py')
    rows = tool.main(['--only', 'configs', '--configs', config, '--detector-size', '96', '64'])
    assert [(row.model, row.input) for row in rows] == [
        ('retinanet_sa-r50_fpn_8e_toy-shapes', '96x64')
    ]
    # From scratch, nothing frozen: every parameter trains.
    model = build_model_from_config(config)
    assert rows[0].params == sum(p.numel() for p in model.parameters())
    assert rows[0].paper_params is None
    assert rows[0].complexity.sa_half_elements == sa_half_elements(64, 96)
    assert 'retinanet_sa-r50_fpn_8e_toy-shapes' in capsys.readouterr().out


def stage_shapes(height: int, width: int, blocks=(3, 4, 6, 3)):
    """(blocks, C, h * w) per stage of a ResNet-50: C = 256 * 2^s at stride 4 * 2^s."""
    return [(n, 256 << s, (height // (4 << s)) * (width // (4 << s))) for s, n in enumerate(blocks)]


def paper_style_attention_flops(attention: str, height: int, width: int) -> int:
    """The paper's count of a baseline's layers in ResNet-50, by hand (see docs/complexity.md)."""
    total = 0
    for n, c, hw in stage_shapes(height, width):
        fc = 2 * c * (c // 16)  # multiply-adds of the two FCs, C -> C/16 -> C
        total += (
            n
            * {
                'SqueezeExcitation': c * hw + fc + c // 16,  # GAP, FCs, ReLU
                'EfficientChannelAttention': c * hw,  # GAP (the 1-D conv is not counted)
                'SpatialGroupEnhance': c * hw,  # GAP (the normalisation is not counted)
                # avg + max pool, the MLP on both, its ReLUs, 7x7 conv 2 -> 1, BatchNorm
                'CBAM': 2 * c * hw + 2 * fc + 2 * (c // 16) + 2 * 49 * hw + 2 * hw,
            }[attention]
        )
    return total


@pytest.mark.parametrize(
    'attention',
    ['SqueezeExcitation', 'EfficientChannelAttention', 'SpatialGroupEnhance', 'CBAM'],
)
def test_baseline_layers_are_counted_by_their_paper_style_rule(attention):
    resnet = classifier_complexity(50, size=64)
    ours = classifier_complexity(50, size=64, attention=dict(type=attention))
    assert (ours.attention_layers, ours.sa_layers, resnet.attention_layers) == (16, 0, 0)
    assert ours.attention_paper_flops == paper_style_attention_flops(attention, 64, 64)
    # Outside the attention layers both networks are counted alike.
    assert ours.paper_flops - resnet.paper_flops == ours.attention_paper_flops
    assert ours.flops - resnet.flops == ours.attention_flops
    # What mmengine sees: SE's pooling is adaptive_avg_pool2d, ECA's, SGE's and CBAM's are
    # means (and CBAM's max an amax), uncounted; ReLUs are not counted.
    shapes = stage_shapes(64, 64)
    pooled = sum(n * c * hw for n, c, hw in shapes)
    relus = sum(n * (c // 16) for n, c, _ in shapes)
    mmengine = {
        'SqueezeExcitation': ours.attention_paper_flops - relus,
        'EfficientChannelAttention': sum(n * c * (5 if c < 2048 else 7) for n, c, _ in shapes),
        'SpatialGroupEnhance': 0,
        'CBAM': ours.attention_paper_flops - 2 * pooled - 2 * relus,
    }
    assert ours.attention_flops == mmengine[attention]
    if attention != 'SqueezeExcitation':
        assert 'aten::mean' in ours.attention_uncounted_ops


def test_sa_layers_are_attention_layers_too():
    sa = classifier_complexity(50, sa=True, size=64)
    assert (sa.attention_layers, sa.attention_flops) == (sa.sa_layers, sa.sa_flops)
    assert sa.attention_paper_flops == sa.sa_half_elements == sa_half_elements(64, 64)
    assert sa.attention_uncounted_ops == sa.sa_uncounted_ops


def test_classifier_choices_are_checked():
    # Rule: SAResNet (sa=True) or an AttentionResNet (attention=...), not both.
    with pytest.raises(ValueError, match="attention=dict\\(type='ShuffleAttention'\\)"):
        classifier_complexity(50, sa=True, size=64, attention=dict(type='SqueezeExcitation'))
    # Rule: attentions are keys of CLASSIFIER_ATTENTIONS.
    with pytest.raises(KeyError, match="'SE', 'CBAM', 'SGE', 'ECA', 'SA'"):
        classifier_rows(depths=(50,), attentions=['GC'])
    # Rule: baseline detectors are the configs in configs/attention_baselines/.
    with pytest.raises(KeyError, match='mask-rcnn_se-r50_fpn_1x_coco'):
        baseline_detector_rows(['mask-rcnn_cbam-r50_fpn_1x_coco'])


def test_baseline_detector_rows_count_the_installed_configs(repo):
    names = sorted(p.stem for p in (repo / 'configs/attention_baselines').glob('*.py'))
    assert sorted(BASELINE_DETECTORS) == names
    # Paper Table 3 parameter counts exist for the SE rows only.
    assert [n for n in names if n in PAPER_DETECTOR_PARAMS] == [n for n in names if '_se-' in n]
    (row,) = baseline_detector_rows(['retinanet_se-r50_fpn_1x_coco.py'], size=(128, 128))
    assert (row.model, row.input, row.paper_params, row.paper_digits) == (
        'retinanet_se-r50_fpn_1x_coco',
        '128x128',
        None,  # paper figures: 1280x800 only
        2,
    )
    # RetinaNet R50 (mmdet's twin) + SE outside the frozen layer1, with FC biases.
    assert row.params == 37_743_348 + 2_505_600
    assert row.complexity.attention_layers == 16


@pytest.mark.slow
@pytest.mark.parametrize('depth', [50, 101])
def test_classifier_rows_reproduce_paper_table1_for_every_attention(depth):
    rows = classifier_rows(depths=(depth,))
    assert [row.model.rsplit('-', 1)[0] for row in rows] == [
        'ResNet',
        'SE-ResNet',
        'CBAM-ResNet',
        'SGE-ResNet',
        'ECA-ResNet',
        'SA-Net',
    ]
    for row in rows:
        paper_params, paper_gflops = PAPER_CLASSIFIERS[row.model]
        assert (row.paper_params, row.paper_gflops) == (paper_params, paper_gflops)
        assert round(row.complexity.paper_flops / 1e9, 3) == paper_gflops, row.model
        if row.model != 'SA-Net-50':  # the paper prints 25.557 for 25,557,740
            assert round(row.params / 1e6, 3) == paper_params, row.model
