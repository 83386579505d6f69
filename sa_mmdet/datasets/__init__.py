from .checked_coco import CheckedCOCO, CheckedCocoDataset
from .coco_checks import check_coco_dict, read_coco_json

__all__ = ['CheckedCOCO', 'CheckedCocoDataset', 'check_coco_dict', 'read_coco_json']
