"""A small, seeded, COCO-format instance-segmentation dataset of shapes.

Circles, squares, triangles and stars in random colours on textured, noisy backgrounds, written
as ``OUT_DIR/annotations/instances_{train,val}.json`` and ``OUT_DIR/{train,val}/000001.jpg``.
Objects span COCO's small, medium and large areas, so that every size-split AP is defined; later
objects may hide up to half of earlier ones, and each annotation is the polygon of what is seen.
"""

import json
import math
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import pycocotools.mask as mask_utils
from shapely.geometry import Polygon
from shapely.ops import unary_union

CLASSES = ('circle', 'square', 'triangle', 'star')

SPLITS = ('train', 'val')
SMALL_AREA = 32**2  # COCO's area ranges (pycocotools COCOeval.Params.areaRng)
LARGE_AREA = 96**2
SIZE_PROBS = (0.3, 0.45, 0.25)  # share of small / medium / large objects
MIN_AREA = 196.0
MIN_VISIBLE = 0.5  # share of an object's area that must stay visible
PLACE_TRIES = 30
COLOUR_TRIES = 30
MIN_COLOUR_DIST = 100.0
SUPERSAMPLE = 4

# Per class: number of vertices, angle of the first one, and radii repeated around.
_SHAPES = dict(
    circle=(48, 0.0, [1.0]),
    square=(4, np.pi / 4, [1.0]),
    triangle=(3, -np.pi / 2, [1.0]),
    star=(10, -np.pi / 2, [1.0, 0.45]),
)


def unit_shape(name: str) -> np.ndarray:
    """Counter-clockwise ``(N, 2)`` vertices of a class's shape, circumradius 1, centred at 0."""
    if name not in _SHAPES:
        raise KeyError(f'unknown toy shape {name!r}; use one of {CLASSES}')
    num, start, radii = _SHAPES[name]
    angles = np.linspace(0, 2 * np.pi, num, endpoint=False) + start
    radii = np.resize(radii, num)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


_UNIT_AREAS = {name: Polygon(unit_shape(name)).area for name in CLASSES}


def _sample_area(rng: np.random.Generator, image_size: int) -> float:
    """Sample a target object area from COCO's small/medium/large ranges."""
    max_area = 0.5 * image_size**2
    assert max_area > LARGE_AREA * 1.25, 'image_size is checked by the caller'
    ranges = (
        (MIN_AREA, SMALL_AREA * 0.8),
        (SMALL_AREA * 1.25, LARGE_AREA * 0.8),
        (LARGE_AREA * 1.25, max_area),
    )
    low, high = ranges[rng.choice(3, p=SIZE_PROBS)]
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _shape(rng: np.random.Generator, label: int, area: float, image_size: int) -> Polygon:
    """A randomly posed polygon of class ``label``, fully inside the image."""
    name = CLASSES[label]
    radius = math.sqrt(area / _UNIT_AREAS[name])
    angle = rng.uniform(0, 2 * np.pi) if name != 'circle' else 0.0
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    # Mild anisotropy makes the shapes less template-like.
    stretch = rng.uniform(0.85, 1.15, size=2) if name != 'circle' else 1.0
    verts = (unit_shape(name) * stretch) @ rot.T * radius
    # Shrink what would not fit (big triangles and stars) to the image.
    verts *= min(1.0, (image_size - 4) / (verts.max(0) - verts.min(0)).max())
    low, high = verts.min(0), verts.max(0)
    centre = rng.uniform(-low + 1, image_size - high - 1)
    return Polygon(verts + centre)


def _parts(geom) -> List[Polygon]:
    """Polygons of a shapely geometry, without its points and lines."""
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    return [g for g in getattr(geom, 'geoms', []) if isinstance(g, Polygon)]


def _visible(shape: Polygon, above: Sequence[Polygon]) -> List[Polygon]:
    """Parts of ``shape`` not covered by the shapes ``above`` it."""
    if not above:
        return [shape]
    return _parts(shape.difference(unary_union(list(above))))


def _place_objects(
    rng: np.random.Generator, image_size: int, num_objects: int
) -> List[Tuple[int, Polygon]]:
    """Sample objects and stack them, largest at the bottom.

    A pose is rejected if it hides too much of an object below it or punches a hole in one
    (COCO polygons have none); an object with no accepted pose of ``PLACE_TRIES`` is dropped.
    """
    labels = rng.integers(len(CLASSES), size=num_objects)
    areas = [_sample_area(rng, image_size) for _ in range(num_objects)]
    objects: List[Tuple[int, Polygon]] = []
    for i in np.argsort(areas)[::-1]:
        for _ in range(PLACE_TRIES):
            shape = _shape(rng, int(labels[i]), areas[i], image_size)
            shapes = [s for _, s in objects] + [shape]
            if all(_acceptable(s, shapes[j + 1 :]) for j, s in enumerate(shapes[:-1])):
                objects.append((int(labels[i]), shape))
                break
    return objects


def _acceptable(shape: Polygon, above: Sequence[Polygon]) -> bool:
    parts = _visible(shape, above)
    area = sum(p.area for p in parts)
    return area >= MIN_VISIBLE * shape.area and all(len(p.interiors) == 0 for p in parts)


def _smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1] of shape ``(size, size, channels)``."""
    coarse = rng.uniform(-1, 1, (cells, cells, channels)).astype(np.float32)
    noise = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(noise.reshape(size, size, channels), -1, 1)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A float32 BGR background: colour gradient plus blotchy texture."""
    base = rng.uniform(70, 185, 3)
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction) + 1e-6
    ys, xs = np.mgrid[0:size, 0:size] / size - 0.5
    ramp = (xs * direction[0] + ys * direction[1])[..., None]
    image = base + ramp * rng.uniform(-60, 60, 3)
    image = image + 30 * _smooth_noise(rng, size, int(rng.integers(6, 20)), 3)
    image = image + 12 * _smooth_noise(rng, size, size // 4, 1)
    return image.astype(np.float32)


def _coverage(shape: Polygon, size: int) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of a polygon (COCO pixel ``i`` spans ``[i, i + 1)``)."""
    big = size * SUPERSAMPLE
    pts = np.asarray(shape.exterior.coords) * SUPERSAMPLE - 0.5
    canvas = np.zeros((big, big), np.uint8)
    cv2.fillPoly(canvas, [np.round(pts * 16).astype(np.int32)], 255, cv2.LINE_8, shift=4)
    small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32)[..., None] / 255


def _object_colour(rng: np.random.Generator, avoid: Sequence[np.ndarray]) -> np.ndarray:
    """A colour far from every colour in ``avoid`` (best of a few draws)."""
    best, best_dist = None, -1.0
    for _ in range(COLOUR_TRIES):
        colour = rng.uniform(0, 255, 3)
        dist = min(float(np.linalg.norm(colour - c)) for c in avoid)
        if dist > MIN_COLOUR_DIST:
            return colour
        if dist > best_dist:
            best, best_dist = colour, dist
    return best


def _annotation(parts: Sequence[Polygon], size: int) -> Optional[dict]:
    """COCO ``segmentation``/``area``/``bbox`` of the visible polygons."""
    segmentation = []
    for part in parts:
        coords = np.asarray(part.exterior.coords)[:-1]
        if len(coords) >= 3 and part.area >= 1:
            segmentation.append([round(float(v), 2) for v in coords.reshape(-1)])
    if not segmentation:
        return None
    rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, size, size))
    area = float(mask_utils.area(rle))
    if area <= 0:
        return None
    xs = np.concatenate([np.asarray(s[0::2]) for s in segmentation])
    ys = np.concatenate([np.asarray(s[1::2]) for s in segmentation])
    x0, y0 = float(xs.min()), float(ys.min())
    bbox = [x0, y0, float(xs.max()) - x0, float(ys.max()) - y0]
    return dict(segmentation=segmentation, area=area, bbox=[round(v, 2) for v in bbox], iscrowd=0)


def draw_toy_image(
    rng: np.random.Generator, image_size: int, max_objects: int = 6
) -> Tuple[np.ndarray, List[dict]]:
    """Draw one image and its annotations (without ids).

    Args:
        rng (np.random.Generator): Source of all randomness.
        image_size (int): Width and height in pixels.
        max_objects (int): Most objects in the image (at least 1). Defaults to 6.

    Returns:
        tuple[np.ndarray, list[dict]]: The ``uint8`` BGR image and, per visible object,
        ``category_id`` (1-based), ``segmentation``, ``area``, ``bbox`` and ``iscrowd``.
    """
    objects = _place_objects(rng, image_size, int(rng.integers(1, max_objects + 1)))
    image = _background(rng, image_size)
    colours: List[np.ndarray] = []
    for label, shape in objects:
        alpha = _coverage(shape, image_size)
        # Stand out from what lies beneath and from the other objects.
        beneath = (image * alpha).sum((0, 1)) / max(float(alpha.sum()), 1e-6)
        colour = _object_colour(rng, [beneath, *colours])
        colours.append(colour)
        texture = 18 * _smooth_noise(rng, image_size, 8, 1)
        image = image * (1 - alpha) + (colour + texture) * alpha
    image = image + rng.normal(0, 8, image.shape)
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)

    annotations = []
    shapes = [shape for _, shape in objects]
    for i, (label, shape) in enumerate(objects):
        ann = _annotation(_visible(shape, shapes[i + 1 :]), image_size)
        if ann is not None:
            annotations.append(dict(category_id=label + 1, **ann))
    return image, annotations


def _area_counts(annotations: Sequence[dict]) -> Dict[str, int]:
    areas = np.array([ann['area'] for ann in annotations])
    return dict(
        small=int((areas < SMALL_AREA).sum()),
        medium=int(((areas >= SMALL_AREA) & (areas <= LARGE_AREA)).sum()),
        large=int((areas > LARGE_AREA).sum()),
    )


def check_counts(**counts: int) -> None:
    """Raise a ValueError naming the first count that is not a positive int."""
    for name, value in counts.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f'{name} must be a positive int, got {value!r}')


def generate_toy_coco(
    out_dir: str = 'data/toy_coco',
    num_train: int = 400,
    num_val: int = 100,
    image_size: int = 192,
    seed: int = 0,
    max_objects: int = 6,
) -> dict:
    """Write the toy dataset in COCO format under ``out_dir``.

    Args:
        out_dir (str): Output root. Defaults to ``'data/toy_coco'``.
        num_train (int): Number of training images. Defaults to 400.
        num_val (int): Number of validation images. Defaults to 100.
        image_size (int): Width and height of every image, >= 176. Defaults to 192.
        seed (int): Image ``index`` of split ``i`` is drawn from ``default_rng([seed, i, index])``:
            the same arguments give byte-identical files. Defaults to 0.
        max_objects (int): Most objects per image. Defaults to 6.

    Returns:
        dict: ``classes``, ``seconds`` and per split ``ann_file``, ``img_dir``, ``images``,
        ``annotations`` and ``areas`` (small/medium/large counts).

    Raises:
        ValueError: If a count is not a positive int or ``image_size`` < 176.
    """
    check_counts(num_train=num_train, num_val=num_val, max_objects=max_objects)
    if not isinstance(image_size, int) or image_size < 176:
        raise ValueError(
            f'image_size must be an int >= 176 so that large (> 96^2 px) '
            f'objects fit, got {image_size!r}'
        )
    start = time.perf_counter()
    categories = [
        dict(id=i + 1, name=name, supercategory='shape') for i, name in enumerate(CLASSES)
    ]
    info = dict(classes=CLASSES)
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    for split_id, (split, num_images) in enumerate(zip(SPLITS, (num_train, num_val))):
        img_dir = osp.join(out_dir, split)
        os.makedirs(img_dir, exist_ok=True)
        images, annotations = [], []
        for index in range(num_images):
            rng = np.random.default_rng([seed, split_id, index])
            image, anns = draw_toy_image(rng, image_size, max_objects)
            image_id = index + 1
            file_name = f'{image_id:06d}.jpg'
            cv2.imwrite(osp.join(img_dir, file_name), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
            images.append(
                dict(id=image_id, file_name=file_name, width=image_size, height=image_size)
            )
            for ann in anns:
                annotations.append(dict(id=len(annotations) + 1, image_id=image_id, **ann))
        ann_file = osp.join(out_dir, 'annotations', f'instances_{split}.json')
        with open(ann_file, 'w') as f:
            json.dump(
                dict(
                    info=dict(description='sa_mmdet toy shapes', version='1.0', seed=seed),
                    licenses=[],
                    images=images,
                    annotations=annotations,
                    categories=categories,
                ),
                f,
            )
        info[split] = dict(
            ann_file=ann_file,
            img_dir=img_dir,
            images=len(images),
            annotations=len(annotations),
            areas=_area_counts(annotations),
        )
    info['seconds'] = time.perf_counter() - start
    return info
