// Shuffle Attention forward and backward on contiguous NCHW CPU tensors; the math is that of
// sa_mmdet/ops/shuffle_attention_torch.py. One thread takes a plane (one (n, c) slice) from start
// to end: statistics in one pass, output in a second that reads the plane from cache, while the
// next plane is prefetched. Parameter gradients are summed per plane, then in plane order.
#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "../shuffle_attention.h"

// The per-plane loops are compiled for several x86-64 levels, picked at load time.
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(SA_NO_CLONES)
#define SA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SA_CLONES
#endif
#define SA_INLINE inline __attribute__((always_inline))

namespace sa_mmdet {
namespace {

// exp(v) for float in a form that vectorizes: v clamped to [-87, 88] (2^n stays normal), then
// exp(v) = 2^n exp(r), n = round(v / ln 2), exp(r) a degree-5 polynomial (relative error 2e-7).
// Adding 1.5 * 2^23 rounds, leaving n in the low mantissa bits of t, shifted into the exponent.
// The clamp bounds are opaque to the compiler: constant ones make GCC blend three results.
struct ExpClamp {
  float lo, hi;

  static SA_INLINE float opaque(float v) {
#if defined(__x86_64__) && defined(__GNUC__)
    asm("" : "+x"(v));
#endif
    return v;
  }
  static SA_INLINE ExpClamp make() { return {opaque(-87.0f), opaque(88.0f)}; }
};

SA_INLINE float sa_exp(float v, ExpClamp clamp) {
  v = std::min(std::max(v, clamp.lo), clamp.hi);
  const float magic = 12582912.0f;  // 1.5 * 2^23
  const float t = v * 1.44269504088896341f + magic;
  const float n = t - magic;
  // one fused multiply-add: the error of ln 2 in float matters only where the sigmoid saturates
  const float r = v - n * 0.693147182f;
  float p = 8.2976548e-3f;
  p = p * r + 4.1915383e-2f;
  p = p * r + 1.6667575e-1f;
  p = p * r + 4.9998894e-1f;
  p = p * r + 9.9999970e-1f;
  p = p * r + 1.0000001f;
  int32_t bits;
  std::memcpy(&bits, &t, sizeof(bits));
  bits = static_cast<int32_t>(static_cast<uint32_t>(bits) << 23) + 0x3f800000;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}
SA_INLINE double sa_exp(double v, ExpClamp) { return std::exp(v); }

// Elements summed in the compute dtype before joining the (double for float) accumulator.
constexpr int64_t kBlock = 1024;
// Partial sums per reduction, so that the light passes are not bound by one add chain's latency.
constexpr int64_t kLanes = 32;
constexpr int64_t kHeavyLanes = 8;

template <typename scalar_t>
using op_t = at::opmath_type<scalar_t>;  // float, or double for double
template <typename scalar_t>
using acc_t = at::acc_type<scalar_t, false>;  // double for float and double, else float

// The heaviest loops run in chunks of kChunk elements, each first prefetching the same elements
// of the next planes, so that memory streams them in while this one is computed.
constexpr int64_t kChunk = 64;

// Up to two planes read after the current one (second may be null).
template <typename T>
struct NextPlanes {
  const T* first;
  const T* second;

  // prefetches elements [start, start + kChunk) of both into L2
  SA_INLINE void operator()(int64_t start) const {
    constexpr int64_t bytes = kChunk * static_cast<int64_t>(sizeof(T));
    for (const T* plane : {first, second}) {
      if (plane == nullptr) continue;
      const char* line = reinterpret_cast<const char*>(plane + start);
      for (int64_t b = 0; b < bytes; b += 64) __builtin_prefetch(line + b, 0, 2);
    }
  }
};

// for (i = 0; i < len; ++i) f(i), vectorised, prefetching the next planes on the way.
template <typename T, typename F>
SA_INLINE void for_each_prefetching(int64_t len, NextPlanes<T> next, F f) {
  for (int64_t start = 0; start < len; start += kChunk) {
    next(start);
    const int64_t stop = std::min(len, start + kChunk);
#pragma omp simd
    for (int64_t i = start; i < stop; ++i) f(i);
  }
}

// Adds sum(a) and sum(b) of f(i, a, b) over i in [0, len) to sum_a and sum_b, with `lanes`
// partial sums per block, which start from the block's first values (GCC would turn zeros into a
// memset of the then spilled lane arrays).
template <int64_t lanes, typename op, typename acc, typename F, typename T = float>
SA_INLINE void block_sums(int64_t len, F f, acc& sum_a, acc& sum_b,
                          NextPlanes<T> next = {nullptr, nullptr}) {
  static_assert(kChunk % lanes == 0, "a chunk is a whole number of lane groups");
  for (int64_t start = 0; start < len; start += kBlock) {
    const int64_t stop = std::min(len, start + kBlock);
    int64_t tail = start;
    op block_a = 0, block_b = 0;
    if (lanes > 1 && stop - start >= lanes) {
      op lane_a[lanes], lane_b[lanes];
      next(start);
#pragma omp simd
      for (int64_t l = 0; l < lanes; ++l) f(start + l, lane_a[l], lane_b[l]);
      tail = start + (stop - start) / lanes * lanes;
      for (int64_t i = start + lanes; i < tail; i += lanes) {
        if (i % kChunk == 0) next(i);
#pragma omp simd
        for (int64_t l = 0; l < lanes; ++l) {
          op a, b;
          f(i + l, a, b);
          lane_a[l] += a;
          lane_b[l] += b;
        }
      }
#pragma omp simd reduction(+ : block_a, block_b)
      for (int64_t l = 0; l < lanes; ++l) {
        block_a += lane_a[l];
        block_b += lane_b[l];
      }
    }
#pragma omp simd reduction(+ : block_a, block_b)
    for (int64_t i = tail; i < stop; ++i) {
      op a, b;
      f(i, a, b);
      block_a += a;
      block_b += b;
    }
    sum_a += block_a;
    sum_b += block_b;
  }
}

struct Planes {
  int64_t channels;  // C
  int64_t plane;     // H * W
  int64_t params;    // P
};

// Walks the planes p = n * C + c: channel c, gate parameter j = c % P (j < P / 2: channel
// attention) and output plane, kept by increments (divisions cost as much as a small plane).
struct PlaneCursor {
  const Planes& planes;
  int64_t n, c, j;

  SA_INLINE PlaneCursor(const Planes& planes, int64_t p)
      : planes(planes), n(p / planes.channels), c(p % planes.channels), j(c % planes.params) {}
  SA_INLINE bool spatial() const { return j >= planes.params / 2; }
  // the channel shuffle sends channel c to 2 * (c % (C / 2)) + c / (C / 2)
  SA_INLINE int64_t out_plane() const {
    const int64_t half = planes.channels / 2;
    const int64_t out = c < half ? 2 * c : 2 * (c - half) + 1;
    return n * planes.channels + out;
  }
  SA_INLINE void next() {
    if (++c == planes.channels) {
      c = 0;
      ++n;
    }
    if (++j == planes.params) j = 0;  // C is a multiple of P: j wraps with c
  }
};

template <typename scalar_t>
struct ForwardArgs {
  Planes planes;
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
  const acc inv_len = acc(1) / len;
  const ExpClamp clamp = ExpClamp::make();
  PlaneCursor plane(a.planes, begin);
  for (int64_t p = begin; p < end; ++p, plane.next()) {
    const scalar_t* x = a.x + p * len;
    const NextPlanes<scalar_t> next{p + 1 < end ? x + len : x, nullptr};
    scalar_t* y = a.out + plane.out_plane() * len;
    const op w = a.weight[plane.j], b = a.bias[plane.j];
    // statistics, shifted by the first element so that one pass is exact enough
    const op shift = static_cast<op>(x[0]);
    acc sum = 0, sum_sq = 0;
    block_sums<kLanes, op>(
        len,
        [&](int64_t i, op& d, op& d2) {
          d = static_cast<op>(x[i]) - shift;
          d2 = d * d;
        },
        sum, sum_sq);
    const acc mean_shifted = sum * inv_len;
    const acc var = std::max(sum_sq * inv_len - mean_shifted * mean_shifted, acc(0));
    const op mean = static_cast<op>(shift + mean_shifted);
    const op rstd = 1 / std::sqrt(static_cast<op>(var) + a.eps);
    a.mean[p] = mean;
    a.rstd[p] = rstd;
    if (plane.spatial()) {
      // y = x * sigmoid(z) = x / (1 + exp(-z)), z = w * rstd * (x - mean) + b
      const op neg_slope = -w * rstd, neg_b = -b;
      for_each_prefetching(len, next, [&](int64_t i) {
        const op v = static_cast<op>(x[i]);
        y[i] = static_cast<scalar_t>(v / (1 + sa_exp(neg_slope * (v - mean) + neg_b, clamp)));
      });
    } else {
      const op gate = 1 / (1 + sa_exp(-(w * mean + b), clamp));
      for_each_prefetching(len, next,
                           [&](int64_t i) { y[i] = static_cast<scalar_t>(static_cast<op>(x[i]) * gate); });
    }
  }
}

template <typename scalar_t>
struct BackwardArgs {
  Planes planes;
  const scalar_t* grad_out;
  int64_t grad_out_plane_stride;  // H * W, or 0 for one plane expanded over N and C
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
  constexpr bool in_grad_x = std::is_same_v<scalar_t, op>;
  const int64_t len = a.planes.plane;
  const acc inv_len = acc(1) / len;
  const ExpClamp clamp = ExpClamp::make();
  // the spatial planes' first pass leaves g s + a u in grad_x, or in this buffer for 16-bit x
  std::vector<op> buffer(in_grad_x ? 0 : len);
  PlaneCursor plane(a.planes, begin);
  for (int64_t p = begin; p < end; ++p, plane.next()) {
    const scalar_t* x = a.x + p * len;
    const scalar_t* g = a.grad_out + plane.out_plane() * a.grad_out_plane_stride;
    scalar_t* dx = a.grad_x + p * len;
    NextPlanes<scalar_t> next{x, g};
    if (p + 1 < end) {
      PlaneCursor after = plane;
      after.next();
      next = {x + len, a.grad_out + after.out_plane() * a.grad_out_plane_stride};
    }
    const op w = a.weight[plane.j], b = a.bias[plane.j], mean = a.mean[p];
    if (plane.spatial()) {
      op* partial = in_grad_x ? reinterpret_cast<op*>(dx) : buffer.data();
      const op rstd = a.rstd[p], slope = w * rstd, neg_slope = -slope, neg_b = -b;
      acc sum_u = 0, sum_ud = 0;
      block_sums<kHeavyLanes, op>(
          len,
          [&](int64_t i, op& u, op& ud) {
            const op v = static_cast<op>(x[i]), gi = static_cast<op>(g[i]), d = v - mean;
            const op gate = 1 / (1 + sa_exp(neg_slope * d + neg_b, clamp));
            u = gi * v * (gate - gate * gate);
            ud = u * d;
            partial[i] = gi * gate + slope * u;
          },
          sum_u, sum_ud, next);
      // dx = g s + a u - a rstd^2 t (x - mean) / HW - a S1 / HW
      const op c_d = static_cast<op>(slope * rstd * rstd * sum_ud * inv_len);
      const op c_0 = static_cast<op>(slope * sum_u * inv_len);
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) {
        dx[i] = static_cast<scalar_t>(partial[i] - c_d * (static_cast<op>(x[i]) - mean) - c_0);
      }
      a.grad_weight[p] = static_cast<op>(rstd * sum_ud);
      a.grad_bias[p] = static_cast<op>(sum_u);
    } else {
      acc sum_gx = 0, unused = 0;
      block_sums<kLanes, op>(
          len,
          [&](int64_t i, op& gx, op& zero) {
            gx = static_cast<op>(g[i]) * static_cast<op>(x[i]);
            zero = 0;
          },
          sum_gx, unused);
      const op gate = 1 / (1 + sa_exp(-(w * mean + b), clamp));
      const op grad_logit = static_cast<op>(gate * (1 - gate) * sum_gx);
      const op c_0 = static_cast<op>(w * grad_logit * inv_len);
      for_each_prefetching(len, next, [&](int64_t i) {
        dx[i] = static_cast<scalar_t>(static_cast<op>(g[i]) * gate + c_0);
      });
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

void check_inputs(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  TORCH_CHECK(x.device().is_cpu() && x.dim() == 4 && x.is_contiguous(),
              "shuffle_attention: x must be a contiguous (N, C, H, W) CPU tensor");
  TORCH_CHECK(x.numel() > 0, "shuffle_attention: x must not be empty");
  const auto op_dtype = at::toOpMathType(x.scalar_type());
  TORCH_CHECK(weight.scalar_type() == op_dtype && bias.scalar_type() == op_dtype &&
                  weight.is_contiguous() && bias.is_contiguous(),
              "shuffle_attention: weight and bias must be contiguous and of dtype ", op_dtype);
  const int64_t channels = x.size(1), params = weight.numel();
  TORCH_CHECK(bias.numel() == params && params > 0 && params % 2 == 0 &&
                  channels % params == 0,
              "shuffle_attention: bad weight/bias size ", params, " for C=", channels);
}

Planes planes_of(const at::Tensor& x, const at::Tensor& weight) {
  return {x.size(1), x.size(2) * x.size(3), weight.numel()};
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor> shuffle_attention_forward(
    const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps) {
  check_inputs(x, weight, bias);
  auto out = at::empty_like(x);
  const int64_t rows = x.size(0) * x.size(1);
  auto mean = at::empty({x.size(0), x.size(1)}, weight.options());
  auto rstd = at::empty_like(mean);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(),
                                  "shuffle_attention_forward", [&] {
    using op = op_t<scalar_t>;
    const ForwardArgs<scalar_t> args{planes_of(x, weight),
                                     x.const_data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
                                     weight.const_data_ptr<op>(), bias.const_data_ptr<op>(),
                                     mean.data_ptr<op>(), rstd.data_ptr<op>(),
                                     static_cast<op>(eps)};
    at::parallel_for(0, rows, grain(args.planes.plane),
                     [&](int64_t begin, int64_t end) { run_forward(args, begin, end); });
  });
  return {out, mean, rstd};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> shuffle_attention_backward(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& weight,
    const at::Tensor& bias, const at::Tensor& mean, const at::Tensor& rstd) {
  check_inputs(x, weight, bias);
  // one plane expanded over N and C (y.sum().backward()) is read as that plane, not copied
  const bool expanded = grad_out.dim() == 4 && grad_out.stride(0) == 0 && grad_out.stride(1) == 0;
  TORCH_CHECK(grad_out.sizes() == x.sizes() && grad_out.scalar_type() == x.scalar_type() &&
                  (expanded || grad_out.is_contiguous()),
              "shuffle_attention: grad_out must be a contiguous tensor like x, or one plane "
              "expanded over N and C");
  const at::Tensor grad_planes = expanded ? grad_out[0][0].contiguous() : grad_out;
  for (const at::Tensor* t : {&mean, &rstd}) {
    TORCH_CHECK(t->numel() == x.size(0) * x.size(1) && t->scalar_type() == weight.scalar_type() &&
                    t->is_contiguous(),
                "shuffle_attention: mean and rstd must be the (N, C) tensors of forward");
  }
  const int64_t rows = x.size(0) * x.size(1), params = weight.numel();
  auto grad_x = at::empty_like(x);  // contiguous, as x is
  auto grad_weight = at::empty({params}, weight.options());
  auto grad_bias = at::empty_like(grad_weight);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(),
                                  "shuffle_attention_backward", [&] {
    using op = op_t<scalar_t>;
    std::vector<op> partial(2 * rows);  // per plane: weight, then bias gradients
    const BackwardArgs<scalar_t> args{
        planes_of(x, weight), grad_planes.const_data_ptr<scalar_t>(),
        expanded ? 0 : x.size(2) * x.size(3), x.const_data_ptr<scalar_t>(),
        grad_x.data_ptr<scalar_t>(),
        weight.const_data_ptr<op>(), bias.const_data_ptr<op>(), mean.const_data_ptr<op>(),
        rstd.const_data_ptr<op>(), partial.data(), partial.data() + rows};
    at::parallel_for(0, rows, grain(args.planes.plane),
                     [&](int64_t begin, int64_t end) { run_backward(args, begin, end); });
    // in plane order: bit-identical runs
    std::vector<acc_t<op>> sums(2 * params, 0);
    PlaneCursor plane(args.planes, 0);
    for (int64_t p = 0; p < rows; ++p, plane.next()) {
      sums[plane.j] += args.grad_weight[p];
      sums[params + plane.j] += args.grad_bias[p];
    }
    op* gw = grad_weight.data_ptr<op>();
    op* gb = grad_bias.data_ptr<op>();
    for (int64_t j = 0; j < params; ++j) {
      gw[j] = static_cast<op>(sums[j]);
      gb[j] = static_cast<op>(sums[params + j]);
    }
  });
  return {grad_x, grad_weight, grad_bias};
}

}  // namespace sa_mmdet
