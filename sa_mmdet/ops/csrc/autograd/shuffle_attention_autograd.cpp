// Autograd of the sa_mmdet::shuffle_attention ops for CPU and CUDA tensors, in C++.
//
// The ops are defined in Python (sa_mmdet/ops/shuffle_attention.py, with
// torch.library.custom_op, and sa_mmdet/ops/shuffle_attention_layer.py), which
// also gives them autograd for every device: an autograd.Function in Python
// for the forward op, the autograd of its decomposition for the layer op. The
// nodes here, registered for AutogradCPU and AutogradCUDA (which take
// precedence over the Autograd alias key and over CompositeImplicitAutograd),
// compute the same thing without entering Python: the forward and backward ops
// are called through the dispatcher, so their kernels (C++ on CPU, Triton on
// CUDA), fake implementations and tracing under torch.compile are those of the
// Python registration.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/csrc/autograd/autograd_not_implemented_fallback.h>
#include <torch/library.h>

#include <tuple>

namespace sa_mmdet {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The ops are looked up at their first call: this library is loaded before
// Python defines them.
const auto& forward_op() {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("sa_mmdet::shuffle_attention_forward", "")
          .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor>(
              const at::Tensor&, const at::Tensor&, const at::Tensor&, double)>();
  return op;
}

const auto& backward_op() {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("sa_mmdet::shuffle_attention_backward", "")
          .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor>(
              const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
              const at::Tensor&, const at::Tensor&)>();
  return op;
}

class ShuffleAttentionFunction : public torch::autograd::Function<ShuffleAttentionFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x,
                               const at::Tensor& weight, const at::Tensor& bias, double eps) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [out, mean, rstd] = forward_op().call(x, weight, bias, eps);
    ctx->save_for_backward({x, weight, bias, mean, rstd});
    ctx->mark_non_differentiable({mean, rstd});
    return {out, mean, rstd};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    auto [grad_x, grad_weight, grad_bias] =
        backward_op().call(grads[0], saved[0], saved[1], saved[2], saved[3], saved[4]);
    return {grad_x, grad_weight, grad_bias, at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor, at::Tensor> forward_autograd(const at::Tensor& x,
                                                                const at::Tensor& weight,
                                                                const at::Tensor& bias,
                                                                double eps) {
  auto out = ShuffleAttentionFunction::apply(x, weight, bias, eps);
  return {out[0], out[1], out[2]};
}

// sa_mmdet::shuffle_attention_layer: ShuffleAttention from its six parameters
// (k elements each: cweight, cbias, sweight, sbias of shape (1, k, 1, 1), the
// GroupNorm's weight and bias of shape (k,)). One node folds them into the
// gate weight and bias of the forward op (sa_gate_params in Python),
//   weight = [cweight, sweight * gn_weight], bias = [cbias, sweight * gn_bias + sbias],
// and maps the op's gate gradients back onto the six: the fold's own autograd
// would cost eight nodes per call, more than the kernels on small inputs.
class ShuffleAttentionLayerFunction
    : public torch::autograd::Function<ShuffleAttentionLayerFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cweight,
                            const at::Tensor& cbias, const at::Tensor& sweight,
                            const at::Tensor& sbias, const at::Tensor& gn_weight,
                            const at::Tensor& gn_bias, double eps) {
    at::AutoDispatchBelowADInplaceOrView guard;
    // symbolic sizes: torch.compile traces this node with dynamic shapes
    const c10::SymInt k = gn_weight.sym_numel();
    const auto sweight_flat = sweight.reshape_symint({k});
    const auto weight = at::cat({cweight.reshape_symint({k}), sweight_flat * gn_weight});
    const auto bias = at::cat(
        {cbias.reshape_symint({k}), at::addcmul(sbias.reshape_symint({k}), sweight_flat, gn_bias)});
    auto [out, mean, rstd] = forward_op().call(x, weight, bias, eps);
    ctx->save_for_backward(
        {x, weight, bias, mean, rstd, cweight, cbias, sweight, sbias, gn_weight, gn_bias});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &cweight = saved[5], &cbias = saved[6], &sweight = saved[7], &sbias = saved[8];
    const auto &gn_weight = saved[9], &gn_bias = saved[10];
    auto [grad_x, grad_weight, grad_bias] =
        backward_op().call(grads[0], saved[0], saved[1], saved[2], saved[3], saved[4]);
    const c10::SymInt k = gn_weight.sym_numel();
    // [channel branch, spatial branch] of each gate gradient
    const auto weight_c = grad_weight.narrow_symint(0, 0, k);
    const auto weight_s = grad_weight.narrow_symint(0, k, k);
    const auto bias_c = grad_bias.narrow_symint(0, 0, k);
    const auto bias_s = grad_bias.narrow_symint(0, k, k);
    const auto sweight_flat = sweight.reshape_symint({k});
    return {grad_x,
            weight_c.reshape_symint(cweight.sym_sizes()),
            bias_c.reshape_symint(cbias.sym_sizes()),
            at::addcmul(weight_s * gn_weight, bias_s, gn_bias).reshape_symint(sweight.sym_sizes()),
            bias_s.reshape_symint(sbias.sym_sizes()),
            weight_s * sweight_flat,
            bias_s * sweight_flat,
            at::Tensor()};
  }
};

at::Tensor layer_autograd(const at::Tensor& x, const at::Tensor& cweight, const at::Tensor& cbias,
                          const at::Tensor& sweight, const at::Tensor& sbias,
                          const at::Tensor& gn_weight, const at::Tensor& gn_bias, double eps) {
  return ShuffleAttentionLayerFunction::apply(x, cweight, cbias, sweight, sbias, gn_weight,
                                              gn_bias, eps);
}

}  // namespace

void register_autograd(torch::Library& m) {
  m.impl("shuffle_attention_forward", TORCH_FN(forward_autograd));
  m.impl("shuffle_attention_layer", TORCH_FN(layer_autograd));
  // not differentiable (no double backward), as in the Python registration
  m.impl("shuffle_attention_backward", torch::autograd::autogradNotImplementedFallback());
}

TORCH_LIBRARY_IMPL(sa_mmdet, AutogradCPU, m) { register_autograd(m); }
TORCH_LIBRARY_IMPL(sa_mmdet, AutogradCUDA, m) { register_autograd(m); }

}  // namespace sa_mmdet
