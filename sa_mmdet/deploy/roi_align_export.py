"""RoIAlign and mmdet's multi-level RoI extractor in a form both ONNX exporters translate.

mmcv's ``RoIAlign`` does not export as ONNX ``RoiAlign`` (opset 16) and
mmdet's ``SingleRoIExtractor`` picks levels with data-dependent shapes; here
``sa_mmdet::roi_align`` exports as ``RoiAlign`` and :class:`ExportableRoIExtractor`
pools every level and selects with ``where``.
"""

from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from torch import Tensor

from sa_mmdet.models.roi_heads import FastSingleRoIExtractor
from sa_mmdet.ops import roi_align  # noqa: F401  (registers sa_mmdet::roi_align)

#: ONNX opset of the exported ``RoiAlign`` (the first with ``half_pixel``).
ROI_ALIGN_OPSET = 16


def _roi_align_attributes(output_size, spatial_scale, sampling_ratio, aligned) -> dict:
    """The ONNX ``RoiAlign`` attributes equal to ``sa_mmdet::roi_align`` with these args."""
    return dict(
        # mmcv's aligned=True shifts sampling points by half a pixel, as ONNX 'half_pixel'
        coordinate_transformation_mode='half_pixel' if aligned else 'output_half_pixel',
        mode='avg',
        output_height=output_size[0],
        output_width=output_size[1],
        sampling_ratio=max(sampling_ratio, 0),
        spatial_scale=spatial_scale,
    )


def _roi_align_onnxscript(features, rois, output_size, spatial_scale, sampling_ratio, aligned):
    """Translation of ``sa_mmdet::roi_align`` for the torch.export-based exporter."""
    from onnx import TensorProto
    from onnxscript import opset18 as op

    batch_indices = op.Cast(op.Gather(rois, op.Constant(value_int=0), axis=1), to=TensorProto.INT64)
    boxes = op.Gather(rois, op.Constant(value_ints=[1, 2, 3, 4]), axis=1)
    attributes = _roi_align_attributes(output_size, spatial_scale, sampling_ratio, aligned)
    return op.RoiAlign(features, boxes, batch_indices, **attributes)


def _roi_align_symbolic(g, features, rois, output_size, spatial_scale, sampling_ratio, aligned):
    """Translation of ``sa_mmdet::roi_align`` for the TorchScript-based exporter."""
    from torch.onnx.symbolic_helper import _parse_arg

    column = g.op('Constant', value_t=torch.tensor(0, dtype=torch.long))
    batch_indices = g.op('Cast', g.op('Gather', rois, column, axis_i=1), to_i=7)  # int64
    coords = g.op('Constant', value_t=torch.tensor([1, 2, 3, 4], dtype=torch.long))
    boxes = g.op('Gather', rois, coords, axis_i=1)
    attributes = _roi_align_attributes(
        _parse_arg(output_size, 'is'),
        _parse_arg(spatial_scale, 'f'),
        _parse_arg(sampling_ratio, 'i'),
        _parse_arg(aligned, 'b'),
    )
    kinds = dict(coordinate_transformation_mode='s', mode='s', spatial_scale='f')  # others 'i'
    attributes = {f'{name}_{kinds.get(name, "i")}': v for name, v in attributes.items()}
    return g.op('RoiAlign', features, boxes, batch_indices, **attributes)


torch.onnx.register_custom_op_symbolic('sa_mmdet::roi_align', _roi_align_symbolic, ROI_ALIGN_OPSET)

#: ``custom_translation_table`` entries of ``torch.onnx.export(..., dynamo=True)``.
ONNX_TRANSLATIONS = {torch.ops.sa_mmdet.roi_align.default: _roi_align_onnxscript}


class ExportableRoIExtractor(nn.Module):
    """mmdet's ``SingleRoIExtractor`` (RoIAlign layers) in exportable tensor ops.

    Every RoI is pooled from every level and keeps the level ``map_roi_levels`` assigns it.

    Args:
        extractor (SingleRoIExtractor): The extractor (or a ``FastSingleRoIExtractor``)
            to mirror; its RoI layers must be mmcv ``RoIAlign`` with ``pool_mode='avg'``.

    Raises:
        ValueError: For another extractor or RoI layer.
    """

    def __init__(self, extractor: nn.Module) -> None:
        super().__init__()
        from mmcv.ops import RoIAlign

        if type(extractor) not in (SingleRoIExtractor, FastSingleRoIExtractor):
            raise ValueError(
                'ExportableRoIExtractor mirrors mmdet SingleRoIExtractor or '
                f'FastSingleRoIExtractor, but got {type(extractor).__name__}.'
            )
        for layer in extractor.roi_layers:
            if not isinstance(layer, RoIAlign) or layer.pool_mode != 'avg':
                raise ValueError(
                    f'ExportableRoIExtractor exports RoIAlign(pool_mode="avg") RoI layers, '
                    f'but got {layer!r}; use roi_layer=dict(type="RoIAlign", ...).'
                )
        self.extractor = extractor

    def forward(self, feats: Sequence[Tensor], rois: Tensor) -> Tensor:
        """Pool RoI features.

        Args:
            feats (Sequence[Tensor]): Feature maps, finest first.
            rois (Tensor): RoIs (R, 5): batch index, x1, y1, x2, y2 in input pixels.

        Returns:
            Tensor: Features (R, C, out_h, out_w).
        """
        extractor = self.extractor
        feats = feats[: extractor.num_inputs]
        rois = rois.to(feats[0].dtype)
        levels = extractor.map_roi_levels(rois, len(feats)) if len(feats) > 1 else None
        out = None
        for i, (feat, layer) in enumerate(zip(feats, extractor.roi_layers)):
            size, scale = list(layer.output_size), float(layer.spatial_scale)
            pooled = torch.ops.sa_mmdet.roi_align(
                feat, rois, size, scale, int(layer.sampling_ratio), bool(layer.aligned)
            )
            if levels is None:
                return pooled
            out = pooled if out is None else torch.where(levels.view(-1, 1, 1, 1) == i, pooled, out)
        return out


def exportable_roi_extractors(roi_head: nn.Module) -> Tuple[nn.Module, Optional[nn.Module]]:
    """Exportable bbox and mask (None without a mask head) RoI extractors of a RoI head."""
    bbox = ExportableRoIExtractor(roi_head.bbox_roi_extractor)
    if not roi_head.with_mask:
        return bbox, None
    if roi_head.share_roi_extractor:
        return bbox, bbox
    return bbox, ExportableRoIExtractor(roi_head.mask_roi_extractor)


def roi_head_feats(roi_head: nn.Module, extractor: nn.Module, feats, rois: Tensor) -> Tensor:
    """RoI features, through the RoI head's shared head if it has one."""
    roi_feats = extractor(feats, rois)
    return roi_head.shared_head(roi_feats) if roi_head.with_shared_head else roi_feats
