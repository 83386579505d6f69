"""End2EndDetector: mmdet's predict in fixed-shape tensors, NMS inside the ONNX graph, and
onnxruntime equal to PyTorch, for the toy RetinaNet, Faster R-CNN and Mask R-CNN."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmcv.ops import batched_nms
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules
from mmengine.config import Config

from sa_mmdet.deploy import (
    EXPORTERS,
    IMAGE_AXES,
    End2EndDetector,
    ONNXRuntimeRunner,
    export_onnx,
    nms,
    onnx_dims,
    onnx_op_histogram,
)

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / 'configs' / 'toy'
DETECTORS = ('retinanet', 'faster-rcnn', 'mask-rcnn')
# boxes of a detection found twice: IoU at least this, scores within SCORE_ATOL
MIN_IOU, SCORE_ATOL = 0.99, 1e-3


def build_detector(name: str, **options) -> torch.nn.Module:
    """The toy detector, seeded random init; RetinaNet's score_thr lowered below its initial
    class prior (0.01) so that it detects things. (Random BN statistics would saturate the
    scores at 1.0, whose exact ties any two sorts break differently.)"""
    register_all_modules()
    cfg = Config.fromfile(str(TOY / f'{name}_sa-r50_fpn_8e_toy-shapes.py'))
    if name == 'retinanet':
        cfg.merge_from_dict({'model.test_cfg.score_thr': 0.005})
    cfg.merge_from_dict(options)
    torch.manual_seed(0)
    return MODELS.build(cfg.model).eval()


def images(n: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, h, w, generator=torch.Generator().manual_seed(seed))


def predict(detector, x: torch.Tensor):
    """mmdet's predictions (``rescale=False``) for a batch of images of the batch's size."""
    h, w = x.shape[2:]
    meta = dict(img_shape=(h, w), ori_shape=(h, w), batch_input_shape=(h, w), scale_factor=(1, 1))
    samples = [DetDataSample(metainfo=dict(meta, pad_shape=(h, w))) for _ in range(len(x))]
    with torch.no_grad():
        return [s.pred_instances for s in detector.predict(x, samples, rescale=False)]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = lambda x: (x[:, 2:] - x[:, :2]).prod(-1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter + 1e-9)


def assert_same_detections(dets, labels, want_boxes, want_scores, want_labels) -> np.ndarray:
    """One image's fixed-K rows hold the wanted detections, then padding; returns the match."""
    dets, labels = np.asarray(dets), np.asarray(labels)
    count = int((labels >= 0).sum())
    assert count == len(want_scores), (count, len(want_scores))
    assert (labels[count:] == -1).all() and (dets[count:] == 0).all()  # padding
    assert (dets[:count, 4] > 0).all() and (np.diff(dets[:count, 4]) <= 0).all()  # by score
    if count == 0:
        return np.zeros(0, dtype=int)
    want_boxes, want_scores = np.asarray(want_boxes), np.asarray(want_scores)
    same_label = labels[:count, None] == np.asarray(want_labels)[None]
    close = np.abs(dets[:count, 4, None] - want_scores[None]) <= SCORE_ATOL
    iou = box_iou(dets[:count, :4], want_boxes) * same_label * close
    match = iou.argmax(1)
    assert (iou.max(1) >= MIN_IOU).all(), iou.max(1).min()
    assert len(set(match.tolist())) == count  # one to one
    return match


def assert_same_outputs(got, want) -> None:
    """Outputs of one End2EndDetector from two runtimes hold the same detections."""
    for i in range(len(want[0])):
        labels = np.asarray(want[1][i])
        count = int((labels >= 0).sum())
        dets = np.asarray(want[0][i])
        match = assert_same_detections(
            got[0][i], got[1][i], dets[:count, :4], dets[:count, 4], labels[:count]
        )
        if len(want) == 3:  # masks of the same detections
            np.testing.assert_allclose(
                np.asarray(got[2][i])[:count], np.asarray(want[2][i])[match], atol=1e-3
            )


# eager: mmdet's predict ------------------------------------------------------------------------


@pytest.mark.parametrize(
    'name,options',
    [(name, {}) for name in DETECTORS]
    # an RPN without nms_pre: every anchor of every level goes into its NMS
    + [('faster-rcnn', {'model.test_cfg.rpn.nms_pre': -1})]
    # class-agnostic box regression and masks
    + [
        (
            'mask-rcnn',
            {
                'model.roi_head.bbox_head.reg_class_agnostic': True,
                'model.roi_head.mask_head.class_agnostic': True,
            },
        )
    ]
    # softmax classification (background last)
    + [
        (
            'retinanet',
            {
                'model.bbox_head.loss_cls': dict(
                    type='CrossEntropyLoss', use_sigmoid=False, _delete_=True
                )
            },
        )
    ],
)
def test_eager_equals_mmdet_predict(name, options):
    detector = build_detector(name, **options)
    module = End2EndDetector(detector).eval()
    x = images(2, 96, 128)
    with torch.no_grad():
        outputs = module(x)
    assert module.output_names == ['dets', 'labels', 'masks'][: len(outputs)]
    k = int((detector.test_cfg.get('rcnn') or detector.test_cfg)['max_per_img'])
    assert outputs[0].shape == (2, k, 5) and outputs[1].shape == (2, k)
    assert outputs[1].dtype == torch.int64
    for i, want in enumerate(predict(detector, x)):
        assert len(want) > 0  # the random heads detect something
        match = assert_same_detections(
            outputs[0][i], outputs[1][i], want.bboxes, want.scores, want.labels
        )
        if name == 'mask-rcnn':
            # the mask head's probabilities of the label's class on mmdet's own boxes
            roi_head = detector.roi_head
            count = len(match)
            with torch.no_grad():
                feats = detector.extract_feat(x[i : i + 1])
                rois = torch.cat([torch.zeros(len(want), 1), want.bboxes], 1)
                preds = roi_head._mask_forward(feats, rois)['mask_preds'].sigmoid()
            channels = want.labels * (not roi_head.mask_head.class_agnostic)
            preds = preds[torch.arange(len(want)), channels]
            assert outputs[2].shape[2:] == preds.shape[1:] == (28, 28)
            torch.testing.assert_close(outputs[2][i, :count], preds[match], atol=1e-4, rtol=0)
            assert (outputs[2][i, count:] == 0).all()


def export_and_compare(module, path, exporter, dynamic, cases, example=(1, 96, 128)) -> None:
    """Export at ``example`` (N, H, W), then onnxruntime holds eager's detections at every case."""
    axes = [IMAGE_AXES] if dynamic else None
    x = images(*example)
    export_onnx(module, (x,), path, exporter, ['input'], module.output_names, axes)
    ops = onnx_op_histogram(path)
    # one NMS per stage, inside the graph
    assert ops['NonMaxSuppression'] == (2 if module.two_stage else 1), ops
    runner = ONNXRuntimeRunner(path, threads=1)
    assert runner.output_names == module.output_names
    for case in cases:
        x = images(*case, seed=1)
        with torch.no_grad():
            want = [t.numpy() for t in module(x)]
        got = runner(x)
        assert [g.shape for g in got] == [w.shape for w in want], case
        assert got[1].dtype == np.int64
        assert_same_outputs(got, want)


# onnxruntime: the same detections ------------------------------------------------------------


@pytest.mark.parametrize('name', DETECTORS)
def test_static_legacy_export_matches_eager(name, tmp_path):
    module = End2EndDetector(build_detector(name)).eval()
    path = tmp_path / f'{name}.onnx'
    export_and_compare(module, path, 'legacy', False, [(1, 96, 128)])
    assert onnx_dims(path)['input'] == [1, 3, 96, 128]


def test_dynamic_legacy_export_runs_at_other_batch_and_image_sizes(tmp_path):
    module = End2EndDetector(build_detector('mask-rcnn')).eval()
    path = tmp_path / 'mask-rcnn.onnx'
    export_and_compare(module, path, 'legacy', True, [(2, 128, 96), (3, 64, 160)])
    assert onnx_dims(path)['input'] == ['batch', 3, 'height', 'width']


def test_dynamic_legacy_export_of_an_rpn_without_nms_pre(tmp_path):
    # every anchor goes into the RPN's NMS: the candidate count follows the image size
    module = End2EndDetector(build_detector('faster-rcnn', **{'model.test_cfg.rpn.nms_pre': -1}))
    path = tmp_path / 'faster-rcnn.onnx'
    export_and_compare(module.eval(), path, 'legacy', True, [(2, 128, 96), (3, 64, 160)])


@pytest.mark.slow
@pytest.mark.parametrize('name', ['faster-rcnn', 'mask-rcnn'])
def test_dynamic_dynamo_export_matches_eager(name, tmp_path):
    # RetinaNet's dynamo export at other batch and image sizes: test_pytorch2onnx.py's
    # test_end2end_dynamo_is_the_default_and_exports_retinanet (the tool's default path)
    # about 30 s per detector on one core. torch.export specialises dims of size 1: the
    # example is a batch of two, large enough for feature maps of 2 or more at every level
    module = End2EndDetector(build_detector(name)).eval()
    path = tmp_path / f'{name}.onnx'
    size = module.dynamic_example_size
    cases = [(1, 96, 128), (3, 64, 160)]
    export_and_compare(module, path, 'dynamo', True, cases, example=(2, size, size))
    assert onnx_dims(path)['input'] == ['batch', 3, 'height', 'width']


# the NMS operator -------------------------------------------------------------------------------


class NMS(nn.Module):
    def forward(self, boxes, scores):
        return nms(boxes, scores, 5, 0.5, 0.1)


def random_boxes(n: int, b: int, c: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, b, 2, generator=gen) * 50
    boxes = torch.cat([xy, xy + 5 + torch.rand(n, b, 2, generator=gen) * 20], -1)
    return boxes, torch.rand(n, c, b, generator=gen)


def test_nms_op_registration():
    boxes, scores = random_boxes(2, 30, 3)
    result = torch.library.opcheck(torch.ops.sa_mmdet.nms.default, (boxes, scores, 5, 0.5, 0.1))
    assert set(result.values()) == {'SUCCESS'}, result


def test_nms_op_is_mmcv_per_image_and_class():
    boxes, scores = random_boxes(2, 40, 3)
    selected = nms(boxes, scores, 5, 0.5, 0.1)
    assert selected.dtype == torch.int64 and selected.shape[1] == 3
    for b in range(2):
        for c in range(3):
            got = selected[(selected[:, 0] == b) & (selected[:, 1] == c), 2]
            above = torch.nonzero(scores[b, c] > 0.1).view(-1)
            labels = torch.zeros_like(above)
            _, keep = batched_nms(
                boxes[b, above], scores[b, c, above], labels, dict(iou_threshold=0.5)
            )
            assert got.tolist() == above[keep[:5]].tolist()
    # nothing above the threshold: no rows
    assert nms(boxes, scores * 0, 5, 0.5, 0.1).shape == (0, 3)


@pytest.mark.parametrize('exporter', EXPORTERS)
def test_nms_op_exports_as_non_max_suppression(exporter, tmp_path):
    boxes, scores = random_boxes(1, 30, 2)
    axes = [{0: 'batch', 1: 'boxes'}, {0: 'batch', 2: 'boxes'}]
    path = export_onnx(
        NMS().eval(),
        (boxes, scores),
        tmp_path / 'nms.onnx',
        exporter,
        ['boxes', 'scores'],
        ['selected'],
        axes,
    )
    assert onnx_op_histogram(path)['NonMaxSuppression'] == 1
    runner = ONNXRuntimeRunner(path, threads=1)
    for case in ((1, 30, 2), (3, 50, 2)):
        boxes, scores = random_boxes(*case, seed=1)
        want = nms(boxes, scores, 5, 0.5, 0.1)
        np.testing.assert_array_equal(runner(boxes, scores)[0], want.numpy())


# what End2EndDetector does not cover raises, naming it ------------------------------------------


def test_unsupported_detectors_raise_in_the_constructor():
    with pytest.raises(NotImplementedError, match='SingleStageDetector .* but got Identity'):
        End2EndDetector(nn.Identity())
    # another RoI head (e.g. a cascade): the exact classes only
    detector = build_detector('faster-rcnn')

    class CascadeLikeRoIHead(StandardRoIHead):
        pass

    detector.roi_head.__class__ = CascadeLikeRoIHead
    with pytest.raises(NotImplementedError, match='StandardRoIHead, but got CascadeLikeRoIHead'):
        End2EndDetector(detector)
    # another box coder
    register_all_modules()
    cfg = Config.fromfile(str(TOY / 'retinanet_sa-r50_fpn_8e_toy-shapes.py'))
    cfg.merge_from_dict({'model.bbox_head.bbox_coder': dict(type='TBLRBBoxCoder', _delete_=True)})
    with pytest.raises(NotImplementedError, match='DeltaXYWHBBoxCoder, but got TBLRBBoxCoder'):
        End2EndDetector(MODELS.build(cfg.model))
    # NMS other than plain NMS
    cfg = Config.fromfile(str(TOY / 'retinanet_sa-r50_fpn_8e_toy-shapes.py'))
    cfg.merge_from_dict({'model.test_cfg.nms.type': 'soft_nms'})
    with pytest.raises(NotImplementedError, match="type='nms'.*soft_nms"):
        End2EndDetector(MODELS.build(cfg.model))
