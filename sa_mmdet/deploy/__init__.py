from .detection_diff import DetectionDiff, compare_detections
from .end2end import End2EndDetector, batched_nms_topk
from .nms_export import nms
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
from .preprocess_meta import preprocess_meta, write_preprocess_meta
from .roi_align_export import ExportableRoIExtractor
from .tensor_mode import TensorModeDetector, rois_from_rpn

__all__ = [
    'DetectionDiff',
    'compare_detections',
    'preprocess_meta',
    'write_preprocess_meta',
    'EXPORTERS',
    'IMAGE_AXES',
    'End2EndDetector',
    'ROI_AXES',
    'ExportableRoIExtractor',
    'ONNXRuntimeRunner',
    'TensorModeDetector',
    'batched_nms_topk',
    'export_onnx',
    'nms',
    'onnx_dims',
    'onnx_op_histogram',
    'relative_difference',
    'rois_from_rpn',
]
