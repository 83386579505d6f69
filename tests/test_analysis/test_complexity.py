"""Complexity counts of SA classifiers/detectors and the comparison table tool."""

import pytest
import torch
from mmdet.models.backbones import ResNet
from mmengine.analysis import FlopAnalyzer

from sa_mmdet.analysis import ImageNetClassifier, measure_complexity
from sa_mmdet.analysis.builder import build_model_from_config
from sa_mmdet.analysis.paper_comparison import classifier_rows, detector_pairs, detector_rows
from sa_mmdet.analysis.sa_gates import find_sa_layers
from sa_mmdet.analysis.table import format_table
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
    resnet, sa_net = classifier_rows(depths=(50,))
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
        ['--only', 'classifiers', '--depths', '50', '--classifier-size', '64', '--format', 'md']
    )
    lines = capsys.readouterr().out.splitlines()
    assert [row.model for row in rows] == ['ResNet-50', 'SA-Net-50']
    assert lines[0].startswith('| model | input | params (M) | paper params (M) |')
    assert lines[1] == '|' + ' --- |' * len(tool.HEADER)
    # Paper figures exist for 224x224 only.
    assert lines[3].split(' | ')[:5] == ['| SA-Net-50', '64x64', '25.558', 'n/a', 'n/a']
    assert tool._diff(25.557740, 25.557) == '+0.001' and tool._diff(4.12468, 4.125) == '0'
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
