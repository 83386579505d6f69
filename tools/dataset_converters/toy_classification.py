"""A small, seeded, ImageNet-format classification set cut from toy shapes images.

Square crops of :func:`toy_coco.draw_toy_image` images, one per visible
object, labelled with its shape, and of background, as many per class; written as mmpretrain's
``CustomDataset`` reads them: ``OUT_DIR/{train,val}/<class>/000001.jpg`` and
``OUT_DIR/meta/{train,val}.txt`` with lines ``<class>/<file> <label>``.
"""

import os
import os.path as osp
import time
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from toy_coco import CLASSES as SHAPE_CLASSES
from toy_coco import check_counts, draw_toy_image

CLASSES = SHAPE_CLASSES + ('background',)
SPLITS = ('train', 'val')
# generate_toy_coco seeds split i with (seed, i, index): an offset keeps its images out of this set.
SEED_OFFSET = 100
# An object crop: a square of side max(w, h) times a factor in CONTEXT_RANGE, at least
# MIN_CROP_SIDE, its centre moved by up to CENTRE_JITTER of the side.
CONTEXT_RANGE = (1.15, 1.5)
CENTRE_JITTER = 0.1
MIN_CROP_SIDE = 24
# A background crop: a square that overlaps every box by at most BACKGROUND_OVERLAP of its area.
BACKGROUND_SIDES = (24, 80)
BACKGROUND_OVERLAP = 0.05
BACKGROUND_TRIES = 30
BACKGROUNDS_PER_IMAGE = 2
MIN_OBJECT_SIDE = 8  # smaller visible boxes are not cut
MIN_SOURCE_SIZE = 160
MAX_IMAGES_PER_CROP = 4  # source images drawn per crop before giving up (about 3 crops each)


def _object_window(
    rng: np.random.Generator, bbox: List[float], image_size: int
) -> Tuple[int, int, int]:
    """A square ``(x0, y0, side)`` around a COCO ``bbox``, inside the image."""
    x, y, w, h = bbox
    side = max(w, h) * rng.uniform(*CONTEXT_RANGE)
    side = int(round(min(max(side, MIN_CROP_SIDE), image_size)))
    cx, cy = np.array([x + w / 2, y + h / 2]) + rng.uniform(-CENTRE_JITTER, CENTRE_JITTER, 2) * side
    x0 = int(round(np.clip(cx - side / 2, 0, image_size - side)))
    y0 = int(round(np.clip(cy - side / 2, 0, image_size - side)))
    return x0, y0, side


def _overlap(window: Tuple[int, int, int], bbox: List[float]) -> float:
    """Area of ``bbox`` inside the square ``window``, in source px."""
    x0, y0, side = window
    x, y, w, h = bbox
    dx = min(x0 + side, x + w) - max(x0, x)
    dy = min(y0 + side, y + h) - max(y0, y)
    return max(dx, 0.0) * max(dy, 0.0)


def _background_window(
    rng: np.random.Generator, bboxes: List[List[float]], image_size: int
) -> Optional[Tuple[int, int, int]]:
    """A square that no object box overlaps much, or None if none is found."""
    for _ in range(BACKGROUND_TRIES):
        side = int(rng.integers(BACKGROUND_SIDES[0], BACKGROUND_SIDES[1] + 1))
        x0, y0 = rng.integers(0, image_size - side + 1, 2)
        window = (int(x0), int(y0), side)
        if all(_overlap(window, b) <= BACKGROUND_OVERLAP * side**2 for b in bboxes):
            return window
    return None


def _cut(image: np.ndarray, window: Tuple[int, int, int], crop_size: int) -> np.ndarray:
    """The ``window`` of ``image``, resized to ``crop_size`` square."""
    x0, y0, side = window
    patch = image[y0 : y0 + side, x0 : x0 + side]
    interpolation = cv2.INTER_AREA if side > crop_size else cv2.INTER_LINEAR
    return cv2.resize(patch, (crop_size, crop_size), interpolation=interpolation)


def _write_split(
    out_dir: str,
    split: str,
    split_id: int,
    num_crops: int,
    crop_size: int,
    image_size: int,
    seed: int,
    max_objects: int,
) -> Dict[str, object]:
    """Cut and write one split; return its counts."""
    per_class = num_crops // len(CLASSES)
    counts = [0] * len(CLASSES)
    lines: List[str] = []
    for name in CLASSES:
        os.makedirs(osp.join(out_dir, split, name), exist_ok=True)

    def write(label: int, crop: np.ndarray) -> None:
        counts[label] += 1
        rel = f'{CLASSES[label]}/{counts[label]:06d}.jpg'
        cv2.imwrite(osp.join(out_dir, split, rel), crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
        lines.append(f'{rel} {label}')

    background = CLASSES.index('background')
    index = 0
    while min(counts) < per_class:
        if index >= MAX_IMAGES_PER_CROP * num_crops:
            raise RuntimeError(
                f'{split}: only {dict(zip(CLASSES, counts))} crops after '
                f'{index} source images; draw larger images (image_size) or '
                'more objects (max_objects)'
            )
        rng = np.random.default_rng([seed, SEED_OFFSET + split_id, index])
        index += 1
        image, anns = draw_toy_image(rng, image_size, max_objects)
        bboxes = [ann['bbox'] for ann in anns]
        for ann in anns:
            label = ann['category_id'] - 1
            if counts[label] < per_class and max(ann['bbox'][2:]) >= MIN_OBJECT_SIDE:
                window = _object_window(rng, ann['bbox'], image_size)
                write(label, _cut(image, window, crop_size))
        for _ in range(BACKGROUNDS_PER_IMAGE):
            if counts[background] >= per_class:
                break
            window = _background_window(rng, bboxes, image_size)
            if window is None:
                break
            write(background, _cut(image, window, crop_size))
            bboxes.append([window[0], window[1], window[2], window[2]])
    ann_file = osp.join(out_dir, 'meta', f'{split}.txt')
    with open(ann_file, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return dict(
        ann_file=ann_file,
        img_dir=osp.join(out_dir, split),
        crops=len(lines),
        per_class=per_class,
        source_images=index,
    )


def generate_toy_classification(
    out_dir: str = 'data/toy_cls',
    num_train: int = 5000,
    num_val: int = 500,
    crop_size: int = 32,
    image_size: int = 192,
    seed: int = 0,
    max_objects: int = 6,
) -> dict:
    """Write the toy classification set under ``out_dir``.

    Args:
        out_dir (str): Output root. Defaults to ``'data/toy_cls'``.
        num_train (int): Training crops, a multiple of the 5 :data:`CLASSES`. Defaults to 5000.
        num_val (int): Validation crops, a multiple of 5. Defaults to 500.
        crop_size (int): Width and height of every crop, >= 8. Defaults to 32.
        image_size (int): Size of the drawn source images, >= 160. Defaults to 192.
        seed (int): The same seed and arguments give byte-identical files. Defaults to 0.
        max_objects (int): Most objects per source image. Defaults to 6.

    Returns:
        dict: ``classes``, ``seconds`` and per split ``ann_file``, ``img_dir``, ``crops``,
        ``per_class`` and ``source_images`` (images drawn).

    Raises:
        ValueError: If an argument is out of its range.
        RuntimeError: If too few crops are found in the source images.
    """
    check_counts(num_train=num_train, num_val=num_val, max_objects=max_objects)
    for name, value in dict(num_train=num_train, num_val=num_val).items():
        if value % len(CLASSES):
            raise ValueError(
                f'{name} must be a multiple of the {len(CLASSES)} classes '
                f'{CLASSES} (every class gets the same number of crops), got '
                f'{value}; use e.g. {value - value % len(CLASSES) or len(CLASSES)}'
            )
    if not isinstance(crop_size, int) or crop_size < 8:
        raise ValueError(f'crop_size must be an int >= 8 (pixels), got {crop_size!r}')
    if not isinstance(image_size, int) or image_size < MIN_SOURCE_SIZE:
        raise ValueError(
            f'image_size must be an int >= {MIN_SOURCE_SIZE} so that the toy '
            f'drawing fits large objects, got {image_size!r}'
        )
    start = time.perf_counter()
    os.makedirs(osp.join(out_dir, 'meta'), exist_ok=True)
    info: dict = dict(classes=CLASSES)
    for split_id, (split, num_crops) in enumerate(zip(SPLITS, (num_train, num_val))):
        info[split] = _write_split(
            out_dir, split, split_id, num_crops, crop_size, image_size, seed, max_objects
        )
    info['seconds'] = time.perf_counter() - start
    return info
