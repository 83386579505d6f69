"""ONNX ``NonMaxSuppression`` as a PyTorch operator, for detectors with NMS inside the graph.

``sa_mmdet::nms`` runs mmcv's NMS in eager mode and exports as one ONNX
``NonMaxSuppression`` (``center_point_box=0``) under either exporter:
:data:`ONNX_TRANSLATIONS` for ``dynamo=True``, a registered symbolic for ``dynamo=False``.
"""

import torch
from torch import Tensor

#: ONNX opset of ``NonMaxSuppression`` with its current semantics.
NMS_OPSET = 11


@torch.library.custom_op('sa_mmdet::nms', mutates_args=())
def _nms(boxes: Tensor, scores: Tensor, max_out: int, iou_thr: float, score_thr: float) -> Tensor:
    from mmcv.ops import nms

    rows = []
    for b in range(boxes.shape[0]):
        for c in range(scores.shape[1]):
            candidates = torch.nonzero(scores[b, c] > score_thr).view(-1)
            if candidates.numel() == 0:
                continue
            box, score = boxes[b, candidates].contiguous(), scores[b, c, candidates].contiguous()
            _, keep = nms(box, score, iou_thr)
            keep = candidates[keep[:max_out]]
            rows.append(torch.stack([torch.full_like(keep, b), torch.full_like(keep, c), keep], 1))
    return torch.cat(rows) if rows else boxes.new_zeros((0, 3), dtype=torch.long)


@_nms.register_fake
def _nms_fake(boxes: Tensor, *_) -> Tensor:
    selected = torch.library.get_ctx().new_dynamic_size()
    return boxes.new_empty((selected, 3), dtype=torch.long)


def nms(
    boxes: Tensor,
    scores: Tensor,
    max_output_boxes_per_class: int,
    iou_threshold: float,
    score_threshold: float,
) -> Tensor:
    """Indices of the boxes NMS keeps, as ONNX ``NonMaxSuppression`` returns them.

    Per image and class, the boxes scoring above ``score_threshold`` are kept
    greedily by score while their IoU with every kept box is at most ``iou_threshold``.

    Args:
        boxes (Tensor): Boxes (N, B, 4): x1, y1, x2, y2.
        scores (Tensor): Scores (N, C, B).
        max_output_boxes_per_class (int): Most boxes kept per image and class.
        iou_threshold (float): A box overlapping a kept one by more is dropped.
        score_threshold (float): Only boxes scoring above it are considered.

    Returns:
        Tensor: (M, 3) int64 (batch, class, box index), by image, class and descending score.
    """
    return _nms(
        boxes, scores, int(max_output_boxes_per_class), float(iou_threshold), float(score_threshold)
    )


def _nms_onnxscript(boxes, scores, max_out: int, iou_thr: float, score_thr: float):
    """Translation of ``sa_mmdet::nms`` for the torch.export-based exporter."""
    from onnxscript import opset18 as op

    return op.NonMaxSuppression(
        boxes,
        scores,
        op.Constant(value_ints=[max_out]),
        op.Constant(value_floats=[iou_thr]),
        op.Constant(value_floats=[score_thr]),
        center_point_box=0,
    )


def _nms_symbolic(g, boxes, scores, max_out, iou_thr, score_thr):
    """Translation of ``sa_mmdet::nms`` for the TorchScript-based exporter."""
    from torch.onnx.symbolic_helper import _parse_arg

    return g.op(
        'NonMaxSuppression',
        boxes,
        scores,
        g.op('Constant', value_t=torch.tensor([_parse_arg(max_out, 'i')], dtype=torch.long)),
        g.op('Constant', value_t=torch.tensor([_parse_arg(iou_thr, 'f')], dtype=torch.float)),
        g.op('Constant', value_t=torch.tensor([_parse_arg(score_thr, 'f')], dtype=torch.float)),
        center_point_box_i=0,
    )


torch.onnx.register_custom_op_symbolic('sa_mmdet::nms', _nms_symbolic, NMS_OPSET)

#: ``custom_translation_table`` entries of ``torch.onnx.export(..., dynamo=True)``.
ONNX_TRANSLATIONS = {torch.ops.sa_mmdet.nms.default: _nms_onnxscript}
