"""``CocoDataset`` that checks its annotation file before training starts."""

from functools import partial
from typing import List, Optional, Sequence

from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmdet.registry import DATASETS

from .coco_checks import check_coco_dict, read_coco_json


class CheckedCOCO(COCO):
    """mmdet's COCO API that reads the file once and checks it before indexing it.

    Args:
        annotation_file (str): Path of the annotation file.
        classes (Sequence[str]): Class names of the dataset config.
        img_dir (str, optional): Image folder to check. Defaults to None.
    """

    def __init__(
        self, annotation_file: str, classes: Sequence[str], img_dir: Optional[str] = None
    ) -> None:
        dataset = read_coco_json(annotation_file)
        check_coco_dict(dataset, annotation_file, classes, img_dir)
        super().__init__()
        self.dataset = dataset
        self.createIndex()
        self.img_ann_map = self.imgToAnns
        self.cat_img_map = self.catToImgs


@DATASETS.register_module()
class CheckedCocoDataset(CocoDataset):
    """``CocoDataset`` whose missing, malformed or mismatching annotations fail early.

    Before any annotation is parsed, the annotation file and the image files
    are checked by :func:`~sa_mmdet.datasets.coco_checks.check_coco_dict`;
    files on remote storage (``://``) load as mmdet loads them. Arguments are
    those of :class:`mmdet.datasets.CocoDataset`.
    """

    def load_data_list(self) -> List[dict]:
        img_dir = self.data_prefix.get('img')
        if '://' not in self.ann_file and not (img_dir and '://' in img_dir):
            self.COCOAPI = partial(CheckedCOCO, classes=self.metainfo['classes'], img_dir=img_dir)
        return super().load_data_list()
