"""The analysis tools' library: build models from configs offline, count their complexity.

Imported by the scripts beside it, which run from this folder (`python tools/analysis_tools/X.py`).
"""

from .builder import build_model_from_config, load_config
from .complexity import (
    Complexity,
    ImageNetClassifier,
    classifier_complexity,
    detector_complexity,
    measure_complexity,
)

__all__ = [
    'Complexity',
    'ImageNetClassifier',
    'build_model_from_config',
    'classifier_complexity',
    'detector_complexity',
    'load_config',
    'measure_complexity',
]
