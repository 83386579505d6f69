"""A detector with its post-processing inside: one graph from the image batch to the detections.

:class:`End2EndDetector` follows mmdeploy's end2end contract: the normalized
batch (N, 3, H, W) in; ``dets`` (N, K, 5: x1, y1, x2, y2, score, in input
pixels), ``labels`` (N, K) int64 and, with a mask head, ``masks`` (N, K, h, w)
(each detection's class probabilities at the mask head's resolution, inside
its box) out. K is the test config's ``max_per_img``: detections by
descending score, then rows of zeros with label -1. Everything between is
fixed-shape tensor ops (padded ``topk``, ONNX ``NonMaxSuppression`` and
``RoiAlign``) that both exporters translate; in eager mode the result equals
mmdet's ``predict(..., rescale=False)`` for images of the batch's size.
"""

from typing import Dict, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.dense_heads import RetinaHead, RPNHead
from mmdet.models.detectors import SingleStageDetector, TwoStageDetector
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.roi_heads.bbox_heads import (
    BBoxHead,
    ConvFCBBoxHead,
    Shared2FCBBoxHead,
    Shared4Conv1FCBBoxHead,
)
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
from mmdet.models.task_modules.prior_generators import AnchorGenerator
from mmdet.structures.bbox import get_box_tensor
from torch import Tensor

from .nms_export import nms
from .roi_align_export import exportable_roi_extractors, roi_head_feats

#: Output names, in order (``masks`` only with a mask head).
OUTPUT_NAMES = ('dets', 'labels', 'masks')
#: Score of padding candidates, below every probability.
_PAD_SCORE = -1.0
#: Threshold that keeps every real candidate and drops the padding.
_NO_THRESHOLD = -0.5
_BBOX_HEADS = (BBoxHead, ConvFCBBoxHead, Shared2FCBBoxHead, Shared4Conv1FCBBoxHead)


def _require(obj: object, allowed: Tuple[type, ...], what: str) -> None:
    if type(obj) not in allowed:
        names = ', '.join(c.__name__ for c in allowed)
        raise NotImplementedError(
            f'End2EndDetector supports {what} of type {names}, but got {type(obj).__name__}.'
        )


def _check_dense_head(head: nn.Module, allowed: Tuple[type, ...], stage: str) -> None:
    _require(head, allowed, 'dense heads')
    _require(head.prior_generator, (AnchorGenerator,), 'prior generators')
    _require(head.bbox_coder, (DeltaXYWHBBoxCoder,), 'box coders')
    _nms_iou(head.test_cfg, stage)


def _nms_iou(cfg: Dict, stage: str) -> float:
    nms_cfg = cfg.get('nms', None)
    if nms_cfg is None or nms_cfg.get('type', 'nms') != 'nms':
        raise NotImplementedError(
            f"End2EndDetector runs test_cfg nms=dict(type='nms', iou_threshold=...), but the "
            f'{stage} test_cfg has nms={nms_cfg!r}.'
        )
    return float(nms_cfg['iou_threshold'])


def _pad(x: Tensor, count: int, value: float, dim: int = 1) -> Tensor:
    """``x`` with ``count`` more entries of ``value`` along ``dim`` (sizes may be symbolic)."""
    index = [slice(None)] * x.dim()
    index[dim] = slice(0, 1)
    first = x[tuple(index)]
    pad = torch.zeros_like(first) if value == 0 else torch.full_like(first, value)
    repeats = [1] * x.dim()
    repeats[dim] = count
    return torch.cat([x, pad.repeat(repeats)], dim)


def _decode(coder: DeltaXYWHBBoxCoder, priors: Tensor, deltas: Tensor, inputs: Tensor) -> Tensor:
    """mmdet's decoding of deltas (..., 4) from priors (..., 4), clipped to the image size."""
    boxes = get_box_tensor(coder.decode(priors.reshape(-1, 4), deltas.reshape(-1, 4)))
    boxes = boxes.view(deltas.shape)
    if not coder.clip_border:
        return boxes
    if torch.jit.is_tracing():  # the TorchScript tracer records a shape as a tensor only
        hw = torch._shape_as_tensor(inputs)[2:].to(boxes.dtype)
        return torch.minimum(boxes.clamp(min=0), torch.cat([hw.flip(0), hw.flip(0)]))
    h, w = inputs.shape[2:]
    x, y = boxes[..., 0::2].clamp(0, w), boxes[..., 1::2].clamp(0, h)
    return torch.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], -1)


def _level_candidates(
    probs: Tensor, deltas: Tensor, priors: Tensor, num_classes: int, nms_pre: int
) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Scores, labels, deltas and priors of one level's top ``nms_pre`` (anchor, class) pairs.

    ``probs`` (N, A * C) are ``_PAD_SCORE`` below the threshold; ``nms_pre`` <= 0 keeps all.
    """
    n = probs.shape[0]
    if nms_pre <= 0:
        anchor_count = priors.shape[0]
        priors = priors[None, :, None].expand(n, -1, num_classes, -1).reshape(n, -1, 4)
        deltas = deltas[:, :, None].expand(-1, -1, num_classes, -1).reshape(n, -1, 4)
        labels = torch.arange(num_classes, device=probs.device).repeat(anchor_count)
        return probs, labels[None].expand(n, -1), deltas, priors
    # a fixed-size topk: padded so that nms_pre always exist, whatever the image size
    probs, index = _pad(probs, nms_pre, _PAD_SCORE).topk(nms_pre, dim=1)
    anchor_index = torch.div(index, num_classes, rounding_mode='floor')
    deltas = _pad(deltas, nms_pre, 0.0).gather(1, anchor_index[..., None].expand(-1, -1, 4))
    priors = _pad(priors, nms_pre, 0.0, dim=0)[anchor_index]
    return probs, index % num_classes, deltas, priors


def batched_nms_topk(
    boxes: Tensor, scores: Tensor, labels: Tensor, valid: Tensor, iou_threshold: float, max_num: int
) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """mmdet's ``batched_nms`` then its first ``max_num``, per image, in fixed shapes.

    Boxes are offset by ``label * (max coordinate + 1)``, as in mmdet, so that
    one ONNX ``NonMaxSuppression`` class does per-label NMS.

    Args:
        boxes (Tensor): Candidates (N, B, 4).
        scores (Tensor): Their scores (N, B).
        labels (Tensor): Their labels (N, B), int64.
        valid (Tensor): Which candidates count (N, B), bool.
        iou_threshold (float): NMS IoU threshold.
        max_num (int): Detections per image (K).

    Returns:
        tuple[Tensor]: boxes (N, K, 4), scores (N, K), labels (N, K) and ``kept``
        (N, K) bool, by descending score; rows with ``kept`` False are padding.
    """
    boxes, scores = _pad(boxes, max_num, 0.0), _pad(scores, max_num, _PAD_SCORE)
    labels, valid = _pad(labels, max_num, 0), _pad(valid, max_num, False)
    scores = torch.where(valid, scores, torch.full_like(scores, _PAD_SCORE))
    biggest = torch.where(valid[..., None], boxes, torch.zeros_like(boxes)).amax((1, 2))
    offsets = labels.to(boxes.dtype) * (biggest[:, None] + 1)
    selected = nms(
        boxes + offsets[..., None], scores[:, None], max_num, iou_threshold, _NO_THRESHOLD
    )
    flat = selected[:, 0] * scores.shape[1] + selected[:, 2]
    flat_scores = scores.reshape(-1)
    kept = torch.zeros_like(flat_scores).scatter(0, flat, torch.ones_like(flat_scores[flat]))
    ranked = torch.where(kept.view_as(scores) > 0, scores, torch.full_like(scores, _PAD_SCORE))
    top, index = ranked.topk(max_num, dim=1)
    out_boxes = boxes.gather(1, index[..., None].expand(-1, -1, 4))
    return out_boxes, top, labels.gather(1, index), top > _NO_THRESHOLD


def _rois(boxes: Tensor) -> Tensor:
    """RoIs (N * K, 5) of boxes (N, K, 4): batch index, then the box."""
    index = torch.arange(boxes.shape[0], device=boxes.device).to(boxes.dtype)
    index = index.view(-1, 1, 1).expand(-1, boxes.shape[1], 1)
    return torch.cat([index, boxes], -1).reshape(-1, 5)


class End2EndDetector(nn.Module):
    """An mmdet detector with its post-processing, as a module of fixed-shape tensors.

    Supported: single-stage detectors with a ``RetinaHead``; two-stage ones with
    an ``RPNHead`` and a ``StandardRoIHead`` (``BBoxHead``/``ConvFCBBoxHead``
    family, ``FCNMaskHead``); ``AnchorGenerator`` priors, ``DeltaXYWHBBoxCoder``
    boxes and ``nms=dict(type='nms')``. Shares the detector's modules.

    Args:
        detector (nn.Module): The mmdet detector, e.g. from ``init_detector``.

    Raises:
        NotImplementedError: For anything else, naming it and what is supported.
    """

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector
        self.two_stage = isinstance(detector, TwoStageDetector)
        self.with_mask = False
        if self.two_stage:
            self._check_two_stage(detector)
        elif isinstance(detector, SingleStageDetector):
            _check_dense_head(detector.bbox_head, (RetinaHead,), 'bbox_head')
        else:
            raise NotImplementedError(
                f'End2EndDetector supports mmdet SingleStageDetector (RetinaNet) and '
                f'TwoStageDetector (Faster/Mask R-CNN) models, but got {type(detector).__name__}.'
            )

    def _check_two_stage(self, detector: nn.Module) -> None:
        if not detector.with_rpn:
            raise NotImplementedError('End2EndDetector needs a two-stage detector with an RPN.')
        _check_dense_head(detector.rpn_head, (RPNHead,), 'rpn')
        roi_head = detector.roi_head
        _require(roi_head, (StandardRoIHead,), 'RoI heads')
        _require(roi_head.bbox_head, _BBOX_HEADS, 'bbox heads')
        _require(roi_head.bbox_head.bbox_coder, (DeltaXYWHBBoxCoder,), 'box coders')
        if roi_head.bbox_head.custom_activation:
            raise NotImplementedError('End2EndDetector takes softmax bbox heads only.')
        _nms_iou(roi_head.test_cfg, 'rcnn')
        self.with_mask = roi_head.with_mask
        if self.with_mask:
            _require(roi_head.mask_head, (FCNMaskHead,), 'mask heads')
        try:
            self.bbox_roi_extractor, self.mask_roi_extractor = exportable_roi_extractors(roi_head)
        except ValueError as error:
            raise NotImplementedError(f'End2EndDetector: {error}') from error

    @property
    def output_names(self) -> List[str]:
        """``['dets', 'labels']``, plus ``'masks'`` for a detector with a mask head."""
        return list(OUTPUT_NAMES[: 3 if self.with_mask else 2])

    @property
    def dynamic_example_size(self) -> int:
        """Least image side (a multiple of 32) for the example of a dynamic dynamo export.

        torch.export specialises dims of example size 1, so the coarsest feature maps must be 2+.
        """
        head = self.detector.rpn_head if self.two_stage else self.detector.bbox_head
        stride = max(max(s) for s in head.prior_generator.strides)
        return (int(stride) // 32 + 1) * 32

    def forward(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Detections of a preprocessed batch.

        Args:
            inputs (Tensor): Normalized images (N, 3, H, W); boxes are clipped to H x W.

        Returns:
            tuple[Tensor]: ``dets`` (N, K, 5), ``labels`` (N, K) int64, and
            ``masks`` (N, K, h, w) with a mask head.
        """
        feats = self.detector.extract_feat(inputs)
        if not self.two_stage:
            head = self.detector.bbox_head
            return self._outputs(*self._dense_detections(head, feats, inputs))
        rpn_head = self.detector.rpn_head
        proposals, _, _, proposal_kept = self._dense_detections(rpn_head, feats, inputs)
        boxes, scores, labels, kept = self._roi_detections(feats, proposals, proposal_kept, inputs)
        outputs = self._outputs(boxes, scores, labels, kept)
        if self.with_mask:
            outputs += (self._masks(feats, boxes, labels, kept),)
        return outputs

    @staticmethod
    def _outputs(boxes: Tensor, scores: Tensor, labels: Tensor, kept: Tensor) -> Tuple[Tensor, ...]:
        dets = torch.cat([boxes, scores[..., None]], -1)
        dets = torch.where(kept[..., None], dets, torch.zeros_like(dets))
        return dets, torch.where(kept, labels, torch.full_like(labels, -1))

    def _dense_detections(
        self, head: nn.Module, feats: Tuple[Tensor, ...], inputs: Tensor
    ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """RetinaNet's or the RPN's ``predict_by_feat`` (with NMS) in fixed shapes."""
        cfg = head.test_cfg
        cls_scores, bbox_preds = head(feats)
        sizes = [c.shape[-2:] for c in cls_scores]
        anchors = head.prior_generator.grid_priors(sizes, dtype=inputs.dtype, device=inputs.device)
        num_classes = head.cls_out_channels if head.use_sigmoid_cls else head.num_classes
        score_thr = float(cfg.get('score_thr', _NO_THRESHOLD))
        candidates = []
        for level, (cls_score, bbox_pred, prior) in enumerate(zip(cls_scores, bbox_preds, anchors)):
            n = cls_score.shape[0]
            logits = cls_score.permute(0, 2, 3, 1).reshape(n, -1, head.cls_out_channels)
            probs = logits.sigmoid() if head.use_sigmoid_cls else logits.softmax(-1)
            probs = probs[..., :num_classes].reshape(n, -1)  # (N, A * C)
            probs = torch.where(probs > score_thr, probs, torch.full_like(probs, _PAD_SCORE))
            deltas = bbox_pred.permute(0, 2, 3, 1).reshape(n, -1, 4)
            probs, labels, deltas, prior = _level_candidates(
                probs, deltas, prior, num_classes, int(cfg.get('nms_pre', -1))
            )
            if isinstance(head, RPNHead):  # mmdet's RPN runs NMS per level
                labels = torch.full_like(labels, level)
            candidates.append((probs, labels, deltas, prior))
        scores, labels, deltas, priors = (torch.cat(x, 1) for x in zip(*candidates))
        boxes = _decode(head.bbox_coder, priors, deltas, inputs)
        valid = scores > _NO_THRESHOLD
        min_bbox_size = float(cfg.get('min_bbox_size', -1))
        if min_bbox_size >= 0:
            valid = valid & (boxes[..., 2:] - boxes[..., :2] > min_bbox_size).all(-1)
        return batched_nms_topk(
            boxes, scores, labels, valid, _nms_iou(cfg, 'head'), int(cfg['max_per_img'])
        )

    def _roi_detections(
        self, feats: Tuple[Tensor, ...], proposals: Tensor, proposal_kept: Tensor, inputs: Tensor
    ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """``StandardRoIHead.predict_bbox`` for the proposals (N, P, 4), in fixed shapes."""
        roi_head = self.detector.roi_head
        bbox_head, cfg = roi_head.bbox_head, roi_head.test_cfg
        n, p = proposals.shape[:2]
        bbox_feats = roi_head_feats(roi_head, self.bbox_roi_extractor, feats, _rois(proposals))
        cls_score, bbox_pred = bbox_head(bbox_feats)
        num_classes = bbox_head.num_classes
        scores = F.softmax(cls_score, dim=-1)[:, :num_classes].reshape(n, -1)  # (N, P * C)
        reg_classes = 1 if bbox_head.reg_class_agnostic else num_classes
        priors = proposals[:, :, None].expand(-1, -1, reg_classes, -1)
        boxes = _decode(bbox_head.bbox_coder, priors, bbox_pred.view(n, p, reg_classes, 4), inputs)
        boxes = boxes.expand(-1, -1, num_classes, -1).reshape(n, -1, 4)
        labels = torch.arange(num_classes, device=boxes.device).repeat(p)[None].expand(n, -1)
        proposal_kept = proposal_kept[..., None].expand(-1, -1, num_classes).reshape(n, -1)
        valid = (scores > float(cfg['score_thr'])) & proposal_kept
        return batched_nms_topk(
            boxes, scores, labels, valid, _nms_iou(cfg, 'rcnn'), int(cfg['max_per_img'])
        )

    def _masks(
        self, feats: Tuple[Tensor, ...], boxes: Tensor, labels: Tensor, kept: Tensor
    ) -> Tensor:
        """The mask head's probabilities (N, K, h, w) of each detection's class."""
        roi_head = self.detector.roi_head
        mask_feats = roi_head_feats(roi_head, self.mask_roi_extractor, feats, _rois(boxes))
        mask_pred = roi_head.mask_head(mask_feats)  # (N * K, C, h, w)
        channel = torch.zeros_like(labels) if roi_head.mask_head.class_agnostic else labels
        channel = channel.reshape(-1, 1, 1, 1).expand(-1, 1, *mask_pred.shape[2:])
        masks = mask_pred.gather(1, channel).sigmoid()
        masks = masks.view(*boxes.shape[:2], *mask_pred.shape[2:])
        return torch.where(kept[..., None, None], masks, torch.zeros_like(masks))
