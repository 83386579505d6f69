"""Detect objects in an image with an end2end ONNX detector: onnxruntime, numpy and cv2 only.

Reads the preprocessing that ``pytorch2onnx.py --end2end`` wrote next to the
graph (OUT.json: resize, mean/std, BGR to RGB, padding), runs the graph, maps
the boxes back to the image, and paints the detections above ``--score-thr``
(boxes, class names and scores, and Mask R-CNN's masks) into OUT_IMAGE. No
torch or mmdet import: what a deployment needs.

Example:
    python tools/deployment/onnx_demo.py mask-rcnn.onnx demo.jpg demo_out.jpg --score-thr 0.3
"""

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import onnxruntime

#: Colours of the classes, cycled (BGR).
PALETTE = [(60, 20, 220), (255, 130, 0), (80, 180, 0), (30, 170, 250), (200, 0, 200)]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('onnx', help='end2end ONNX file (pytorch2onnx.py --end2end)')
    parser.add_argument('image', help='image file (JPEG, PNG, BMP, ... anything cv2 reads)')
    parser.add_argument('out', help='image file to write with the detections painted')
    parser.add_argument('--meta', help='its preprocessing JSON (default: ONNX file with .json)')
    parser.add_argument('--score-thr', type=float, default=0.3)
    return parser.parse_args(argv)


def read_image(path: str) -> np.ndarray:
    """The image as cv2 reads it (H, W, 3) BGR uint8; ValueError for what is not an image."""
    if not Path(path).is_file():
        raise FileNotFoundError(f'no image file {path}')
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(
            f'cannot read {path} as an image (cv2.imread failed): give a file cv2 decodes, '
            f'e.g. JPEG, PNG, BMP or TIFF.'
        )
    return image


def rescale_size(width: int, height: int, resize: dict) -> Tuple[int, int]:
    """mmcv's Resize: to ``scale`` (w, h), or as large as fits in it with ``keep_ratio``."""
    scale_w, scale_h = resize['scale']
    if not resize['keep_ratio']:
        return int(scale_w), int(scale_h)
    factor = min(
        max(scale_w, scale_h) / max(width, height), min(scale_w, scale_h) / min(width, height)
    )
    return int(width * factor + 0.5), int(height * factor + 0.5)


def preprocess(image: np.ndarray, meta: dict) -> Tuple[np.ndarray, np.ndarray]:
    """The graph's input (1, 3, H, W) float32 for a BGR image, and its (x, y) scale factor."""
    height, width = image.shape[:2]
    if meta['resize'] is not None:
        size = rescale_size(width, height, meta['resize'])
        image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    scale = np.array([image.shape[1] / width, image.shape[0] / height], dtype=np.float32)
    if meta['to_rgb']:
        image = image[..., ::-1]
    mean, std = np.array(meta['mean'], np.float32), np.array(meta['std'], np.float32)
    x = ((image.astype(np.float32) - mean) / std).transpose(2, 0, 1)
    divisor = meta['pad_size_divisor']
    pad_h, pad_w = (-x.shape[1]) % divisor, (-x.shape[2]) % divisor
    x = np.pad(x, ((0, 0), (0, pad_h), (0, pad_w)), constant_values=meta['pad_value'])
    return x[None], scale


def detect(
    session: onnxruntime.InferenceSession, image: np.ndarray, meta: dict, score_thr: float
) -> List[np.ndarray]:
    """Boxes (K, 4) in image pixels, scores (K,), labels (K,) and masks (K, h, w) if any."""
    x, scale = preprocess(image, meta)
    dims = session.get_inputs()[0].shape
    if any(isinstance(d, int) and d != s for d, s in zip(dims, x.shape)):
        raise ValueError(
            f'the graph takes inputs {dims}, but the image preprocesses to {x.shape}: export it '
            f'with pytorch2onnx.py --end2end --dynamic.'
        )
    outputs = session.run(None, {meta['input']: x})
    dets, labels = outputs[0][0], outputs[1][0]
    keep = (labels >= 0) & (dets[:, 4] > score_thr)
    boxes = dets[keep, :4] / np.tile(scale, 2)
    found = [boxes, dets[keep, 4], labels[keep]]
    if len(outputs) > 2:
        found.append(outputs[2][0][keep])
    return found


def paint(image: np.ndarray, found: Sequence[np.ndarray], classes: Optional[Sequence[str]]):
    """Draw the detections (and masks inside their boxes, at 0.5) into a copy of the image."""
    out = image.copy()
    height, width = image.shape[:2]
    for i, (box, score, label) in enumerate(zip(*found[:3])):
        color = PALETTE[int(label) % len(PALETTE)]
        x1, y1, x2, y2 = np.clip(box, 0, [width, height, width, height]).round().astype(int)
        if len(found) > 3 and x2 > x1 and y2 > y1:
            mask = cv2.resize(found[3][i], (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)
            region = out[y1:y2, x1:x2]
            region[mask >= 0.5] = 0.5 * region[mask >= 0.5] + 0.5 * np.array(color)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, 1)
        name = classes[label] if classes else str(label)
        cv2.putText(out, f'{name} {score:.2f}', (x1, max(y1 - 2, 8)), 0, 0.3, color, 1)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    meta_path = Path(args.meta or Path(args.onnx).with_suffix('.json'))
    if not meta_path.is_file():
        raise FileNotFoundError(
            f'no preprocessing file {meta_path}: pytorch2onnx.py --end2end writes it next to '
            f'the ONNX file; give it with --meta.'
        )
    meta = json.loads(meta_path.read_text())
    image = read_image(args.image)
    session = onnxruntime.InferenceSession(args.onnx, providers=['CPUExecutionProvider'])
    found = detect(session, image, meta, args.score_thr)
    for box, score, label in zip(*found[:3]):
        name = meta['classes'][label] if meta.get('classes') else label
        print(f'{name} {score:.3f} at {", ".join(f"{v:.1f}" for v in box)}')
    if not cv2.imwrite(args.out, paint(image, found, meta.get('classes'))):
        raise ValueError(f'cannot write {args.out}: give a file name cv2 encodes (.jpg, .png).')
    print(f'{len(found[0])} detections above {args.score_thr:g} painted into {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
