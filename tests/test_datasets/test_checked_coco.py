import json
import os.path as osp

import cv2
import numpy as np
import pytest
from mmdet.datasets import CocoDataset

from sa_mmdet.datasets import CheckedCocoDataset

CLASSES = ('circle', 'square')


def write_coco(root, mutate=None):
    """Two 32x32 images with one box each; ``mutate`` edits the dict first."""
    (root / 'images').mkdir(exist_ok=True)
    images = []
    for i in (1, 2):
        cv2.imwrite(str(root / 'images' / f'{i}.png'), np.full((32, 32, 3), 60 * i, np.uint8))
        images.append(dict(id=i, file_name=f'{i}.png', width=32, height=32))
    coco = dict(
        images=images,
        annotations=[
            dict(
                id=i,
                image_id=i,
                category_id=i,
                bbox=[4, 4, 10, 12],
                area=120,
                iscrowd=0,
                segmentation=[[4, 4, 14, 4, 14, 16, 4, 16]],
            )
            for i in (1, 2)
        ],
        categories=[dict(id=1, name='circle'), dict(id=2, name='square')],
    )
    if mutate:
        mutate(coco)
    (root / 'ann.json').write_text(json.dumps(coco))
    return root


def build(root, dataset_type=CheckedCocoDataset, classes=CLASSES, ann_file='ann.json'):
    return dataset_type(
        data_root=str(root),
        ann_file=ann_file,
        data_prefix=dict(img='images/'),
        metainfo=dict(classes=classes),
        pipeline=[],
        test_mode=False,
    )


def test_loads_the_same_as_coco_dataset(tmp_path):
    write_coco(tmp_path)
    checked, plain = build(tmp_path), build(tmp_path, CocoDataset)
    infos = [checked.get_data_info(i) for i in range(len(checked))]
    assert infos == [plain.get_data_info(i) for i in range(len(plain))]
    assert [inst['bbox_label'] for info in infos for inst in info['instances']] == [0, 1]


def test_missing_annotation_file(tmp_path):
    # Rule: the annotation file must exist; the message names the config keys.
    with pytest.raises(FileNotFoundError, match='check `data_root` and `ann_file`'):
        build(tmp_path, ann_file='nope.json')


def test_malformed_json(tmp_path):
    (tmp_path / 'ann.json').write_text('{"images": [}')
    # Rule: the file must be valid JSON; the message gives the position.
    with pytest.raises(ValueError, match='not valid JSON.*line 1, column 13'):
        build(tmp_path)


@pytest.mark.parametrize(
    'mutate,message',
    [
        (lambda c: c.pop('categories'), "needs a list under 'categories'"),
        (lambda c: c['annotations'][0].pop('bbox'), r"annotations\[0\] lacks \['bbox'\]"),
        (lambda c: c['annotations'][1].update(image_id=7), 'refers to image_id 7'),
        (lambda c: c['annotations'][1].update(category_id=9), 'refers to category_id 9'),
        (lambda c: c['annotations'][1].update(id=1), 'annotation id 1 is not unique'),
        (lambda c: c['annotations'][0].update(bbox=[1, 2, -3, 4]), r'has bbox \[1, 2, -3, 4\]'),
    ],
)
def test_malformed_annotations(tmp_path, mutate, message):
    write_coco(tmp_path, mutate)
    with pytest.raises(ValueError, match=message):
        build(tmp_path)


def test_classes_not_in_annotations(tmp_path):
    write_coco(tmp_path)
    # Rule: every configured class must be a category of the file (mmdet drops it silently).
    with pytest.raises(
        ValueError, match=r"classes \['triangle'\] of the config are not categories"
    ):
        build(tmp_path, classes=('circle', 'triangle'))


def test_missing_images(tmp_path):
    write_coco(tmp_path)
    (tmp_path / 'images' / '2.png').unlink()
    # Rule: every image file must exist under data_root/data_prefix.img.
    with pytest.raises(FileNotFoundError, match=r"1 of 2 images .* missing .*\['2.png'\]"):
        build(tmp_path)


def _set(key, index, **fields):
    """A ``mutate`` for ``write_coco`` that updates ``coco[key][index]``."""
    return lambda c: c[key][index].update(fields)


def _both(*mutations):
    """A ``mutate`` that applies ``mutations`` in turn."""

    def mutate_all(coco):
        for mutate in mutations:
            mutate(coco)

    return mutate_all


@pytest.mark.parametrize(
    'mutate,message',
    [
        # Before: "refers to image_id 2, which is not in images".
        (
            _set('images', 1, id=1),
            r"image id 1 is not unique \(images\[0\] \(id 1, '1.png'\), "
            r"images\[1\] \(id 1, '2.png'\)\)",
        ),
        # Before: passed, and the dataset paired 2.png with the boxes of 1.png.
        (
            _both(_set('images', 1, id=1), _set('annotations', 1, image_id=1)),
            r'image id 1 is not unique',
        ),
        # Before: passed, 2.png was never used.
        (_set('images', 1, file_name='1.png'), r"file_name '1.png' is not unique"),
        # Before: passed, both annotations labelled 'circle'.
        (
            _both(_set('categories', 1, id=1), _set('annotations', 1, category_id=1)),
            r"category id 1 is not unique \(categories\[0\] \(id 1, 'circle'\)",
        ),
        # Before: "classes ['square'] ... are not categories".
        (_set('categories', 1, name='circle'), r"category name 'circle' is not unique"),
    ],
    ids=['image-id', 'image-id-silent', 'file-name', 'category-id', 'category-name'],
)
def test_duplicates(tmp_path, mutate, message):
    write_coco(tmp_path, mutate)
    with pytest.raises(ValueError, match=f"'.*ann.json': .*{message}"):
        build(tmp_path)


@pytest.mark.parametrize(
    'mutate,message',
    [
        # Before: "refers to image_id 2".
        (_set('images', 1, id='2'), r"images\[1\] \(id '2', '2.png'\): id is '2' \(str\)"),
        # Before: TypeError: unhashable type: 'list'.
        (_set('annotations', 0, id=[1]), r'annotations\[0\] \(id \[1\]\): id is \[1\] \(list\)'),
        # Before: passed (True == 1).
        (_set('categories', 0, id=True), r"categories\[0\] \(id True, 'circle'\): id is True"),
        # Before: passed (2.0 == 2).
        (_set('annotations', 1, image_id=2.0), r'image_id is 2.0 \(float\), not an integer'),
        # Before: "refers to category_id 1".
        (_set('annotations', 0, category_id='1'), r"category_id is '1' \(str\)"),
        # Before: passed; mmdet drops the boxes of the image.
        (_set('images', 0, width=0), r"images\[0\] \(id 1, '1.png'\): width is 0 \(int\)"),
        (_set('images', 1, height=32.0), r'height is 32.0 \(float\), not a positive integer'),
        # Before: TypeError in os.path.join.
        (_set('images', 1, file_name=2), r'file_name is 2 \(int\), not a non-empty string'),
    ],
    ids=[
        'image-id-str',
        'ann-id-list',
        'category-id-bool',
        'image_id-float',
        'category_id-str',
        'width-zero',
        'height-float',
        'file_name-int',
    ],
)
def test_wrong_types(tmp_path, mutate, message):
    write_coco(tmp_path, mutate)
    with pytest.raises(
        ValueError, match=f"'.*ann.json': entries with fields of the wrong type.*{message}"
    ):
        build(tmp_path)


@pytest.mark.parametrize(
    'mutate,message',
    [
        # All passed before; mmdet dropped the boxes or kept them silently. NaN and
        # inf go through the file as JSON NaN and Infinity, which json.load accepts.
        (_set('annotations', 0, bbox=[float('nan'), 4, 10, 12]), r'has bbox \[nan, .*not finite'),
        (
            _set('annotations', 1, bbox=[4, 4, float('inf'), 12]),
            r'has bbox \[4, 4, inf, .*not finite',
        ),
        (_set('annotations', 0, bbox=[True, 4, 10, 12]), r'has bbox \[True, .*not a list of 4'),
        (
            _set('annotations', 0, bbox=[-5, 4, 10, 12]),
            r"id 1 \(image id 1, '1.png', 32x32\).*x = -5 < 0",
        ),
        (
            _set('annotations', 1, bbox=[4, -2, 10, 12]),
            r"id 2 \(image id 2, '2.png', 32x32\).*y = -2 < 0",
        ),
        (_set('annotations', 1, bbox=[20, 4, 20, 12]), r'x \+ width = 40 > image width 32'),
        (_set('annotations', 0, bbox=[4, 30, 10, 12]), r'y \+ height = 42 > image height 32'),
        # Wrong size on one image: its boxes leave it.
        (_set('images', 0, width=8), r"\(1 of 2\): annotation id 1 \(image id 1, '1.png', 8x32\)"),
        # Wrong size on every image: before, "need at least one array to concatenate".
        (
            _both(_set('images', 0, width=8, height=8), _set('images', 1, width=8, height=8)),
            r'\(2 of 2\): annotation id 1 .*; annotation id 2 ',
        ),
    ],
    ids=['nan', 'inf', 'bool', 'x<0', 'y<0', 'right', 'bottom', 'one-image-size', 'all-sizes'],
)
def test_bad_boxes(tmp_path, mutate, message):
    write_coco(tmp_path, mutate)
    with pytest.raises(ValueError, match=f"'.*ann.json': annotations .*bbox.*{message}"):
        build(tmp_path)


def test_boxes_may_leave_their_image_by_the_tolerance(tmp_path):
    # Guard against a too strict check: float rounding of up to 1 pixel passes.
    write_coco(tmp_path, _set('annotations', 0, bbox=[-0.9, -1.0, 33.8, 20]))
    assert len(build(tmp_path)) == 2


def test_many_problems_are_counted_and_a_few_quoted(tmp_path):
    def five_outside(coco):
        coco['annotations'] = [
            dict(id=i, image_id=1, category_id=1, bbox=[4, 4, 40 + i, 12], area=1, iscrowd=0)
            for i in range(5)
        ]

    write_coco(tmp_path, five_outside)
    with pytest.raises(
        ValueError, match=r'\(5 of 5\): annotation id 0 .*; annotation id 2 [^;]*; and 2 more\.'
    ):
        build(tmp_path)


def _write_png(path, width, height):
    cv2.imwrite(str(path), np.zeros((height, width, 3), np.uint8))


def test_image_size_disagrees_with_the_file(tmp_path):
    write_coco(tmp_path)
    _write_png(tmp_path / 'images' / '2.png', 16, 24)
    # Before: passed; boxes were checked against the declared 32x32.
    with pytest.raises(
        ValueError,
        match=r"whose size differs .*\(1 of 2\): '2.png' \(image id 2\) is 16x24 pixels, "
        r'but its entry says width 32, height 32',
    ):
        build(tmp_path)


def test_exif_orientation_is_applied_as_opencv_loads_the_image(tmp_path):
    from PIL import Image

    from sa_mmdet.datasets.image_file_checks import read_image_size

    path = tmp_path / 'turned.jpg'
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 40 wide, 24 high; shown turned a quarter
    Image.new('RGB', (40, 24)).save(path, exif=exif)
    assert cv2.imread(str(path)).shape[:2] == (40, 24)  # height, width as mmdet sees it
    assert read_image_size(str(path)) == (24, 40)


def test_declared_sizes_larger_than_every_file(tmp_path):
    write_coco(tmp_path, _both(*[_set('images', i, width=64, height=64) for i in (0, 1)]))
    # Before: passed; every box fits the declared size, none the real one.
    with pytest.raises(ValueError, match=r"\(2 of 2\): '1.png' .* is 32x32 pixels.*'2.png'"):
        build(tmp_path)


@pytest.mark.parametrize(
    'content,message',
    [(b'', 'the file is empty'), (b'not an image', 'its header is not that of an image')],
    ids=['empty', 'not-an-image'],
)
def test_image_file_is_not_an_image(tmp_path, content, message):
    write_coco(tmp_path)
    (tmp_path / 'images' / '2.png').write_bytes(content)
    # Before: passed; cv2 failed when the image was fetched, without naming it.
    with pytest.raises(
        ValueError,
        match=r"'.*ann.json': image files .* empty or not images .*'2.png' \(image id 2\): "
        + message,
    ):
        build(tmp_path)


def test_toy_dataset_loads_the_same_as_coco_dataset(tmp_path):
    from toy_coco import CLASSES as TOY_CLASSES
    from toy_coco import generate_toy_coco

    toy = generate_toy_coco(str(tmp_path), num_train=4, num_val=1, image_size=176, seed=3)
    kwargs = dict(
        data_root=str(tmp_path),
        ann_file=osp.relpath(toy['train']['ann_file'], tmp_path),
        data_prefix=dict(img=osp.relpath(toy['train']['img_dir'], tmp_path) + '/'),
        metainfo=dict(classes=TOY_CLASSES),
        pipeline=[],
    )
    checked, plain = CheckedCocoDataset(**kwargs), CocoDataset(**kwargs)
    assert len(checked) == 4
    assert [checked.get_data_info(i) for i in range(4)] == [
        plain.get_data_info(i) for i in range(4)
    ]
