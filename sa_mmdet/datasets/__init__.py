"""Datasets, opt-in: ``custom_imports=dict(imports=['sa_mmdet', 'sa_mmdet.datasets'])``.

Registers :class:`CheckedCocoDataset`. The toy data generators
(:mod:`sa_mmdet.datasets.toy_coco`) are imported only by the tools that write
the data.
"""

from .checked_coco import CheckedCOCO, CheckedCocoDataset
from .coco_checks import check_coco_dict, read_coco_json

__all__ = ['CheckedCOCO', 'CheckedCocoDataset', 'check_coco_dict', 'read_coco_json']
