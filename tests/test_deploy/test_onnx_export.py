"""ONNX export with both exporters: onnxruntime equals PyTorch, N/H/W stay dynamic, SA is in
the graph as standard ops, and what cannot export correctly raises."""

import importlib
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

from sa_mmdet.deploy import (
    EXPORTERS,
    IMAGE_AXES,
    ROI_AXES,
    ExportableRoIExtractor,
    ONNXRuntimeRunner,
    TensorModeDetector,
    export_onnx,
    onnx_dims,
    onnx_op_histogram,
    relative_difference,
    rois_from_rpn,
)
from sa_mmdet.models import FastSingleRoIExtractor, SAResNet, ShuffleAttention
from sa_mmdet.ops.shuffle_attention_export import is_exporting

# the operator module (sa_mmdet.ops.shuffle_attention is also the name of its functional)
sa_op = importlib.import_module('sa_mmdet.ops.shuffle_attention')
REPO = Path(__file__).resolve().parents[2]
TOY = REPO / 'configs' / 'toy'
# onnxruntime must match PyTorch within this, relative to each output's scale
TOLERANCE = 1e-4
# (batch, height, width): the export example, then two other batch sizes and image sizes
EXAMPLE = (1, 64, 96)
CASES = ((2, 96, 64), (3, 128, 160))


def images(channels: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return lambda n, h, w: (torch.randn(n, channels, h, w, generator=gen),)


def assert_matches(path, model, make_inputs, cases=CASES, reference=None) -> None:
    """onnxruntime on ``path`` equals ``reference`` (default ``model``) at every case."""
    runner = ONNXRuntimeRunner(path)
    for case in cases:
        inputs = make_inputs(*case)
        with torch.no_grad():
            expected = (reference or model)(*inputs)
        expected = [expected] if isinstance(expected, torch.Tensor) else list(expected)
        assert relative_difference(expected, runner(*inputs)) < TOLERANCE, case


def assert_dynamic_image(path, channels: int = 3) -> None:
    dims = onnx_dims(path)['input']
    assert dims[1] == channels and all(isinstance(dims[i], str) for i in (0, 2, 3)), dims


# the SA layer ---------------------------------------------------------------------------------


@pytest.mark.parametrize('exporter', EXPORTERS)
def test_sa_layer_exports_its_computation_as_standard_ops(exporter, randomize, tmp_path):
    sa = randomize(ShuffleAttention(64, groups=8)).eval()
    path = export_onnx(
        sa, images(64)(*EXAMPLE), tmp_path / 'sa.onnx', exporter, dynamic_axes=[IMAGE_AXES]
    )
    ops = onnx_op_histogram(path)
    # the gates (Sigmoid, Mul), the statistics (2 ReduceMean) and the shuffle (one Transpose)
    assert ops['Sigmoid'] == 1 and ops['ReduceMean'] == 2 and ops['Transpose'] == 1, ops
    assert ops['Mul'] >= 3 and not any('shuffle' in op for op in ops), ops
    assert onnx_dims(path)['input'] == ['batch', 64, 'height', 'width']
    assert_matches(path, sa, images(64, seed=1))


def test_zero_initialised_sa_layers_load_in_onnxruntime(tmp_path):
    # SA starts with zero weights; the TorchScript exporter merges equal constants into
    # Identity nodes, which onnxruntime 1.32's DivMulFusion + EliminateIdentity break where
    # they meet a Div(1, Sqrt): the export form uses Pow instead
    model = nn.Sequential(ShuffleAttention(64, groups=8), ShuffleAttention(64, groups=8)).eval()
    path = export_onnx(
        model, images(64)(*EXAMPLE), tmp_path / 'zero.onnx', 'legacy', dynamic_axes=[IMAGE_AXES]
    )
    assert_matches(path, model, images(64, seed=3))


class ExportProbe(nn.Module):
    """Adds 1 where is_exporting(), else subtracts 1."""

    def forward(self, x):
        return x + 1 if is_exporting() else x - 1


@pytest.mark.parametrize(
    'exporter,strict', [('legacy', False), ('dynamo', False), ('dynamo', True)]
)
def test_is_exporting_under_each_exporter(exporter, strict, tmp_path):
    x = torch.zeros(2, 1, 2, 2)
    path = export_onnx(ExportProbe().eval(), (x,), tmp_path / 'probe.onnx', exporter, strict=strict)
    assert ONNXRuntimeRunner(path)(x)[0].min() == 1
    assert torch.jit.trace(ExportProbe(), (x,))(x).min() == 1
    assert torch.compile(ExportProbe(), backend='eager', fullgraph=True)(x).max() == -1
    assert ExportProbe()(x).max() == -1


# what cannot export correctly raises ---------------------------------------------------------


@pytest.mark.parametrize('exporter', EXPORTERS)
def test_sa_forced_onto_the_custom_op_raises(exporter, monkeypatch, tmp_path):
    # a layer that took the custom op while exporting: no exporter has a translation for it
    monkeypatch.setattr(sa_op, 'is_exporting', lambda: False)
    sa = ShuffleAttention(64, groups=8).eval()
    with pytest.raises(torch.onnx.errors.OnnxExporterError, match='shuffle_attention_forward'):
        export_onnx(sa, images(64)(*EXAMPLE), tmp_path / 'sa.onnx', exporter)
    assert not (tmp_path / 'sa.onnx').exists()


def test_export_onnx_rejects_bad_arguments(tmp_path):
    sa = ShuffleAttention(64, groups=8)
    x = images(64)(*EXAMPLE)
    # the exporters are named
    with pytest.raises(ValueError, match="invalid exporter 'onnx'"):
        export_onnx(sa.eval(), x, tmp_path / 'sa.onnx', 'onnx')
    # inference graphs only
    with pytest.raises(ValueError, match=r'model.eval\(\)'):
        export_onnx(sa.train(), x, tmp_path / 'sa.onnx')


def test_relative_difference_and_runner_arguments(tmp_path):
    want = [torch.tensor([1.0, -4.0]), torch.zeros(2)]
    assert relative_difference(want, [t.numpy() for t in want]) == 0
    assert relative_difference(want, [torch.tensor([1.0, -3.0]), torch.zeros(2)]) == 0.25
    # an all-zero reference is compared absolutely
    assert relative_difference(want, [want[0], torch.tensor([0.0, 0.5])]) == 0.5
    with pytest.raises(ValueError, match='expected 2 outputs, got 1'):
        relative_difference(want, want[:1])
    with pytest.raises(ValueError, match='expected shape'):
        relative_difference(want, [want[0], torch.zeros(3)])
    path = export_onnx(
        ExportProbe().eval(), (torch.zeros(1, 1, 2, 2),), tmp_path / 'probe.onnx', 'legacy'
    )
    with pytest.raises(ValueError, match=r"takes 1 inputs \['input'\], but got 2"):
        ONNXRuntimeRunner(path)(torch.zeros(1), torch.zeros(1))


# RoIAlign and the multi-level RoI extractor --------------------------------------------------


def roi_extractor(
    sampling_ratio: int, aligned: bool = True, extractor_type: type = SingleRoIExtractor
) -> SingleRoIExtractor:
    return extractor_type(
        roi_layer=dict(
            type='RoIAlign', output_size=7, sampling_ratio=sampling_ratio, aligned=aligned
        ),
        out_channels=8,
        featmap_strides=[4, 8, 16, 32],
    )


def feats_and_rois(seed: int):
    gen = torch.Generator().manual_seed(seed)

    def make(n, h, w, r):
        feats = [torch.randn(n, 8, h // s, w // s, generator=gen) for s in (4, 8, 16, 32)]
        xy = torch.rand(r, 2, generator=gen) * torch.tensor([w, h]) * 0.8
        wh = torch.rand(r, 2, generator=gen) ** 3 * torch.tensor([w, h]) + 1  # many small ones
        batch = torch.randint(0, n, (r, 1), generator=gen).float()
        return (*feats, torch.cat([batch, xy, xy + wh], 1))

    return make


class RoIFeatures(nn.Module):
    def __init__(self, extractor):
        super().__init__()
        self.extractor = extractor

    def forward(self, f0, f1, f2, f3, rois):
        return self.extractor([f0, f1, f2, f3], rois)


@pytest.mark.parametrize(
    'exporter,sampling_ratio,aligned,extractor_type',
    [
        ('legacy', 0, True, SingleRoIExtractor),
        ('dynamo', 2, True, FastSingleRoIExtractor),
        ('legacy', 2, False, SingleRoIExtractor),
    ],
)
def test_roi_extractor_exports_as_roi_align(
    exporter, sampling_ratio, aligned, extractor_type, tmp_path
):
    extractor = roi_extractor(sampling_ratio, aligned, extractor_type)
    model = RoIFeatures(ExportableRoIExtractor(extractor)).eval()
    reference = RoIFeatures(roi_extractor(sampling_ratio, aligned)).eval()  # mmdet's, mmcv's op
    make = feats_and_rois(0)
    example = make(1, 128, 160, 6)
    # eager: exactly mmdet's features
    torch.testing.assert_close(model(*example), reference(*example), rtol=0, atol=0)
    axes = [{0: 'batch', 2: f'h{i}', 3: f'w{i}'} for i in range(4)] + [ROI_AXES]
    names = ['f0', 'f1', 'f2', 'f3', 'rois']
    path = export_onnx(model, example, tmp_path / 'roi.onnx', exporter, names, ['roi_feats'], axes)
    assert onnx_op_histogram(path)['RoiAlign'] == 4
    assert onnx_dims(path)['rois'] == ['num_rois', 5]
    # other batch and image sizes and RoI counts, including levels without RoIs
    cases = ((2, 192, 256, 50), (3, 96, 128, 1), (1, 64, 64, 0))
    assert_matches(path, model, make, cases, reference=reference)


def test_roi_extractor_rejects_what_it_cannot_export():
    # RoIAlign with average pooling only
    with pytest.raises(ValueError, match='RoIAlign'):
        ExportableRoIExtractor(
            SingleRoIExtractor(
                roi_layer=dict(type='RoIAlign', output_size=7, pool_mode='max'),
                out_channels=8,
                featmap_strides=[4],
            )
        )
    with pytest.raises(ValueError, match='SingleRoIExtractor'):
        ExportableRoIExtractor(nn.Identity())


def test_tensor_mode_detector_rejects_other_models():
    with pytest.raises(ValueError, match='SingleStageDetector and TwoStageDetector'):
        TensorModeDetector(nn.Identity())


# SAResNet-50 and whole toy detectors (slow: each export takes up to minutes) -----------------


@pytest.mark.slow
@pytest.mark.parametrize('exporter,strict', [('legacy', False), ('dynamo', True)])
def test_sa_resnet50_matches_onnxruntime(exporter, strict, randomize, tmp_path):
    # dynamo's default (non-strict) capture of SA-R50: every dynamo detector export below and
    # in test_end2end.py holds one
    model = randomize(SAResNet(depth=50, out_indices=(0, 1, 2, 3))).eval()
    example = images(3)(2 if strict else 1, *EXAMPLE[1:])  # strict mode specialises a batch of 1
    path = export_onnx(
        model, example, tmp_path / 'sa-r50.onnx', exporter, dynamic_axes=[IMAGE_AXES], strict=strict
    )
    ops = onnx_op_histogram(path)
    # 16 SA layers: a Sigmoid gate, two ReduceMean statistics and a shuffle (Transpose) each
    assert ops['Sigmoid'] == 16 and ops['ReduceMean'] == 32 and ops['Transpose'] == 16, ops
    assert_dynamic_image(path)
    assert_matches(path, model, images(3, seed=1), ((1, 96, 64), (3, 128, 160)))


def build_toy_detector(name: str, randomize) -> nn.Module:
    register_all_modules()
    cfg = Config.fromfile(str(TOY / f'{name}_sa-r50_fpn_8e_toy-shapes.py'))
    return randomize(MODELS.build(cfg.model)).eval()


def detector_inputs(module: TensorModeDetector, seed: int):
    gen = torch.Generator().manual_seed(seed)

    def make(n, h, w):
        x = torch.randn(n, 3, h, w, generator=gen)
        if not module.two_stage:
            return (x,)
        with torch.no_grad():
            rpn = module.detector.rpn_head(module.detector.extract_feat(x))
        metas = [dict(img_shape=(h, w))] * n
        return x, rois_from_rpn(module.detector, [t for level in rpn for t in level], metas)

    return make


@pytest.mark.slow
@pytest.mark.parametrize(
    'name,exporter',
    [
        ('faster-rcnn', 'dynamo'),
        ('faster-rcnn', 'legacy'),
        ('mask-rcnn', 'legacy'),
        ('retinanet', 'legacy'),
    ],
)
def test_toy_detector_in_tensor_mode_matches_onnxruntime(name, exporter, randomize, tmp_path):
    detector = build_toy_detector(name, randomize)
    module = TensorModeDetector(detector).eval()
    make = detector_inputs(module, 0)
    example = make(1, 96, 128)
    names = module.output_names(*example)
    axes = [IMAGE_AXES, ROI_AXES][: len(example)]
    path = export_onnx(
        module, example, tmp_path / f'{name}.onnx', exporter, module.input_names, names, axes
    )
    ops = onnx_op_histogram(path)
    assert ops['Sigmoid'] >= 16 and ops['Transpose'] >= 16, ops
    assert_dynamic_image(path)
    cases = ((2, 128, 96), (3, 64, 160))
    assert_matches(path, module, make, cases)
    # and the module is mmdet's own forward
    x, *rois = make(2, 96, 96)
    with torch.no_grad():
        got = module(x, *rois)
        if module.two_stage:
            roi_head = detector.roi_head
            feats = detector.extract_feat(x)
            bbox = roi_head._bbox_forward(feats, rois[0])
            want = [bbox['cls_score'], bbox['bbox_pred']]
            if roi_head.with_mask:
                want.append(roi_head._mask_forward(feats, rois[0])['mask_preds'])
            got = got[-len(want) :]
        else:
            want = [t for level in detector(x, mode='tensor') for t in level]
    assert relative_difference(want, got) == 0
    assert names[-1] == {'faster-rcnn': 'bbox_pred', 'mask-rcnn': 'mask_pred'}.get(
        name, 'bbox_pred_4'
    )


def test_two_stage_tensor_mode_needs_rois(randomize):
    module = TensorModeDetector(build_toy_detector('faster-rcnn', randomize))
    assert module.input_names == ['input', 'rois']
    with pytest.raises(ValueError, match='needs rois'):
        module(torch.zeros(1, 3, 64, 64))
