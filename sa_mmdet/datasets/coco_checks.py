"""Checks of a COCO-format annotation file, with errors that name the fix.

They refuse what mmdet's ``CocoDataset`` would mangle silently (drop boxes, merge images, shift
labels) or fail on much later without naming the entry.
"""

import json
import math
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

from .image_file_checks import check_image_files
from .problem_report import report_problems

_REQUIRED = {
    'images': ('id', 'file_name', 'width', 'height'),
    'annotations': ('id', 'image_id', 'category_id', 'bbox'),
    'categories': ('id', 'name'),
}
_INT_FIELDS = {
    'images': ('id',),
    'annotations': ('id', 'image_id', 'category_id'),
    'categories': ('id',),
}
_STR_FIELDS = {'images': ('file_name',), 'categories': ('name',)}

_NUMBER_TYPES = frozenset((int, float))  # not bool: JSON true/false are no numbers

#: Pixels a box may reach beyond its image (float rounding of converters).
BOX_TOLERANCE = 1.0


def read_coco_json(ann_file: str) -> dict:
    """Read and parse a COCO annotation file (JSON).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not valid JSON.
    """
    if not osp.isfile(ann_file):
        raise FileNotFoundError(
            f'COCO annotation file {ann_file!r} does not exist: check `data_root` and `ann_file` '
            'of the dataset in your config (or generate the toy data: '
            'python tools/dataset_converters/generate_toy_coco.py).'
        )
    with open(ann_file) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(
                f'COCO annotation file {ann_file!r} is not valid JSON: {error.msg} at line '
                f'{error.lineno}, column {error.colno}.'
            ) from error


def check_coco_dict(
    dataset: dict, ann_file: str, classes: Sequence[str], img_dir: Optional[str] = None
) -> None:
    """Check a parsed COCO annotation dict against a dataset config.

    In this order, the first kind of problem fails with its cases counted and a few quoted:

    1. the lists ``images``, ``annotations``, ``categories`` and the COCO keys of their entries;
    2. ids are JSON integers (not bools, strings, floats or lists), ``width``/``height``
       positive integers, ``file_name`` and category ``name`` non-empty strings;
    3. ids, file names and category names are unique;
    4. every configured class is a category of the file;
    5. every annotation refers to an existing image and category, and its ``bbox`` is
       ``[x, y, width, height]``, finite, ``width, height >= 0``, inside its image up to
       :data:`BOX_TOLERANCE`;
    6. with ``img_dir``: every image file exists, is an image and has its entry's size.

    Args:
        dataset (dict): Parsed annotation file.
        ann_file (str): Its path, for messages.
        classes (Sequence[str]): Class names of the config (``metainfo``).
        img_dir (str, optional): Local image folder to check (step 6). Defaults to None.

    Raises:
        ValueError: On the first kind of problem.
        FileNotFoundError: Missing image files.
    """
    _check_structure(dataset, ann_file)
    _check_types(dataset, ann_file)
    _check_unique(dataset, ann_file)
    _check_classes(dataset, ann_file, classes)
    _check_annotations(dataset, ann_file)
    if img_dir is not None:
        check_image_files(dataset['images'], ann_file, img_dir)


def _check_structure(dataset: dict, ann_file: str) -> None:
    """Check the top-level lists and the keys of their entries."""
    if not isinstance(dataset, dict):
        raise ValueError(
            f'{ann_file!r} must hold a JSON object with keys {list(_REQUIRED)}, '
            f'but holds a {type(dataset).__name__}.'
        )
    for key, fields in _REQUIRED.items():
        entries = dataset.get(key)
        if not isinstance(entries, list):
            raise ValueError(
                f'{ann_file!r} needs a list under {key!r} (COCO format), but got '
                f'{type(entries).__name__}.'
            )
        for index, entry in enumerate(entries):
            missing = [f for f in fields if not isinstance(entry, dict) or f not in entry]
            if missing:
                raise ValueError(
                    f'{ann_file!r}: {key}[{index}] lacks {missing}; every entry of {key!r} '
                    f'needs {list(fields)}.'
                )


def _is_int(value: object) -> bool:
    """Whether ``value`` is an int and not a bool (JSON ``true`` parses as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(value: object) -> str:
    """Quote a value with its Python type, e.g. ``'2' (str)``."""
    return f'{value!r} ({type(value).__name__})'


def _entry_name(key: str, index: int, entry: dict) -> str:
    """Name an entry, e.g. ``images[3] (id 12, '000012.jpg')`` or ``annotations[0] (id 5)``."""
    label = {'images': 'file_name', 'categories': 'name'}.get(key)
    if label is None:
        return f'{key}[{index}] (id {entry["id"]!r})'
    return f'{key}[{index}] (id {entry["id"]!r}, {entry[label]!r})'


def _type_problem(key: str, index: int, entry: dict) -> Optional[str]:
    """The entry and its fields of a wrong type or value, or None."""
    wrong = [
        f'{field} is {_describe(entry[field])}, not an integer'
        for field in _INT_FIELDS[key]
        if not _is_int(entry[field])
    ]
    wrong += [
        f'{field} is {_describe(entry[field])}, not a non-empty string'
        for field in _STR_FIELDS.get(key, ())
        if not isinstance(entry[field], str) or not entry[field]
    ]
    if key == 'images':
        wrong += [
            f'{field} is {_describe(entry[field])}, not a positive integer'
            for field in ('width', 'height')
            if not _is_int(entry[field]) or entry[field] <= 0
        ]
    return f'{_entry_name(key, index, entry)}: {", ".join(wrong)}' if wrong else None


def _types_ok(dataset: dict) -> bool:
    """Whether :func:`_check_types` would find nothing: its fast path for large files."""
    sizes = [image[f] for image in dataset['images'] for f in ('width', 'height')]
    if {type(size) for size in sizes} - {int} or min(sizes, default=1) <= 0:
        return False
    for key, fields in _INT_FIELDS.items():
        if {type(entry[f]) for entry in dataset[key] for f in fields} - {int}:
            return False
    for key, fields in _STR_FIELDS.items():
        names = [entry[f] for entry in dataset[key] for f in fields]
        if {type(name) for name in names} - {str} or '' in names:
            return False
    return True


def _check_types(dataset: dict, ann_file: str) -> None:
    """Check the types of ids, sizes and names."""
    if _types_ok(dataset):
        return
    problems = [
        _type_problem(key, index, entry)
        for key in _REQUIRED
        for index, entry in enumerate(dataset[key])
    ]
    report_problems(
        [problem for problem in problems if problem],
        ann_file,
        'entries with fields of the wrong type',
        sum(len(dataset[key]) for key in _REQUIRED),
        'Ids (id, image_id, category_id) must be JSON integers such as 3 (not true, "3", '
        '3.0 or [3]), width and height the pixel size of the image file as positive '
        'integers, file_name and category names non-empty strings.',
    )


def _duplicates(entries: List[dict], key: str, field: str, label: str) -> Tuple[List[str], int]:
    """Describe each value of ``field`` that several entries share; count the distinct values."""
    values = [entry[field] for entry in entries]
    if field == 'file_name':
        values = [osp.normpath(value) for value in values]
    if len(set(values)) == len(values):
        return [], len(values)
    holders: Dict[object, List[int]] = defaultdict(list)
    for index, value in enumerate(values):
        holders[value].append(index)
    problems = [
        f'{label} {value!r} is not unique '
        f'({", ".join(_entry_name(key, i, entries[i]) for i in indices)})'
        for value, indices in holders.items()
        if len(indices) > 1
    ]
    return problems, len(holders)


def _check_unique(dataset: dict, ann_file: str) -> None:
    """Check that ids, file names and category names are unique.

    pycocotools keeps the last entry of an id: a duplicate image id gives the last image the
    boxes of all of them; a duplicate category name shifts mmdet's labels.
    """
    checks = (
        ('images', 'id', 'image id', 'Give every image its own id, and its annotations that id.'),
        ('images', 'file_name', 'file_name', 'List every image file once, under one id.'),
        ('categories', 'id', 'category id', 'Give every category its own id.'),
        ('categories', 'name', 'category name', 'Give every category its own name.'),
        ('annotations', 'id', 'annotation id', 'Give every annotation its own id.'),
    )
    for key, field, label, fix in checks:
        problems, values = _duplicates(dataset[key], key, field, label)
        report_problems(problems, ann_file, f'{label}s used more than once', values, fix)


def _check_classes(dataset: dict, ann_file: str, classes: Sequence[str]) -> None:
    """Check that every configured class is a category of the file."""
    names = [cat['name'] for cat in dataset['categories']]
    unknown = [name for name in classes if name not in names]
    if unknown:
        raise ValueError(
            f'classes {unknown} of the config are not categories of {ann_file!r}, whose '
            f'categories are {names}. Set `metainfo=dict(classes=...)` of the dataset '
            '(and `num_classes` of the heads) to names from the file.'
        )


def _bbox_problem(bbox: object) -> Optional[str]:
    """What is wrong with a COCO box, or None for a well-formed one."""
    if type(bbox) is not list or len(bbox) != 4 or not _NUMBER_TYPES.issuperset(map(type, bbox)):
        return 'not a list of 4 numbers'
    if not all(map(math.isfinite, bbox)):
        return 'a value that is not finite'
    if bbox[2] < 0 or bbox[3] < 0:
        return 'a negative width or height'
    return None


def _outside_problem(bbox: List[float], image: dict) -> Optional[str]:
    """The borders of its image that a well-formed box crosses beyond the tolerance, or None."""
    x, y, w, h = bbox
    tol, width, height = BOX_TOLERANCE, image['width'], image['height']
    crossed = []
    if x < -tol:
        crossed.append(f'x = {x} < 0')
    if y < -tol:
        crossed.append(f'y = {y} < 0')
    if x + w > width + tol:
        crossed.append(f'x + width = {x + w} > image width {width}')
    if y + h > height + tol:
        crossed.append(f'y + height = {y + h} > image height {height}')
    return ', '.join(crossed) or None


def _check_annotations(dataset: dict, ann_file: str) -> None:
    """Check the image, category and box of every annotation."""
    images = {image['id']: image for image in dataset['images']}
    category_ids = {cat['id'] for cat in dataset['categories']}
    no_image, no_category, malformed, outside = [], [], [], []
    for ann in dataset['annotations']:
        image = images.get(ann['image_id'])
        if image is None:
            no_image.append(f'annotation id {ann["id"]} refers to image_id {ann["image_id"]}')
        if ann['category_id'] not in category_ids:
            no_category.append(
                f'annotation id {ann["id"]} refers to category_id {ann["category_id"]}'
            )
        problem = _bbox_problem(ann['bbox'])
        if problem:
            malformed.append(f'annotation id {ann["id"]} has bbox {ann["bbox"]!r}: {problem}')
        elif image is not None:
            problem = _outside_problem(ann['bbox'], image)
            if problem:
                outside.append(
                    f'annotation id {ann["id"]} (image id {image["id"]}, '
                    f'{image["file_name"]!r}, {image["width"]}x{image["height"]}) has bbox '
                    f'{ann["bbox"]!r}: {problem}'
                )
    kinds = (
        (
            no_image,
            'annotations whose image_id is not an id of "images"',
            f'Image ids are {_id_range(images)}: fix the image_id or add the image.',
        ),
        (
            no_category,
            'annotations whose category_id is not an id of "categories"',
            f'Category ids are {sorted(category_ids)}: fix the category_id or add the category.',
        ),
        (
            malformed,
            'annotations with a malformed bbox',
            'COCO boxes are [x, y, width, height]: 4 finite numbers with width, height >= 0.',
        ),
        (
            outside,
            f'annotations whose bbox leaves its image by more than {BOX_TOLERANCE:g} pixel',
            'Fix the box, or the width/height of its image if that is what is wrong '
            '(mmdet would drop or keep such boxes silently).',
        ),
    )
    for problems, what, fix in kinds:
        report_problems(problems, ann_file, what, len(dataset['annotations']), fix)


def _id_range(items: Dict[int, dict]) -> str:
    """Summarise a set of integer ids for a message, e.g. ``'1..400'``."""
    if not items:
        return 'none'
    ids = sorted(items)
    if ids == list(range(ids[0], ids[-1] + 1)):
        return f'{ids[0]}..{ids[-1]}'
    return f'{ids[:10]}' + (' ...' if len(ids) > 10 else '')
