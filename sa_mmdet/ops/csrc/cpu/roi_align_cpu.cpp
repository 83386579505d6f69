// RoIAlign with average pooling on contiguous NCHW CPU tensors, multi-threaded, bit for bit
// mmcv's single-threaded CPU kernel (the same arithmetic and order of every sum). Each RoI's
// sampling points are computed once for all channels. Forward runs (RoI, channel) pairs in
// parallel; backward runs channels in parallel, each adding the RoIs in RoI order (no atomics).
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "../roi_align.h"

namespace sa_mmdet {
namespace {

template <typename T>
struct Sample {
  int pos[4];   // plane offsets of the four neighbours (0 outside the map)
  T w[4];       // their bilinear weights (0 outside the map)
  bool inside;  // false for a point outside the feature map: no gradient
};

// One RoI's sampling grid: grid_h x grid_w points per output bin.
template <typename T>
struct RoiGrid {
  int64_t batch;
  int grid_h, grid_w;
  T start_h, start_w, bin_h, bin_w;
  int64_t first;  // index of its first point in the table of all RoIs' points
};

struct Geometry {
  int64_t batches, channels, height, width, pooled_h, pooled_w;
  double spatial_scale;
  int64_t sampling_ratio;
  bool aligned;
};

template <typename T>
RoiGrid<T> roi_grid(const T* roi, const Geometry& g, int64_t index) {
  // as mmcv's launcher, which takes the scale as float
  const T scale = static_cast<T>(static_cast<float>(g.spatial_scale));
  const int64_t batch = static_cast<int>(roi[0]);
  TORCH_CHECK(batch >= 0 && batch < g.batches, "roi_align: RoI ", index, " has batch index ",
              roi[0], " but the input has ", g.batches, " images");
  // Do not use rounding; this implementation detail is critical
  const T offset = g.aligned ? (T)0.5 : (T)0.0;
  const T start_w = roi[1] * scale - offset;
  const T start_h = roi[2] * scale - offset;
  const T end_w = roi[3] * scale - offset;
  const T end_h = roi[4] * scale - offset;
  T roi_w = end_w - start_w;
  T roi_h = end_h - start_h;
  if (g.aligned) {
    TORCH_CHECK(roi_w >= 0 && roi_h >= 0, "roi_align: RoI ", index,
                " has x2 < x1 or y2 < y1; aligned RoIAlign needs boxes of non-negative size");
  } else {  // mmcv's legacy mode
    roi_w = std::max(roi_w, (T)1.);
    roi_h = std::max(roi_h, (T)1.);
  }
  const int pooled_h = static_cast<int>(g.pooled_h), pooled_w = static_cast<int>(g.pooled_w);
  const int ratio = static_cast<int>(g.sampling_ratio);
  RoiGrid<T> grid;
  grid.batch = batch;
  grid.grid_h = ratio > 0 ? ratio : static_cast<int>(ceilf(roi_h / pooled_h));
  grid.grid_w = ratio > 0 ? ratio : static_cast<int>(ceilf(roi_w / pooled_w));
  grid.start_h = start_h;
  grid.start_w = start_w;
  grid.bin_h = static_cast<T>(roi_h) / static_cast<T>(pooled_h);
  grid.bin_w = static_cast<T>(roi_w) / static_cast<T>(pooled_w);
  grid.first = 0;
  return grid;
}

// The bilinear neighbours and weights of point (y, x), as mmcv's
// pre_calc_for_bilinear_interpolate and bilinear_interpolate_gradient.
template <typename T>
Sample<T> sample_at(T y, T x, int64_t height, int64_t width) {
  Sample<T> s{};
  if (y < -1.0 || y > height || x < -1.0 || x > width) {
    s.inside = false;
    return s;
  }
  if (y <= 0) y = 0;
  if (x <= 0) x = 0;
  int y_low = static_cast<int>(y), x_low = static_cast<int>(x), y_high, x_high;
  if (y_low >= height - 1) {
    y_high = y_low = static_cast<int>(height - 1);
    y = (T)y_low;
  } else {
    y_high = y_low + 1;
  }
  if (x_low >= width - 1) {
    x_high = x_low = static_cast<int>(width - 1);
    x = (T)x_low;
  } else {
    x_high = x_low + 1;
  }
  const T ly = y - y_low, lx = x - x_low;
  const T hy = 1. - ly, hx = 1. - lx;
  const int w = static_cast<int>(width);
  s.pos[0] = y_low * w + x_low;
  s.pos[1] = y_low * w + x_high;
  s.pos[2] = y_high * w + x_low;
  s.pos[3] = y_high * w + x_high;
  s.w[0] = hy * hx;
  s.w[1] = hy * lx;
  s.w[2] = ly * hx;
  s.w[3] = ly * lx;
  s.inside = true;
  return s;
}

// Every RoI's grid, and the table of all their sampling points (per RoI in
// the order bin row, bin column, point row, point column).
template <typename T>
struct SamplingTable {
  std::vector<RoiGrid<T>> rois;
  std::vector<Sample<T>> points;

  SamplingTable(const T* roi_data, int64_t num_rois, const Geometry& g) : rois(num_rois) {
    int64_t total = 0;
    for (int64_t n = 0; n < num_rois; ++n) {
      rois[n] = roi_grid(roi_data + n * 5, g, n);
      rois[n].first = total;
      total += g.pooled_h * g.pooled_w * rois[n].grid_h * rois[n].grid_w;
    }
    points.resize(total);
    at::parallel_for(0, num_rois, 16, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n) fill(rois[n], g);
    });
  }

  void fill(const RoiGrid<T>& r, const Geometry& g) {
    Sample<T>* out = points.data() + r.first;
    for (int ph = 0; ph < g.pooled_h; ph++) {
      for (int pw = 0; pw < g.pooled_w; pw++) {
        for (int iy = 0; iy < r.grid_h; iy++) {
          const T y = r.start_h + ph * r.bin_h +
                      static_cast<T>(iy + .5f) * r.bin_h / static_cast<T>(r.grid_h);
          for (int ix = 0; ix < r.grid_w; ix++) {
            const T x = r.start_w + pw * r.bin_w +
                        static_cast<T>(ix + .5f) * r.bin_w / static_cast<T>(r.grid_w);
            *out++ = sample_at(y, x, g.height, g.width);
          }
        }
      }
    }
  }
};

template <typename T>
void forward_kernel(const T* input, const SamplingTable<T>& table, const Geometry& g, T* output) {
  const int64_t bins = g.pooled_h * g.pooled_w, plane = g.height * g.width;
  const int64_t pairs = static_cast<int64_t>(table.rois.size()) * g.channels;
  at::parallel_for(0, pairs, 16, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const RoiGrid<T>& r = table.rois[p / g.channels];
      const int64_t c = p % g.channels;
      const T* in = input + (r.batch * g.channels + c) * plane;
      const Sample<T>* s = table.points.data() + r.first;
      const int points = r.grid_h * r.grid_w;
      // When the grid is empty, output zeros == 0/1, instead of NaN.
      const T count = std::max(points, 1);
      T* out = output + p * bins;
      for (int64_t bin = 0; bin < bins; ++bin) {
        T sum = 0.;
        for (int k = 0; k < points; ++k, ++s) {
          // outside the map the weights are 0 and the positions 0, as in mmcv
          sum += s->w[0] * in[s->pos[0]] + s->w[1] * in[s->pos[1]] + s->w[2] * in[s->pos[2]] +
                 s->w[3] * in[s->pos[3]];
        }
        out[bin] = sum / count;
      }
    }
  });
}

template <typename T>
void backward_kernel(const T* grad_out, const SamplingTable<T>& table, const Geometry& g,
                     T* grad_in) {
  const int64_t bins = g.pooled_h * g.pooled_w, plane = g.height * g.width;
  at::parallel_for(0, g.channels, 1, [&](int64_t begin, int64_t end) {
    for (size_t n = 0; n < table.rois.size(); ++n) {
      const RoiGrid<T>& r = table.rois[n];
      const int points = r.grid_h * r.grid_w;
      const T count = points;
      for (int64_t c = begin; c < end; ++c) {
        T* in = grad_in + (r.batch * g.channels + c) * plane;
        const T* out = grad_out + (static_cast<int64_t>(n) * g.channels + c) * bins;
        const Sample<T>* s = table.points.data() + r.first;
        for (int64_t bin = 0; bin < bins; ++bin) {
          const T grad = out[bin];
          for (int k = 0; k < points; ++k, ++s) {
            if (!s->inside) continue;
            for (int corner = 0; corner < 4; ++corner) {
              in[s->pos[corner]] += grad * s->w[corner] / count;
            }
          }
        }
      }
    }
  });
}

void check_rois(const at::Tensor& rois, const at::Tensor& features, const char* name) {
  TORCH_CHECK(features.device().is_cpu() && features.dim() == 4 && features.is_contiguous(),
              "roi_align: ", name, " must be a contiguous (N, C, H, W) CPU tensor");
  TORCH_CHECK(rois.device().is_cpu() && rois.dim() == 2 && rois.size(1) == 5 &&
                  rois.is_contiguous() && rois.scalar_type() == features.scalar_type(),
              "roi_align: rois must be a contiguous (R, 5) CPU tensor of the dtype of ", name);
}

Geometry geometry(at::IntArrayRef sizes, int64_t pooled_h, int64_t pooled_w,
                  double spatial_scale, int64_t sampling_ratio, bool aligned) {
  TORCH_CHECK(sizes.size() == 4 && pooled_h > 0 && pooled_w > 0 && sampling_ratio >= 0,
              "roi_align: bad output size or sampling ratio");
  return {sizes[0], sizes[1], sizes[2], sizes[3], pooled_h, pooled_w,
          spatial_scale, sampling_ratio, aligned};
}

}  // namespace

at::Tensor roi_align_forward(const at::Tensor& input, const at::Tensor& rois,
                             int64_t pooled_h, int64_t pooled_w, double spatial_scale,
                             int64_t sampling_ratio, bool aligned) {
  check_rois(rois, input, "input");
  const Geometry g =
      geometry(input.sizes(), pooled_h, pooled_w, spatial_scale, sampling_ratio, aligned);
  auto output = at::empty({rois.size(0), g.channels, pooled_h, pooled_w}, input.options());
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "roi_align_forward", [&] {
    const SamplingTable<scalar_t> table(rois.const_data_ptr<scalar_t>(), rois.size(0), g);
    forward_kernel(input.const_data_ptr<scalar_t>(), table, g, output.data_ptr<scalar_t>());
  });
  return output;
}

at::Tensor roi_align_backward(const at::Tensor& grad_out, const at::Tensor& rois,
                              at::IntArrayRef input_sizes, double spatial_scale,
                              int64_t sampling_ratio, bool aligned) {
  check_rois(rois, grad_out, "grad_out");
  const Geometry g = geometry(input_sizes, grad_out.size(2), grad_out.size(3), spatial_scale,
                              sampling_ratio, aligned);
  TORCH_CHECK(grad_out.size(0) == rois.size(0) && grad_out.size(1) == g.channels,
              "roi_align: grad_out must be (R, C, pooled_h, pooled_w)");
  auto grad_in = at::zeros(input_sizes, grad_out.options());
  AT_DISPATCH_FLOATING_TYPES(grad_out.scalar_type(), "roi_align_backward", [&] {
    const SamplingTable<scalar_t> table(rois.const_data_ptr<scalar_t>(), rois.size(0), g);
    backward_kernel(grad_out.const_data_ptr<scalar_t>(), table, g, grad_in.data_ptr<scalar_t>());
  });
  return grad_in;
}

}  // namespace sa_mmdet
