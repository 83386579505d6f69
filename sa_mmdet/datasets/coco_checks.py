"""Checks of a COCO-format annotation file, with errors that name the fix."""

import json
import os.path as osp
from typing import Optional, Sequence

_REQUIRED = {
    'images': ('id', 'file_name', 'width', 'height'),
    'annotations': ('id', 'image_id', 'category_id', 'bbox'),
    'categories': ('id', 'name'),
}


def read_coco_json(ann_file: str) -> dict:
    """Read a COCO annotation file.

    Args:
        ann_file (str): Path of the JSON file.

    Returns:
        dict: The parsed file.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not valid JSON.
    """
    if not osp.isfile(ann_file):
        raise FileNotFoundError(
            f'COCO annotation file {ann_file!r} does not exist: check `data_root` '
            f'and `ann_file` of the dataset in your config (or generate the toy '
            f'data: python tools/dataset_converters/generate_toy_coco.py).'
        )
    with open(ann_file) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(
                f'COCO annotation file {ann_file!r} is not valid JSON: '
                f'{error.msg} at line {error.lineno}, column '
                f'{error.colno}.'
            ) from error


def check_coco_dict(
    dataset: dict, ann_file: str, classes: Sequence[str], img_dir: Optional[str] = None
) -> None:
    """Check a parsed COCO annotation dict against a dataset config.

    Args:
        dataset (dict): Parsed annotation file.
        ann_file (str): Its path, for messages.
        classes (Sequence[str]): Class names of the config (``metainfo``).
        img_dir (str, optional): Image folder; when given, every image file
            must exist in it. Defaults to None.

    Raises:
        ValueError: Malformed structure, dangling ids, bad boxes, or config
            classes that are not categories of the file.
        FileNotFoundError: Missing image files.
    """
    if not isinstance(dataset, dict):
        raise ValueError(
            f'{ann_file!r} must hold a JSON object with keys {list(_REQUIRED)}, '
            f'but holds a {type(dataset).__name__}.'
        )
    for key, fields in _REQUIRED.items():
        entries = dataset.get(key)
        if not isinstance(entries, list):
            raise ValueError(
                f'{ann_file!r} needs a list under {key!r} (COCO format), '
                f'but got {type(entries).__name__}.'
            )
        for index, entry in enumerate(entries):
            missing = [f for f in fields if not isinstance(entry, dict) or f not in entry]
            if missing:
                raise ValueError(
                    f'{ann_file!r}: {key}[{index}] lacks {missing}; every '
                    f'entry of {key!r} needs {list(fields)}.'
                )

    names = [cat['name'] for cat in dataset['categories']]
    unknown = [name for name in classes if name not in names]
    if unknown:
        raise ValueError(
            f'classes {unknown} of the config are not categories of {ann_file!r}, whose '
            f'categories are {names}. Set `metainfo=dict(classes=...)` of the dataset '
            f'(and `num_classes` of the heads) to names from the file.'
        )

    image_ids = {image['id'] for image in dataset['images']}
    category_ids = {cat['id'] for cat in dataset['categories']}
    ann_ids = set()
    for ann in dataset['annotations']:
        where = f'{ann_file!r}: annotation id {ann["id"]}'
        if ann['id'] in ann_ids:
            raise ValueError(f'{where} is not unique.')
        ann_ids.add(ann['id'])
        if ann['image_id'] not in image_ids:
            raise ValueError(
                f'{where} refers to image_id {ann["image_id"]}, which is not in "images".'
            )
        if ann['category_id'] not in category_ids:
            raise ValueError(
                f'{where} refers to category_id {ann["category_id"]}, '
                f'which is not in "categories" (ids {sorted(category_ids)}).'
            )
        bbox = ann['bbox']
        if (
            not isinstance(bbox, list)
            or len(bbox) != 4
            or not all(isinstance(v, (int, float)) for v in bbox)
            or min(bbox[2:]) < 0
        ):
            raise ValueError(
                f'{where} has bbox {bbox!r}; COCO boxes are '
                f'[x, y, width, height] with width, height >= 0.'
            )

    if img_dir is not None:
        missing = [
            im['file_name']
            for im in dataset['images']
            if not osp.isfile(osp.join(img_dir, im['file_name']))
        ]
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} of {len(image_ids)} images of {ann_file!r} are missing '
                f'from {img_dir!r} (e.g. {missing[:3]}): check `data_root` and '
                f'`data_prefix=dict(img=...)` of the dataset in your config.'
            )
