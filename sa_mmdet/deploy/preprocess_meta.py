"""The preprocessing an end2end ONNX graph expects, from the detector's config, as JSON.

A runtime without mmdet (``tools/deployment/onnx_demo.py``) resizes, normalizes
and pads an image as the test pipeline and data preprocessor do.
"""

import json
from pathlib import Path
from typing import Optional, Sequence, Union

from mmdet.utils import get_test_pipeline_cfg
from mmengine.config import Config

from ..utils.atomic_file import write_atomically


def preprocess_meta(
    cfg: Config, output_names: Sequence[str], classes: Optional[Sequence[str]] = None
) -> dict:
    """What the graph's input and outputs are, for a runtime without mmdet.

    Args:
        cfg (Config): The detector's config (data preprocessor, test pipeline's ``Resize``).
        output_names (Sequence[str]): The graph's outputs.
        classes (Sequence[str], optional): Class names, index = label.

    Returns:
        dict: ``mean``, ``std`` (per channel, after ``to_rgb``), ``to_rgb`` (BGR,
        as cv2 reads, to RGB first), ``resize`` (``scale`` (w, h) and ``keep_ratio``,
        or None), ``pad_size_divisor``, ``pad_value`` (padding after normalization,
        bottom and right), ``input``, ``outputs`` and ``classes``.

    Raises:
        ValueError: If the test pipeline resizes in a way not described here.
    """
    preprocessor = cfg.model.data_preprocessor
    resizes = [t for t in get_test_pipeline_cfg(cfg) if 'Resize' in t['type']]
    if any(t['type'] != 'Resize' or 'scale' not in t for t in resizes) or len(resizes) > 1:
        raise ValueError(f'preprocess_meta describes one Resize with a scale, but got {resizes}.')
    resize = None
    if resizes:
        resize = dict(scale=list(resizes[0]['scale']), keep_ratio=bool(resizes[0]['keep_ratio']))
    return dict(
        mean=[float(m) for m in preprocessor.get('mean', (0, 0, 0))],
        std=[float(s) for s in preprocessor.get('std', (1, 1, 1))],
        to_rgb=bool(preprocessor.get('bgr_to_rgb', False) or preprocessor.get('rgb_to_bgr', False)),
        resize=resize,
        pad_size_divisor=int(preprocessor.get('pad_size_divisor', 1)),
        pad_value=float(preprocessor.get('pad_value', 0)),
        input='input',
        outputs=list(output_names),
        classes=list(classes) if classes is not None else None,
    )


def write_preprocess_meta(path: Union[str, Path], meta: dict) -> Path:
    """Write ``meta`` as indented JSON to ``path``, atomically; returns ``path``."""
    text = (json.dumps(meta, indent=2) + '\n').encode()
    write_atomically(str(path), lambda f: f.write(text))
    return Path(path)
