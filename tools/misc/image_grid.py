"""Paste images side by side into one PNG (e.g. a few painted predictions).

Example:
    python tools/misc/image_grid.py \\
        work_dirs/faster-rcnn_sa-r50-pre_fpn_8e_toy-shapes/*/show/00000[1-4].jpg \\
        --cols 2 --out docs/toy_faster-rcnn_predictions.png
"""

import argparse
import os.path as osp
from typing import List, Optional, Sequence

import cv2
import numpy as np


def image_grid(images: Sequence[np.ndarray], cols: int, pad: int = 4) -> np.ndarray:
    """Lay images out in rows of ``cols``, top-left aligned on a white canvas.

    Args:
        images (Sequence[np.ndarray]): HxWx3 uint8 images.
        cols (int): Images per row.
        pad (int): White pixels between images. Defaults to 4.

    Returns:
        np.ndarray: The grid image.
    """
    if not images or cols < 1:
        raise ValueError(f'need at least one image and cols >= 1, got {len(images)} and {cols}')
    cell_h = max(img.shape[0] for img in images) + pad
    cell_w = max(img.shape[1] for img in images) + pad
    rows = -(-len(images) // cols)
    grid = np.full((rows * cell_h - pad, min(cols, len(images)) * cell_w - pad, 3), 255, np.uint8)
    for i, img in enumerate(images):
        y, x = (i // cols) * cell_h, (i % cols) * cell_w
        grid[y : y + img.shape[0], x : x + img.shape[1]] = img
    return grid


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('images', nargs='+', help='image files, in order')
    parser.add_argument('--cols', type=int, default=2, help='images per row (default: 2)')
    parser.add_argument('--out', required=True, help='output image, e.g. grid.png')
    args = parser.parse_args(argv)
    images = []
    for path in args.images:
        img = cv2.imread(path)
        if img is None:
            raise FileNotFoundError(f'cannot read image {path}')
        images.append(img)
    if not cv2.imwrite(args.out, image_grid(images, args.cols)):
        raise OSError(f'cannot write {args.out}; does {osp.dirname(args.out) or "."} exist?')
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
