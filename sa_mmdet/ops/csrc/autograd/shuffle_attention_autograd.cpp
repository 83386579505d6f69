// Autograd of the sa_mmdet::shuffle_attention ops for CPU and CUDA tensors, in C++.
//
// The ops are defined in Python (sa_mmdet/ops/shuffle_attention.py, with
// torch.library.custom_op), which also registers their autograd for every
// device. That registration runs an autograd.Function in Python on each call;
// this one, registered for AutogradCPU and AutogradCUDA (which take precedence
// over the Autograd alias key), computes the same thing without entering
// Python: the forward and backward ops are called through the dispatcher, so
// their kernels (C++ on CPU, Triton on CUDA), fake implementations and tracing
// under torch.compile are those of the Python registration.
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
              const at::Tensor&, const at::Tensor&, const at::Tensor&, double, bool)>();
  return op;
}

const auto& backward_op() {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("sa_mmdet::shuffle_attention_backward", "")
          .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor>(
              const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
              const at::Tensor&, const at::Tensor&, bool)>();
  return op;
}

class ShuffleAttentionFunction : public torch::autograd::Function<ShuffleAttentionFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x,
                               const at::Tensor& weight, const at::Tensor& bias, double eps,
                               bool shuffle) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [out, mean, rstd] = forward_op().call(x, weight, bias, eps, shuffle);
    ctx->save_for_backward({x, weight, bias, mean, rstd});
    ctx->saved_data["shuffle"] = shuffle;
    ctx->mark_non_differentiable({mean, rstd});
    return {out, mean, rstd};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    auto [grad_x, grad_weight, grad_bias] =
        backward_op().call(grads[0], saved[0], saved[1], saved[2], saved[3], saved[4],
                           ctx->saved_data["shuffle"].toBool());
    return {grad_x, grad_weight, grad_bias, at::Tensor(), at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor, at::Tensor> forward_autograd(const at::Tensor& x,
                                                                const at::Tensor& weight,
                                                                const at::Tensor& bias,
                                                                double eps, bool shuffle) {
  auto out = ShuffleAttentionFunction::apply(x, weight, bias, eps, shuffle);
  return {out[0], out[1], out[2]};
}

}  // namespace

void register_autograd(torch::Library& m) {
  m.impl("shuffle_attention_forward", TORCH_FN(forward_autograd));
  // not differentiable (no double backward), as in the Python registration
  m.impl("shuffle_attention_backward", torch::autograd::autogradNotImplementedFallback());
}

TORCH_LIBRARY_IMPL(sa_mmdet, AutogradCPU, m) { register_autograd(m); }
TORCH_LIBRARY_IMPL(sa_mmdet, AutogradCUDA, m) { register_autograd(m); }

}  // namespace sa_mmdet
