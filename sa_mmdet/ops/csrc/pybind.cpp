// Python bindings of the CPU kernels (module sa_mmdet._ext): Shuffle Attention and RoIAlign.
#include <torch/extension.h>

#include <vector>

#include "roi_align.h"
#include "shuffle_attention.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("shuffle_attention_forward", &sa_mmdet::shuffle_attention_forward,
        "Shuffle Attention forward (CPU)", py::arg("x"), py::arg("weight"),
        py::arg("bias"), py::arg("eps"));
  m.def("shuffle_attention_backward", &sa_mmdet::shuffle_attention_backward,
        "Shuffle Attention backward (CPU)", py::arg("grad_out"), py::arg("x"),
        py::arg("weight"), py::arg("bias"), py::arg("mean"), py::arg("rstd"));
  m.def("roi_align_forward", &sa_mmdet::roi_align_forward, "RoIAlign forward, avg (CPU)",
        py::arg("input"), py::arg("rois"), py::arg("pooled_h"), py::arg("pooled_w"),
        py::arg("spatial_scale"), py::arg("sampling_ratio"), py::arg("aligned"));
  m.def(
      "roi_align_backward",
      [](const at::Tensor& grad_out, const at::Tensor& rois, const std::vector<int64_t>& sizes,
         double spatial_scale, int64_t sampling_ratio, bool aligned) {
        return sa_mmdet::roi_align_backward(grad_out, rois, sizes, spatial_scale,
                                            sampling_ratio, aligned);
      },
      "RoIAlign backward, avg (CPU)", py::arg("grad_out"), py::arg("rois"),
      py::arg("input_sizes"), py::arg("spatial_scale"), py::arg("sampling_ratio"),
      py::arg("aligned"));
}
