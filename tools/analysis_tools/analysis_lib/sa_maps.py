"""The gates of a detector's Shuffle Attention layers for one image, on the image."""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.apis import inference_detector
from mmengine.registry import DefaultScope
from torch import Tensor

from .sa_gates import find_sa_layers, sa_gates


@dataclass
class SALayerMaps:
    """What one SA layer gates, for one image.

    Attributes:
        name (str): The layer's qualified name, e.g. ``backbone.layer4.2.sa``.
        channels (int): Its channels ``C``.
        feature_size (tuple[int, int]): ``(h, w)`` of its input feature map.
        spatial (np.ndarray): Spatial gates averaged over each group's channels, resized to the
            image: shape (G, H, W).
        channel (np.ndarray): Channel gates, shape (G, k).
    """

    name: str
    channels: int
    feature_size: Tuple[int, int]
    spatial: np.ndarray
    channel: np.ndarray


def last_sa_layer_per_stage(model: nn.Module) -> List[str]:
    """Names of the last SA layer of each ResNet stage (``<stage>.<block>.sa``), in order."""
    return list({name.rsplit('.', 2)[0]: name for name in find_sa_layers(model)}.values())


def _on_image(maps: Tensor, valid: Tuple[float, float], size: Tuple[int, int]) -> np.ndarray:
    """Crop (G, h, w) maps to the part covering the image, resize to ``size``."""
    h, w = maps.shape[-2:]
    crop_h, crop_w = max(1, round(h * valid[0])), max(1, round(w * valid[1]))
    maps = maps[None, :, :crop_h, :crop_w]
    return F.interpolate(maps, size=size, mode='bilinear', align_corners=False)[0].numpy()


def sa_gate_maps(
    model: nn.Module, image: np.ndarray, layers: Optional[Sequence[str]] = None
) -> List[SALayerMaps]:
    """Run a detector on an image and return the gates of chosen SA layers.

    The image goes through the config's test pipeline (:func:`mmdet.apis.inference_detector`);
    hooks catch the SA layers' inputs and :func:`sa_gates` recomputes their gates.

    Args:
        model (nn.Module): A detector with SA layers and its config as ``cfg``.
        image (np.ndarray): A BGR image (H, W, 3), as ``mmcv.imread`` reads it.
        layers (Sequence[str], optional): SA layer names. None means
            :func:`last_sa_layer_per_stage`.

    Returns:
        list[SALayerMaps]: One per layer, in the order given.
    """
    sa_layers = find_sa_layers(model)
    if not sa_layers:
        raise ValueError(
            f'{type(model).__name__} has no Shuffle Attention layers: '
            'use a config whose backbone is SAResNet.'
        )
    layers = list(layers) if layers else last_sa_layer_per_stage(model)
    unknown = [name for name in layers if name not in sa_layers]
    if unknown:
        raise KeyError(f'no SA layers named {unknown}; valid names: {list(sa_layers)}')

    inputs: Dict[str, Tensor] = {}
    hooks = [
        sa_layers[name].register_forward_pre_hook(
            lambda module, args, name=name: inputs.update({name: args[0].detach().clone()})
        )
        for name in layers
    ]
    try:
        with DefaultScope.overwrite_default_scope(model.cfg.get('default_scope', 'mmdet')):
            sample = inference_detector(model, image)
    finally:
        for hook in hooks:
            hook.remove()

    img_h, img_w = sample.img_shape
    pad_h, pad_w = sample.batch_input_shape
    valid = (img_h / pad_h, img_w / pad_w)
    results = []
    with torch.no_grad():
        for name in layers:
            x = inputs[name][:1]
            gates = sa_gates(sa_layers[name], x)
            spatial = _on_image(gates.spatial[0].mean(1).float().cpu(), valid, image.shape[:2])
            channel = gates.channel[0].float().cpu().numpy()
            results.append(SALayerMaps(name, x.shape[1], tuple(x.shape[-2:]), spatial, channel))
    return results
