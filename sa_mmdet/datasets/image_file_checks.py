"""Checks of the image files of a COCO annotation file, from their headers only."""

import os
import os.path as osp
from typing import List, Tuple

from PIL import Image

from .problem_report import MAX_EXAMPLES, report_problems

_EXIF_ORIENTATION = 0x0112


def read_image_size(path: str) -> Tuple[int, int]:
    """Read ``(width, height)`` of an image file from its header, without decoding it.

    An EXIF orientation that turns the image (5 to 8) swaps them, as OpenCV (mmdet's loading)
    does. Raises a ValueError if the file is empty or its header is not one Pillow knows.
    """
    if os.stat(path).st_size == 0:
        raise ValueError('the file is empty (0 bytes)')
    try:
        with Image.open(path) as image:
            width, height = image.size
            turned = image.getexif().get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8)
    except Image.UnidentifiedImageError as error:
        raise ValueError('its header is not that of an image format') from error
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(f'its header cannot be read ({type(error).__name__}: {error})') from error
    return (height, width) if turned else (width, height)


def check_image_files(images: List[dict], ann_file: str, img_dir: str) -> None:
    """Check that the files of ``images`` exist in ``img_dir``, are images and have their size.

    Raises:
        FileNotFoundError: If image files are missing.
        ValueError: If files are empty, not images, or of another size than their entry.
    """
    missing, unreadable, wrong_size = [], [], []
    for image in images:
        name = image['file_name']
        path = osp.join(img_dir, name)
        if not osp.isfile(path):
            missing.append(name)
            continue
        try:
            size = read_image_size(path)
        except ValueError as error:
            unreadable.append(f'{name!r} (image id {image["id"]}): {error}')
            continue
        if size != (image['width'], image['height']):
            wrong_size.append(
                f'{name!r} (image id {image["id"]}) is {size[0]}x{size[1]} pixels, but its '
                f'entry says width {image["width"]}, height {image["height"]}'
            )
    if missing:
        raise FileNotFoundError(
            f'{len(missing)} of {len(images)} images of {ann_file!r} are missing '
            f'from {img_dir!r} (e.g. {missing[:MAX_EXAMPLES]}): check `data_root` and '
            f'`data_prefix=dict(img=...)` of the dataset in your config.'
        )
    report_problems(
        unreadable,
        ann_file,
        f'image files in {img_dir!r} that are empty or not images',
        len(images),
        'Replace them with the real images (copy or download them again), or remove '
        'their entries and annotations.',
    )
    report_problems(
        wrong_size,
        ann_file,
        f'image files in {img_dir!r} whose size differs from width/height of their entry',
        len(images),
        'Set width and height of these entries to the size of the files (or replace the '
        'files); boxes are checked and filtered against the declared size.',
    )
