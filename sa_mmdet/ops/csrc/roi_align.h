// RoIAlign (average pooling) of the sa_mmdet operator (sa_mmdet/ops/roi_align.py);
// the CPU kernels are in cpu/roi_align_cpu.cpp.
#pragma once

#include <ATen/ATen.h>

namespace sa_mmdet {

// Pools the RoIs (R, 5: batch index, x1, y1, x2, y2) from the contiguous
// (N, C, H, W) tensor input into a new (R, C, pooled_h, pooled_w) tensor,
// exactly as mmcv's RoIAlign with pool_mode='avg'.
at::Tensor roi_align_forward(const at::Tensor& input, const at::Tensor& rois,
                             int64_t pooled_h, int64_t pooled_w, double spatial_scale,
                             int64_t sampling_ratio, bool aligned);

// The gradient of roi_align_forward with respect to its input, a new tensor of
// input_sizes (N, C, H, W); bit-identical for any number of threads.
at::Tensor roi_align_backward(const at::Tensor& grad_out, const at::Tensor& rois,
                              at::IntArrayRef input_sizes, double spatial_scale,
                              int64_t sampling_ratio, bool aligned);

}  // namespace sa_mmdet
