"""mmdet's ``tensor`` forward mode of a detector as a module of tensors in and out.

Single-stage detectors are exactly mmdet's ``detector(inputs, mode='tensor')``.
A two-stage detector's RPN post-processing has data-dependent shapes, so
:class:`TensorModeDetector` takes the proposals as an input (mmdet's
``with_rpn=False`` path) and :func:`rois_from_rpn` makes them in Python.
"""

from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmdet.models.detectors import SingleStageDetector, TwoStageDetector
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.structures.bbox import bbox2roi
from torch import Tensor

from .roi_align_export import exportable_roi_extractors, roi_head_feats

#: Names of a dense head's outputs, in the order of its ``forward``.
HEAD_OUTPUTS = ('cls_score', 'bbox_pred')


def _dense_outputs(head: nn.Module, feats, prefix: str = '') -> Tuple[List[Tensor], List[str]]:
    """A dense head's outputs, level by level, and their names."""
    outputs, names = [], []
    for i, per_level in enumerate(head(feats)):
        base = HEAD_OUTPUTS[i] if i < len(HEAD_OUTPUTS) else f'output{i}'
        outputs += per_level
        names += [f'{prefix}{base}_{level}' for level in range(len(per_level))]
    return outputs, names


class TensorModeDetector(nn.Module):
    """A detector's raw outputs for preprocessed images, as a flat tuple of tensors.

    Shares the detector's modules. Single-stage: ``forward(inputs)`` returns
    the head's outputs (``cls_score_0..L-1``, ``bbox_pred_0..L-1``). Two-stage
    with mmdet's ``StandardRoIHead``: ``forward(inputs, rois)`` returns
    ``rpn_cls_score_*``, ``rpn_bbox_pred_*``, then the RoI head's ``cls_score``,
    ``bbox_pred`` (and ``mask_pred``) for the given RoIs.

    Args:
        detector (nn.Module): An mmdet single-stage or two-stage detector.

    Raises:
        ValueError: For other detectors or RoI heads.
    """

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector
        self.two_stage = isinstance(detector, TwoStageDetector)
        if self.two_stage:
            roi_head = detector.roi_head
            if type(roi_head) is not StandardRoIHead or not detector.with_rpn:
                raise ValueError(
                    f'TensorModeDetector exports two-stage detectors with an RPN and mmdet '
                    f'StandardRoIHead (Faster/Mask R-CNN), but got {type(roi_head).__name__}.'
                )
            self.bbox_roi_extractor, self.mask_roi_extractor = exportable_roi_extractors(roi_head)
        elif not isinstance(detector, SingleStageDetector):
            raise ValueError(
                f'TensorModeDetector exports mmdet SingleStageDetector and TwoStageDetector '
                f'models, but got {type(detector).__name__}.'
            )

    @property
    def input_names(self) -> List[str]:
        """``['input']``, or ``['input', 'rois']`` for two stages."""
        return ['input', 'rois'] if self.two_stage else ['input']

    def forward(self, inputs: Tensor, rois: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """Raw outputs of the heads, named by :meth:`output_names`.

        Args:
            inputs (Tensor): Preprocessed images (N, 3, H, W).
            rois (Tensor, optional): Two-stage only: proposals (R, 5), batch
                index then x1, y1, x2, y2 in ``inputs`` pixels (:func:`rois_from_rpn`).

        Returns:
            tuple[Tensor]: The outputs.
        """
        return tuple(self._forward(inputs, rois)[0])

    def output_names(self, inputs: Tensor, rois: Optional[Tensor] = None) -> List[str]:
        """Names of the outputs of :meth:`forward` for these inputs."""
        with torch.no_grad():
            return self._forward(inputs, rois)[1]

    def _forward(self, inputs: Tensor, rois: Optional[Tensor]) -> Tuple[List[Tensor], List[str]]:
        feats = self.detector.extract_feat(inputs)
        if not self.two_stage:
            return _dense_outputs(self.detector.bbox_head, feats)
        if rois is None:
            raise ValueError(
                'a two-stage TensorModeDetector needs rois (R, 5); make them with rois_from_rpn().'
            )
        outputs, names = _dense_outputs(self.detector.rpn_head, feats, 'rpn_')
        roi_head = self.detector.roi_head
        bbox_feats = roi_head_feats(roi_head, self.bbox_roi_extractor, feats, rois)
        outputs += roi_head.bbox_head(bbox_feats)
        names += ['cls_score', 'bbox_pred']
        if self.mask_roi_extractor is not None:
            mask_feats = roi_head_feats(roi_head, self.mask_roi_extractor, feats, rois)
            outputs.append(roi_head.mask_head(mask_feats))
            names.append('mask_pred')
        return outputs, names


def rois_from_rpn(
    detector: nn.Module, rpn_outputs: Sequence[Tensor], batch_img_metas: Sequence[dict]
) -> Tensor:
    """Proposals from a two-stage detector's raw RPN outputs, as its predict makes them.

    Args:
        detector (nn.Module): The two-stage detector (its RPN head decodes and runs NMS).
        rpn_outputs (Sequence[Tensor]): ``rpn_cls_score_*`` then ``rpn_bbox_pred_*``
            of :class:`TensorModeDetector`, from PyTorch or onnxruntime.
        batch_img_metas (Sequence[dict]): Image metas (``img_shape`` at least).

    Returns:
        Tensor: RoIs (R, 5) for :meth:`TensorModeDetector.forward`.
    """
    levels = len(rpn_outputs) // 2
    with torch.no_grad():
        proposals = detector.rpn_head.predict_by_feat(
            list(rpn_outputs[:levels]),
            list(rpn_outputs[levels:]),
            batch_img_metas=list(batch_img_metas),
            rescale=False,
        )
    return bbox2roi([p.bboxes for p in proposals])
