import json
import os.path as osp
from itertools import combinations

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from mmdet.datasets import CocoDataset
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from toy_coco import CLASSES as TOY_CLASSES
from toy_coco import generate_toy_coco

SIZE = 176
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp('toy_coco'))
    return generate_toy_coco(out_dir, num_train=3, num_val=24, image_size=SIZE, seed=1)


def gt_as_results(coco: COCO, with_masks: bool) -> list:
    results = []
    for ann in coco.loadAnns(coco.getAnnIds()):
        result = dict(
            image_id=ann['image_id'], category_id=ann['category_id'], bbox=ann['bbox'], score=1.0
        )
        if with_masks:
            rle = coco.annToRLE(ann)
            result['segmentation'] = dict(size=rle['size'], counts=rle['counts'].decode())
        results.append(result)
    return results


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_cocoeval_scores_ground_truth_as_perfect(toy, iou_type):
    coco = COCO(toy['val']['ann_file'])
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(TOY_CLASSES)
    dets = coco.loadRes(gt_as_results(coco, iou_type == 'segm'))
    evaluator = COCOeval(coco, dets, iou_type)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    # AP, AP50, AP75 and AP small/medium/large all 1: every size range is
    # populated (-1 would mean undefined) and masks/boxes are consistent.
    np.testing.assert_allclose(evaluator.stats[:6], 1.0)


def test_annotations_are_valid_coco(toy):
    assert toy['val']['images'] == 24 and toy['train']['images'] == 3
    for split in ('train', 'val'):
        coco = COCO(toy[split]['ann_file'])
        assert len(coco.getAnnIds()) == toy[split]['annotations']
        for img in coco.loadImgs(coco.getImgIds()):
            image = cv2.imread(osp.join(toy[split]['img_dir'], img['file_name']))
            assert image.shape == (img['height'], img['width'], 3) == (SIZE, SIZE, 3)
        for ann in coco.loadAnns(coco.getAnnIds()):
            assert ann['iscrowd'] == 0 and 1 <= ann['category_id'] <= 4
            assert all(len(poly) >= 6 and len(poly) % 2 == 0 for poly in ann['segmentation'])
            # area is the area of the polygons' mask.
            assert ann['area'] == mask_utils.area(coco.annToRLE(ann)) > 0
            # bbox is the tight box of the polygons, inside the image.
            xs = np.concatenate([p[0::2] for p in ann['segmentation']])
            ys = np.concatenate([p[1::2] for p in ann['segmentation']])
            np.testing.assert_allclose(
                ann['bbox'],
                [xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()],
                atol=0.011,
            )
            assert xs.min() >= 0 and ys.min() >= 0
            assert xs.max() <= SIZE and ys.max() <= SIZE


def test_objects_occlude_but_visible_masks_do_not_overlap(toy):
    coco = COCO(toy['val']['ann_file'])
    overlapping_boxes = 0
    for img_id in coco.getImgIds():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        for a, b in combinations(anns, 2):
            box_iou = mask_utils.iou([a['bbox']], [b['bbox']], [0])[0, 0]
            overlapping_boxes += box_iou > 0
            # Each annotation is what is visible of its object: masks only
            # share boundary pixels.
            both = mask_utils.area(
                mask_utils.merge([coco.annToRLE(a), coco.annToRLE(b)], intersect=True)
            )
            assert both <= 0.02 * min(a['area'], b['area']) + 2
    assert overlapping_boxes > 0


def test_size_counts_match_coco_area_ranges(toy):
    coco = COCO(toy['val']['ann_file'])
    areas = np.array([a['area'] for a in coco.loadAnns(coco.getAnnIds())])
    assert toy['val']['areas'] == dict(
        small=int((areas < 32**2).sum()),
        medium=int(((areas >= 32**2) & (areas <= 96**2)).sum()),
        large=int((areas > 96**2).sum()),
    )
    assert min(toy['val']['areas'].values()) > 0


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    runs = [
        generate_toy_coco(str(tmp_path / name), num_train=2, num_val=1, image_size=SIZE, seed=seed)
        for name, seed in (('a', 7), ('b', 7), ('c', 8))
    ]

    def read(info, split, name=None):
        path = info[split]['ann_file'] if name is None else osp.join(info[split]['img_dir'], name)
        with open(path, 'rb') as f:
            return f.read()

    for split in ('train', 'val'):
        assert read(runs[0], split) == read(runs[1], split)
        assert read(runs[0], split) != read(runs[2], split)
        files = [i['file_name'] for i in json.loads(read(runs[0], split))['images']]
        for name in files:
            assert read(runs[0], split, name) == read(runs[1], split, name)


@pytest.mark.parametrize(
    'kwargs',
    [
        dict(image_size=175),
        dict(image_size=192.0),
        dict(num_train=0),
        dict(num_val=-1),
        dict(max_objects=0),
    ],
)
def test_bad_arguments_raise_value_error(tmp_path, kwargs):
    with pytest.raises(ValueError):
        generate_toy_coco(str(tmp_path), **kwargs)


def test_mmdet_coco_dataset_reads_it_with_toy_config_metainfo(toy):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(REPO, 'configs/toy/_base_/datasets/toy-coco_instance.py'))
    dataset_cfg = cfg.train_dataloader.dataset
    assert tuple(dataset_cfg.metainfo['classes']) == TOY_CLASSES
    dataset_cfg.pop('type')
    dataset_cfg.data_root = osp.dirname(osp.dirname(toy['val']['ann_file']))
    dataset = CocoDataset(**dataset_cfg)
    assert len(dataset) == 3
    assert dataset.metainfo['classes'] == TOY_CLASSES
    sample = dataset[0]
    gt = sample['data_samples'].gt_instances
    num_objects = len(COCO(toy['train']['ann_file']).getAnnIds(imgIds=1))
    assert len(gt) == num_objects and gt.masks.masks.shape[0] == num_objects
    # Resize(scale=(128, 128), keep_ratio=True) of a 176 px image.
    assert tuple(sample['inputs'].shape) == (3, 128, 128)
