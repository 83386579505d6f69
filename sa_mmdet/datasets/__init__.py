"""Datasets, opt-in: ``custom_imports=dict(imports=['sa_mmdet', 'sa_mmdet.datasets'])``.

Registers :class:`CheckedCocoDataset`; the toy data generators are in ``tools/dataset_converters``.
"""

from .checked_coco import CheckedCOCO, CheckedCocoDataset
from .coco_checks import check_coco_dict, read_coco_json

__all__ = ['CheckedCOCO', 'CheckedCocoDataset', 'check_coco_dict', 'read_coco_json']
