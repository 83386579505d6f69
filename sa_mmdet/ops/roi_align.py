"""RoIAlign (average pooling) as a PyTorch operator (namespace ``sa_mmdet``).

``sa_mmdet::roi_align(features, rois, output_size, spatial_scale, sampling_ratio, aligned)``,
differentiable in ``features`` through ``sa_mmdet::roi_align_backward``, runs the
multi-threaded kernel of ``csrc/cpu/roi_align_cpu.cpp`` on contiguous float32/float64 CPU
tensors (bit for bit mmcv's results, for any number of threads; mmcv's runs on one thread)
and mmcv's kernels elsewhere or inside ``sa_kernel_enabled(False)``. ``sa_mmdet.deploy``
exports it as ONNX ``RoiAlign``.
"""

from typing import List, Sequence

import torch
from mmcv.ops import RoIAlign as MMCVRoIAlign
from mmcv.ops import roi_align as mmcv_roi_align
from torch import Tensor

from .shuffle_attention import _ext, sa_backend

_KERNEL_DTYPES = (torch.float32, torch.float64)


def _kernel_applies(features: Tensor, rois: Tensor) -> bool:
    return (
        sa_backend(features.device) == 'cpp'
        and features.dtype in _KERNEL_DTYPES
        and rois.dtype == features.dtype
        and features.is_contiguous()
        and rois.is_contiguous()
    )


@torch.library.custom_op('sa_mmdet::roi_align', mutates_args=())
def _roi_align(
    features: Tensor,
    rois: Tensor,
    output_size: List[int],
    spatial_scale: float,
    sampling_ratio: int,
    aligned: bool,
) -> Tensor:
    if _kernel_applies(features, rois):
        return _ext.roi_align_forward(
            features, rois, output_size[0], output_size[1], spatial_scale, sampling_ratio, aligned
        )
    return mmcv_roi_align(
        features, rois, tuple(output_size), spatial_scale, sampling_ratio, 'avg', aligned
    )


@_roi_align.register_fake
def _roi_align_fake(features: Tensor, rois: Tensor, output_size: List[int], *_) -> Tensor:
    return features.new_empty(rois.shape[0], features.shape[1], *output_size)


@torch.library.custom_op('sa_mmdet::roi_align_backward', mutates_args=())
def _roi_align_backward(
    grad_out: Tensor,
    rois: Tensor,
    input_size: List[int],
    spatial_scale: float,
    sampling_ratio: int,
    aligned: bool,
) -> Tensor:
    grad_out = grad_out.contiguous()
    if _kernel_applies(grad_out, rois):
        return _ext.roi_align_backward(
            grad_out, rois, input_size, spatial_scale, sampling_ratio, aligned
        )
    from mmcv.ops.roi_align import ext_module

    grad_in = grad_out.new_zeros(input_size)
    unused = grad_out.new_zeros(0)  # argmax_y, argmax_x: max pooling only
    ext_module.roi_align_backward(
        grad_out,
        rois,
        unused,
        unused,
        grad_in,
        aligned_height=grad_out.shape[2],
        aligned_width=grad_out.shape[3],
        spatial_scale=spatial_scale,
        sampling_ratio=sampling_ratio,
        pool_mode=1,  # average
        aligned=aligned,
    )
    return grad_in


@_roi_align_backward.register_fake
def _roi_align_backward_fake(grad_out: Tensor, rois: Tensor, input_size: List[int], *_) -> Tensor:
    return grad_out.new_empty(input_size)


def _setup_context(ctx, inputs: tuple, output: Tensor) -> None:
    features, rois, _, spatial_scale, sampling_ratio, aligned = inputs
    ctx.save_for_backward(rois)
    ctx.input_size = list(features.shape)
    ctx.args = (spatial_scale, sampling_ratio, aligned)


def _backward_formula(ctx, grad_out: Tensor) -> tuple:
    (rois,) = ctx.saved_tensors
    grad_features = torch.ops.sa_mmdet.roi_align_backward(grad_out, rois, ctx.input_size, *ctx.args)
    return grad_features, None, None, None, None, None


_roi_align.register_autograd(_backward_formula, setup_context=_setup_context)


def roi_align(
    features: Tensor,
    rois: Tensor,
    output_size: Sequence[int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = 0,
    aligned: bool = True,
) -> Tensor:
    """Average RoIAlign of ``rois`` from ``features``, as mmcv's ``roi_align``.

    Args:
        features (Tensor): Feature maps (N, C, H, W).
        rois (Tensor): RoIs (R, 5) of the dtype of ``features``: batch index, x1, y1, x2, y2.
        output_size (Sequence[int]): Output height and width.
        spatial_scale (float): Feature map size over input size. Defaults to 1.0.
        sampling_ratio (int): Sampling points per bin side; 0 takes
            ``ceil(roi size / output size)``. Defaults to 0.
        aligned (bool): Shift the boxes by half a pixel (mmdet's default). Defaults to True.

    Returns:
        Tensor: The pooled features (R, C, out_h, out_w).
    """
    size = [int(s) for s in output_size]
    args = (float(spatial_scale), int(sampling_ratio), bool(aligned))
    return torch.ops.sa_mmdet.roi_align(features.contiguous(), rois.contiguous(), size, *args)


class RoIAlign(MMCVRoIAlign):
    """mmcv's ``RoIAlign`` module on the ``sa_mmdet::roi_align`` op where
    ``pool_mode='avg'`` (mmdet's); the same arguments and results."""

    def forward(self, input: Tensor, rois: Tensor) -> Tensor:
        """Pool RoI features.

        Args:
            input (Tensor): Feature maps (N, C, H, W).
            rois (Tensor): RoIs (R, 5): batch index, x1, y1, x2, y2.

        Returns:
            Tensor: The pooled features (R, C, out_h, out_w).
        """
        if self.pool_mode != 'avg' or self.use_torchvision:
            return super().forward(input, rois)
        return roi_align(
            input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned
        )
