from .fold_shuffle_attention import fold_shuffle_attention
from .onnx_export import (
    EXPORTERS,
    IMAGE_AXES,
    ROI_AXES,
    ONNXRuntimeRunner,
    export_onnx,
    onnx_dims,
    onnx_op_histogram,
    relative_difference,
)
from .roi_align_export import ExportableRoIExtractor
from .tensor_mode import TensorModeDetector, rois_from_rpn

__all__ = [
    'EXPORTERS',
    'IMAGE_AXES',
    'ROI_AXES',
    'ExportableRoIExtractor',
    'ONNXRuntimeRunner',
    'TensorModeDetector',
    'export_onnx',
    'fold_shuffle_attention',
    'onnx_dims',
    'onnx_op_histogram',
    'relative_difference',
    'rois_from_rpn',
]
