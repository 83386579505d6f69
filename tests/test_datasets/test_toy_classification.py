"""The toy shapes classification set: layout, balance, determinism, errors, mmpretrain."""

import filecmp
import os
import os.path as osp

import cv2
import pytest

from toy_classification import CLASSES, generate_toy_classification

TOOL = 'tools/dataset_converters/generate_toy_classification.py'


@pytest.fixture(scope='module')
def toy_cls(tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp('toy_cls'))
    return generate_toy_classification(out_dir, num_train=15, num_val=5, crop_size=32, seed=3)


def read_meta(info: dict, split: str) -> list:
    with open(info[split]['ann_file']) as f:
        return [line.split() for line in f.read().splitlines()]


def test_classes_are_the_shapes_and_background():
    assert CLASSES == ('circle', 'square', 'triangle', 'star', 'background')


@pytest.mark.parametrize('split,per_class', [('train', 3), ('val', 1)])
def test_imagenet_layout_with_exact_class_counts(toy_cls, split, per_class):
    lines = read_meta(toy_cls, split)
    assert toy_cls[split]['crops'] == len(lines) == per_class * len(CLASSES)
    assert toy_cls[split]['per_class'] == per_class
    for rel, label in lines:
        # ImageNet layout: <split>/<class>/<file>, meta lines "<class>/<file> <label>".
        assert rel.split('/')[0] == CLASSES[int(label)]
        image = cv2.imread(osp.join(toy_cls[split]['img_dir'], rel))
        assert image.shape == (32, 32, 3)
    labels = sorted(int(label) for _, label in lines)
    assert labels == sorted(list(range(len(CLASSES))) * per_class)
    for name in CLASSES:
        folder = osp.join(toy_cls[split]['img_dir'], name)
        assert len(os.listdir(folder)) == per_class


def test_same_seed_same_files_other_seed_other_files(toy_cls, tmp_path):
    kwargs = dict(num_train=15, num_val=5, crop_size=32)
    again = generate_toy_classification(str(tmp_path / 'a'), seed=3, **kwargs)
    other = generate_toy_classification(str(tmp_path / 'b'), seed=4, **kwargs)
    rels = [rel for rel, _ in read_meta(toy_cls, 'train')]
    assert rels == [rel for rel, _ in read_meta(again, 'train')]

    def same(a: dict, rel: str) -> bool:
        first, second = (osp.join(i['train']['img_dir'], rel) for i in (toy_cls, a))
        return osp.exists(second) and filecmp.cmp(first, second, shallow=False)

    assert all(same(again, rel) for rel in rels)
    assert not all(same(other, rel) for rel in rels)


@pytest.mark.parametrize(
    'kwargs,match',
    [
        # Every class gets the same number of crops.
        (dict(num_train=12), 'multiple of the 5 classes'),
        (dict(num_val=0), 'num_val must be a positive int'),
        (dict(crop_size=4), 'crop_size must be an int >= 8'),
        # Large toy objects must fit the drawn images.
        (dict(image_size=128), 'image_size must be an int >= 160'),
    ],
)
def test_bad_arguments_name_the_fix(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_toy_classification(str(tmp_path), **kwargs)


def test_mmpretrain_custom_dataset_reads_it(toy_cls, sa_mmdet_pretrain):
    from mmpretrain.datasets import CustomDataset

    root = osp.dirname(toy_cls['train']['img_dir'])
    dataset = CustomDataset(
        data_root=root,
        ann_file='meta/train.txt',
        data_prefix='train',
        metainfo=dict(classes=CLASSES),
    )
    assert len(dataset) == 15 and dataset.CLASSES == CLASSES
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        assert osp.basename(osp.dirname(info['img_path'])) == CLASSES[info['gt_label']]


@pytest.mark.slow
def test_cli_writes_the_set_and_rejects_bad_counts(run_python, tmp_path):
    args = ('--num-train', 5, '--num-val', 5, '--crop-size', 16)
    result = run_python(TOOL, tmp_path / 'cls', *args, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'train: 5 crops (1 per class)' in result.stdout
    assert (tmp_path / 'cls' / 'meta' / 'val.txt').is_file()
    result = run_python(TOOL, tmp_path / 'bad', '--num-train', 7, timeout=120)
    assert result.returncode == 2 and 'multiple of the 5 classes' in result.stderr
