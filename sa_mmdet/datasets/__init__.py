from .checked_coco import CheckedCOCO, CheckedCocoDataset
from .coco_checks import check_coco_dict, read_coco_json
from .toy_coco import CLASSES as TOY_CLASSES
from .toy_coco import draw_toy_image, generate_toy_coco

__all__ = [
    'CheckedCOCO', 'CheckedCocoDataset', 'check_coco_dict', 'read_coco_json', 'TOY_CLASSES',
    'draw_toy_image', 'generate_toy_coco'
]
