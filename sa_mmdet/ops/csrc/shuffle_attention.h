// Shuffle Attention kernels of the sa_mmdet operator (sa_mmdet/ops/shuffle_attention.py);
// the CPU ones are in cpu/shuffle_attention_cpu.cpp.
#pragma once

#include <ATen/ATen.h>

#include <tuple>

namespace sa_mmdet {

// Returns SA of the contiguous (N, C, H, W) tensor x, channel-shuffled, and
// the per-(n, c) mean and inverse std, each (N, C), in the dtype of weight.
std::tuple<at::Tensor, at::Tensor, at::Tensor> shuffle_attention_forward(
    const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps);

// Returns the gradients of x (contiguous, like x), weight and bias (the last
// two summed in a fixed order: bit-identical runs).
std::tuple<at::Tensor, at::Tensor, at::Tensor> shuffle_attention_backward(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& weight,
    const at::Tensor& bias, const at::Tensor& mean, const at::Tensor& rstd);

}  // namespace sa_mmdet
