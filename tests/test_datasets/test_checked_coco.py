import json

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
