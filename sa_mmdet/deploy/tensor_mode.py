"""mmdet's ``tensor`` forward mode of a detector as a module of tensors in and out.

What ``torch.onnx.export`` takes: the backbone, neck and heads up to their raw
outputs, with nothing data-dependent inside. Single-stage detectors
(RetinaNet, FCOS, RPN, ...) are exactly mmdet's ``detector(inputs,
mode='tensor')``. A two-stage detector's tensor mode runs the RPN's
post-processing (decoding, NMS) between the RPN and the RoI head, whose number
of proposals depends on the data; :class:`TensorModeDetector` takes the
proposals as an input instead (mmdet's ``with_rpn=False`` path) and returns
the RPN's raw outputs too, so the proposals come from :func:`rois_from_rpn`
in Python, as mmdet's own post-processing does.
"""

from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmdet.models.detectors import SingleStageDetector, TwoStageDetector
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.structures.bbox import bbox2roi
from torch import Tensor

from .roi_align_export import ExportableRoIExtractor

#: Names of a dense head's outputs, in the order of its ``forward``.
HEAD_OUTPUTS = ('cls_score', 'bbox_pred')


def _dense_names(outputs: Sequence[Sequence[Tensor]], prefix: str = '') -> List[str]:
    names = []
    for i, per_level in enumerate(outputs):
        base = HEAD_OUTPUTS[i] if i < len(HEAD_OUTPUTS) else f'output{i}'
        names += [f'{prefix}{base}_{level}' for level in range(len(per_level))]
    return names


class TensorModeDetector(nn.Module):
    """A detector's raw outputs for preprocessed images, as a flat tuple of tensors.

    Shares the detector's modules (no copy). Single-stage detectors:
    ``forward(inputs)`` returns the head's outputs level by level (RetinaNet:
    ``cls_score_0..L-1``, ``bbox_pred_0..L-1``). Two-stage detectors with
    mmdet's ``StandardRoIHead`` (Faster and Mask R-CNN): ``forward(inputs,
    rois)`` returns the RPN's outputs (``rpn_cls_score_*``,
    ``rpn_bbox_pred_*``) and the RoI head's for the given RoIs
    (``cls_score``, ``bbox_pred``, and ``mask_pred`` with a mask head).

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
            self.bbox_roi_extractor = ExportableRoIExtractor(roi_head.bbox_roi_extractor)
            self.mask_roi_extractor = None
            if roi_head.with_mask:
                if roi_head.share_roi_extractor:
                    self.mask_roi_extractor = self.bbox_roi_extractor
                else:
                    self.mask_roi_extractor = ExportableRoIExtractor(roi_head.mask_roi_extractor)
        elif not isinstance(detector, SingleStageDetector):
            raise ValueError(
                f'TensorModeDetector exports mmdet SingleStageDetector and TwoStageDetector '
                f'models, but got {type(detector).__name__}.'
            )

    @property
    def input_names(self) -> List[str]:
        """Names of the inputs: ``['input']``, or ``['input', 'rois']`` for two stages."""
        return ['input', 'rois'] if self.two_stage else ['input']

    def forward(self, inputs: Tensor, rois: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """Raw outputs of the heads.

        Args:
            inputs (Tensor): Preprocessed images (N, 3, H, W), as the
                detector's data preprocessor makes them.
            rois (Tensor, optional): Two-stage detectors: proposals (R, 5),
                batch index then x1, y1, x2, y2 in ``inputs`` pixels
                (:func:`rois_from_rpn`).

        Returns:
            tuple[Tensor]: The outputs, named by :meth:`output_names`.
        """
        return tuple(self._forward(inputs, rois)[0])

    def output_names(self, inputs: Tensor, rois: Optional[Tensor] = None) -> List[str]:
        """Names of the outputs of :meth:`forward` for these inputs."""
        with torch.no_grad():
            return self._forward(inputs, rois)[1]

    def _forward(self, inputs: Tensor, rois: Optional[Tensor]) -> Tuple[List[Tensor], List[str]]:
        feats = self.detector.extract_feat(inputs)
        if not self.two_stage:
            dense = self.detector.bbox_head(feats)
            return [t for level in dense for t in level], _dense_names(dense)
        if rois is None:
            raise ValueError(
                'a two-stage TensorModeDetector needs rois (R, 5); make them with rois_from_rpn().'
            )
        dense = self.detector.rpn_head(feats)
        outputs, names = [t for level in dense for t in level], _dense_names(dense, 'rpn_')
        roi_head = self.detector.roi_head
        bbox_feats = self.bbox_roi_extractor(feats, rois)
        if roi_head.with_shared_head:
            bbox_feats = roi_head.shared_head(bbox_feats)
        outputs += list(roi_head.bbox_head(bbox_feats))
        names += ['cls_score', 'bbox_pred']
        if self.mask_roi_extractor is not None:
            mask_feats = self.mask_roi_extractor(feats, rois)
            if roi_head.with_shared_head:
                mask_feats = roi_head.shared_head(mask_feats)
            outputs.append(roi_head.mask_head(mask_feats))
            names.append('mask_pred')
        return outputs, names


def rois_from_rpn(
    detector: nn.Module, rpn_outputs: Sequence[Tensor], batch_img_metas: Sequence[dict]
) -> Tensor:
    """Proposals from a two-stage detector's raw RPN outputs, as its predict makes them.

    Args:
        detector (nn.Module): The two-stage detector (its RPN head and test
            config decode the outputs and run NMS).
        rpn_outputs (Sequence[Tensor]): ``rpn_cls_score_*`` then
            ``rpn_bbox_pred_*`` of :class:`TensorModeDetector`, from PyTorch
            or onnxruntime (as tensors).
        batch_img_metas (Sequence[dict]): Metas of the images (``img_shape``
            at least), e.g. ``[s.metainfo for s in data_samples]``.

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
