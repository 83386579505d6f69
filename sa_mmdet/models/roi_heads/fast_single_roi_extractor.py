"""mmdet's ``SingleRoIExtractor`` with sa_mmdet's RoIAlign."""

from typing import List

import torch.nn as nn
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from mmdet.utils import ConfigType

from sa_mmdet.ops.roi_align import RoIAlign


@MODELS.register_module()
class FastSingleRoIExtractor(SingleRoIExtractor):
    """``SingleRoIExtractor`` whose ``RoIAlign`` layers run ``sa_mmdet::roi_align``.

    A drop-in for ``type='SingleRoIExtractor'``, with the same arguments,
    features and gradients: ``type='RoIAlign'`` builds
    :class:`sa_mmdet.ops.RoIAlign`, multi-threaded on the CPU where mmcv's
    kernel runs on one thread (docs/performance.md). Other RoI layers are mmcv's.
    """

    def build_roi_layers(self, layer_cfg: ConfigType, featmap_strides: List[int]) -> nn.ModuleList:
        """Build one RoI layer per feature map stride, ``RoIAlign`` as sa_mmdet's."""
        cfg = layer_cfg.copy()
        if cfg.get('type') == 'RoIAlign':
            cfg['type'] = RoIAlign
        return super().build_roi_layers(cfg, featmap_strides)
