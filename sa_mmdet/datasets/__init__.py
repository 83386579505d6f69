from .toy_coco import CLASSES as TOY_CLASSES
from .toy_coco import draw_toy_image, generate_toy_coco

__all__ = ['TOY_CLASSES', 'draw_toy_image', 'generate_toy_coco']
