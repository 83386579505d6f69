// Shuffle Attention forward and backward on contiguous NCHW CPU tensors.
//
// The math is that of sa_mmdet/ops/shuffle_attention_torch.py.
// A plane is one (n, c) slice of H * W elements. Each plane is handled by one
// thread from start to end: its statistics are summed in one pass and its
// output is written in a second pass that reads the plane from cache, so the
// input is read from memory once. Input channel c of a plane uses gate
// parameter j = c % P (P = weight.numel()); j < P / 2 is channel attention,
// j >= P / 2 spatial attention. With shuffle the plane is written to output
// channel 2 * (c % (C / 2)) + c / (C / 2) (the channel shuffle with two
// groups), else to channel c, which may be the input itself (in place).
//
// Backward writes per-plane partial parameter gradients into (N, C) tensors
// that the caller sums, so the result does not depend on thread timing.
#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../shuffle_attention.h"

// The per-plane loops are compiled for several x86-64 levels and the best one
// for the running CPU is picked at load time (GCC/Clang function multi-versioning).
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(SA_NO_CLONES)
#define SA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SA_CLONES
#endif
#define SA_INLINE inline __attribute__((always_inline))

namespace sa_mmdet {
namespace {

// exp for float in a form that vectorizes (Cephes expf, about 1 ulp); the
// clamp keeps 2^n normal, which the sigmoid below does not notice.
SA_INLINE float sa_exp(float v) {
  v = v < -87.0f ? -87.0f : v;
  v = v > 88.0f ? 88.0f : v;
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float t = v * 1.44269504088896341f + magic;
  const float n = t - magic;
  float r = v - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

SA_INLINE float sa_sigmoid(float v) { return 1.0f / (1.0f + sa_exp(-v)); }
SA_INLINE double sa_sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// Elements summed in the compute dtype before the sum joins the accumulator
// (double for float input): fast, and within 1e-6 of an exact sum.
constexpr int64_t kBlock = 1024;

template <typename scalar_t>
using op_t = at::opmath_type<scalar_t>;  // float, or double for double
template <typename scalar_t>
using acc_t = at::acc_type<scalar_t, false>;  // double for float and double, else float

template <typename scalar_t>
struct Planes {
  int64_t channels;  // C
  int64_t plane;     // H * W
  int64_t params;    // P
  bool shuffle;

  // Index of the output plane of input plane p = n * C + c.
  SA_INLINE int64_t out_plane(int64_t p) const {
    if (!shuffle) return p;
    const int64_t n = p / channels, c = p % channels, half = channels / 2;
    return n * channels + 2 * (c % half) + c / half;
  }
  SA_INLINE int64_t param(int64_t p) const { return (p % channels) % params; }
  SA_INLINE bool spatial(int64_t p) const { return param(p) >= params / 2; }
};

template <typename scalar_t>
struct ForwardArgs {
  Planes<scalar_t> planes;
  const scalar_t* x;
  scalar_t* out;
  const op_t<scalar_t>* weight;
  const op_t<scalar_t>* bias;
  op_t<scalar_t>* mean;
  op_t<scalar_t>* rstd;
  op_t<scalar_t> eps;
};

template <typename scalar_t>
SA_INLINE void forward_range(const ForwardArgs<scalar_t>& a, int64_t begin, int64_t end) {
  using op = op_t<scalar_t>;
  using acc = acc_t<scalar_t>;
  const int64_t len = a.planes.plane;
  for (int64_t p = begin; p < end; ++p) {
    const scalar_t* x = a.x + p * len;
    scalar_t* y = a.out + a.planes.out_plane(p) * len;
    const int64_t j = a.planes.param(p);
    const op w = a.weight[j], b = a.bias[j];
    // statistics, shifted by the first element so that one pass is exact enough
    const op shift = static_cast<op>(x[0]);
    acc sum = 0, sum_sq = 0;
    for (int64_t start = 0; start < len; start += kBlock) {
      const int64_t stop = std::min(len, start + kBlock);
      op block_sum = 0, block_sum_sq = 0;
#pragma omp simd reduction(+ : block_sum, block_sum_sq)
      for (int64_t i = start; i < stop; ++i) {
        const op d = static_cast<op>(x[i]) - shift;
        block_sum += d;
        block_sum_sq += d * d;
      }
      sum += block_sum;
      sum_sq += block_sum_sq;
    }
    const acc mean_shifted = sum / len;
    const acc var = std::max(sum_sq / len - mean_shifted * mean_shifted, acc(0));
    const op mean = static_cast<op>(shift + mean_shifted);
    const op rstd = static_cast<op>(1 / std::sqrt(var + static_cast<acc>(a.eps)));
    a.mean[p] = mean;
    a.rstd[p] = rstd;
    if (a.planes.spatial(p)) {
      const op slope = w * rstd;
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) {
        const op v = static_cast<op>(x[i]);
        y[i] = static_cast<scalar_t>(v * sa_sigmoid(slope * (v - mean) + b));
      }
    } else {
      const op gate = sa_sigmoid(w * mean + b);
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) {
        y[i] = static_cast<scalar_t>(static_cast<op>(x[i]) * gate);
      }
    }
  }
}

template <typename scalar_t>
struct BackwardArgs {
  Planes<scalar_t> planes;
  const scalar_t* grad_out;
  const scalar_t* x;
  scalar_t* grad_x;
  const op_t<scalar_t>* weight;
  const op_t<scalar_t>* bias;
  const op_t<scalar_t>* mean;
  const op_t<scalar_t>* rstd;
  op_t<scalar_t>* grad_weight;  // per plane
  op_t<scalar_t>* grad_bias;    // per plane
};

template <typename scalar_t>
SA_INLINE void backward_range(const BackwardArgs<scalar_t>& a, int64_t begin, int64_t end) {
  using op = op_t<scalar_t>;
  using acc = acc_t<scalar_t>;
  const int64_t len = a.planes.plane;
  std::vector<op> gates;  // spatial gates of one plane, kept between the two passes
  for (int64_t p = begin; p < end; ++p) {
    const scalar_t* x = a.x + p * len;
    const scalar_t* g = a.grad_out + a.planes.out_plane(p) * len;
    scalar_t* dx = a.grad_x + p * len;
    const int64_t j = a.planes.param(p);
    const op w = a.weight[j], b = a.bias[j], mean = a.mean[p];
    if (a.planes.spatial(p)) {
      gates.resize(len);
      op* s = gates.data();
      const op rstd = a.rstd[p], slope = w * rstd;
      acc sum_u = 0, sum_ud = 0;
      for (int64_t start = 0; start < len; start += kBlock) {
        const int64_t stop = std::min(len, start + kBlock);
        op block_u = 0, block_ud = 0;
#pragma omp simd reduction(+ : block_u, block_ud)
        for (int64_t i = start; i < stop; ++i) {
          const op v = static_cast<op>(x[i]), d = v - mean;
          const op gate = sa_sigmoid(slope * d + b);
          const op u = static_cast<op>(g[i]) * v * gate * (1 - gate);
          s[i] = gate;
          block_u += u;
          block_ud += u * d;
        }
        sum_u += block_u;
        sum_ud += block_ud;
      }
      // dx = g s + a u - a rstd^2 t (x - mean) / HW - a S1 / HW
      const op c_d = static_cast<op>(slope * rstd * rstd * sum_ud / len);
      const op c_0 = static_cast<op>(slope * sum_u / len);
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) {
        const op v = static_cast<op>(x[i]), gi = static_cast<op>(g[i]), gate = s[i];
        const op u = gi * v * gate * (1 - gate);
        dx[i] = static_cast<scalar_t>(gi * gate + slope * u - c_d * (v - mean) - c_0);
      }
      a.grad_weight[p] = static_cast<op>(rstd * sum_ud);
      a.grad_bias[p] = static_cast<op>(sum_u);
    } else {
      acc sum_gx = 0;
      for (int64_t start = 0; start < len; start += kBlock) {
        const int64_t stop = std::min(len, start + kBlock);
        op block_gx = 0;
#pragma omp simd reduction(+ : block_gx)
        for (int64_t i = start; i < stop; ++i) {
          block_gx += static_cast<op>(g[i]) * static_cast<op>(x[i]);
        }
        sum_gx += block_gx;
      }
      const op gate = sa_sigmoid(w * mean + b);
      const op grad_logit = static_cast<op>(gate * (1 - gate) * sum_gx);
      const op c_0 = w * grad_logit / len;
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) {
        dx[i] = static_cast<scalar_t>(static_cast<op>(g[i]) * gate + c_0);
      }
      a.grad_weight[p] = grad_logit * mean;
      a.grad_bias[p] = grad_logit;
    }
  }
}

// One multi-versioned entry point per dtype and direction.
#define SA_DEFINE_RANGES(T)                                                              \
  SA_CLONES void run_forward(const ForwardArgs<T>& a, int64_t begin, int64_t end) {      \
    forward_range<T>(a, begin, end);                                                     \
  }                                                                                      \
  SA_CLONES void run_backward(const BackwardArgs<T>& a, int64_t begin, int64_t end) {    \
    backward_range<T>(a, begin, end);                                                    \
  }
SA_DEFINE_RANGES(float)
SA_DEFINE_RANGES(double)
SA_DEFINE_RANGES(c10::BFloat16)
SA_DEFINE_RANGES(c10::Half)
#undef SA_DEFINE_RANGES

// Planes per parallel task: enough elements to amortise the task overhead.
int64_t grain(int64_t plane) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(plane, 1)); }

void check_inputs(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                  bool shuffle) {
  TORCH_CHECK(x.device().is_cpu() && x.dim() == 4 && x.is_contiguous(),
              "shuffle_attention: x must be a contiguous (N, C, H, W) CPU tensor");
  TORCH_CHECK(x.numel() > 0, "shuffle_attention: x must not be empty");
  const auto op_dtype = at::toOpMathType(x.scalar_type());
  TORCH_CHECK(weight.scalar_type() == op_dtype && bias.scalar_type() == op_dtype &&
                  weight.is_contiguous() && bias.is_contiguous(),
              "shuffle_attention: weight and bias must be contiguous and of dtype ", op_dtype);
  const int64_t channels = x.size(1), params = weight.numel();
  TORCH_CHECK(bias.numel() == params && params > 0 && params % 2 == 0 &&
                  channels % params == 0 && (!shuffle || channels % 2 == 0),
              "shuffle_attention: bad weight/bias size ", params, " for C=", channels);
}

template <typename scalar_t>
Planes<scalar_t> planes_of(const at::Tensor& x, const at::Tensor& weight, bool shuffle) {
  return {x.size(1), x.size(2) * x.size(3), weight.numel(), shuffle};
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> shuffle_attention_forward(
    const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
    double eps, bool shuffle, at::Tensor& out) {
  check_inputs(x, weight, bias, shuffle);
  TORCH_CHECK(out.sizes() == x.sizes() && out.scalar_type() == x.scalar_type() &&
                  out.is_contiguous() && (!shuffle || !out.is_same(x)),
              "shuffle_attention: out must be a contiguous tensor like x (x itself only "
              "without shuffle)");
  const int64_t rows = x.size(0) * x.size(1);
  auto mean = at::empty({x.size(0), x.size(1)}, weight.options());
  auto rstd = at::empty_like(mean);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(),
                                  "shuffle_attention_forward", [&] {
    using op = op_t<scalar_t>;
    const ForwardArgs<scalar_t> args{planes_of<scalar_t>(x, weight, shuffle),
                                     x.const_data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
                                     weight.const_data_ptr<op>(), bias.const_data_ptr<op>(),
                                     mean.data_ptr<op>(), rstd.data_ptr<op>(),
                                     static_cast<op>(eps)};
    at::parallel_for(0, rows, grain(args.planes.plane),
                     [&](int64_t begin, int64_t end) { run_forward(args, begin, end); });
  });
  return {mean, rstd};
}

std::tuple<at::Tensor, at::Tensor> shuffle_attention_backward(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& weight,
    const at::Tensor& bias, const at::Tensor& mean, const at::Tensor& rstd,
    bool shuffle, at::Tensor& grad_x) {
  check_inputs(x, weight, bias, shuffle);
  for (const at::Tensor* t : std::initializer_list<const at::Tensor*>{&grad_out, &grad_x}) {
    TORCH_CHECK(t->sizes() == x.sizes() && t->scalar_type() == x.scalar_type() &&
                    t->is_contiguous(),
                "shuffle_attention: grad_out and grad_x must be contiguous tensors like x");
  }
  for (const at::Tensor* t : {&mean, &rstd}) {
    TORCH_CHECK(t->numel() == x.size(0) * x.size(1) && t->scalar_type() == weight.scalar_type() &&
                    t->is_contiguous(),
                "shuffle_attention: mean and rstd must be the (N, C) tensors of forward");
  }
  const int64_t rows = x.size(0) * x.size(1);
  auto grad_weight = at::empty({x.size(0), x.size(1)}, weight.options());
  auto grad_bias = at::empty_like(grad_weight);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(),
                                  "shuffle_attention_backward", [&] {
    using op = op_t<scalar_t>;
    const BackwardArgs<scalar_t> args{
        planes_of<scalar_t>(x, weight, shuffle), grad_out.const_data_ptr<scalar_t>(),
        x.const_data_ptr<scalar_t>(), grad_x.data_ptr<scalar_t>(),
        weight.const_data_ptr<op>(), bias.const_data_ptr<op>(), mean.const_data_ptr<op>(),
        rstd.const_data_ptr<op>(), grad_weight.data_ptr<op>(), grad_bias.data_ptr<op>()};
    at::parallel_for(0, rows, grain(args.planes.plane),
                     [&](int64_t begin, int64_t end) { run_backward(args, begin, end); });
  });
  return {grad_weight, grad_bias};
}

}  // namespace sa_mmdet
