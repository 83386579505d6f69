// Python bindings of the Shuffle Attention CPU kernels (module sa_mmdet._ext).
#include <torch/extension.h>

#include "shuffle_attention.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("shuffle_attention_forward", &sa_mmdet::shuffle_attention_forward,
        "Shuffle Attention forward (CPU)", py::arg("x"), py::arg("weight"),
        py::arg("bias"), py::arg("eps"), py::arg("shuffle"), py::arg("out"));
  m.def("shuffle_attention_backward", &sa_mmdet::shuffle_attention_backward,
        "Shuffle Attention backward (CPU)", py::arg("grad_out"), py::arg("x"),
        py::arg("weight"), py::arg("bias"), py::arg("mean"), py::arg("rstd"),
        py::arg("shuffle"), py::arg("grad_x"));
}
