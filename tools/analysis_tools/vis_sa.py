"""Draw what Shuffle Attention looks at in a detector, for one or more images.

For each chosen SA layer (default: the last block of each stage) the figure
shows the spatial gate ``sigmoid(sw * GN(x) + sb)`` averaged over groups and
for the three groups whose gate varies most over the image, overlaid on the
image, and the channel gates ``sigmoid(cw * GAP(x) + cb)`` of every group.
One PNG per image is written to ``--out-dir``.

Example:
    python tools/analysis_tools/vis_sa.py \\
        --config configs/toy/faster-rcnn_sa-r50-pre_fpn_8e_toy-shapes.py \\
        --checkpoint work_dirs/faster-rcnn_sa-r50-pre_fpn_8e_toy-shapes/epoch_6.pth \\
        --img data/toy_coco/val/000001.jpg --out-dir docs
"""

import argparse
import io
import os
import os.path as osp
from typing import List, Optional, Sequence

import cv2
import matplotlib.pyplot as plt
import mmcv
import numpy as np
from matplotlib.ticker import MaxNLocator
from mmengine.logging import print_log
from mmengine.runner import find_latest_checkpoint
from PIL import Image

from analysis_lib import build_model_from_config, load_config
from analysis_lib.sa_gates import find_sa_layers
from analysis_lib.sa_maps import SALayerMaps, sa_gate_maps

DEFAULT_CONFIG = 'configs/toy/faster-rcnn_sa-r50_fpn_8e_toy-shapes.py'
GROUPS_SHOWN = 3


def demo_image(size: int = 192) -> np.ndarray:
    """A synthetic BGR image of four shapes on a shaded background."""
    ramp = np.linspace(60, 160, size, dtype=np.float32)
    image = np.stack(
        [
            ramp[None, :].repeat(size, 0),
            ramp[:, None].repeat(size, 1),
            np.full((size, size), 110, np.float32),
        ],
        axis=-1,
    ).astype(np.uint8)
    s = size / 192
    cv2.circle(image, (int(50 * s), int(55 * s)), int(30 * s), (60, 20, 220), -1)
    cv2.rectangle(
        image, (int(110 * s), int(25 * s)), (int(170 * s), int(85 * s)), (255, 130, 0), -1
    )
    triangle = (np.array([[45, 120], [90, 180], [10, 180]]) * s).astype(np.int32)
    cv2.fillPoly(image, [triangle], (80, 180, 0))
    angles = np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, 35, 14) * s
    star = np.stack([140 * s + radii * np.cos(angles), 145 * s - radii * np.sin(angles)], 1)
    cv2.fillPoly(image, [star.astype(np.int32)], (30, 170, 250))
    return image


def _color_range(gate: np.ndarray) -> dict:
    """Colour limits spanning the gate's values; a flat gate is shown flat."""
    low, high = float(gate.min()), float(gate.max())
    if high - low < 1e-4:
        low, high = low - 5e-3, high + 5e-3
    return dict(vmin=low, vmax=high)


def _colorbar(fig: plt.Figure, ax: plt.Axes, mappable) -> None:
    colorbar = fig.colorbar(mappable, ax=ax, fraction=0.046, pad=0.03)
    colorbar.formatter.set_useOffset(False)
    colorbar.ax.tick_params(labelsize=7)


def save_png(fig: plt.Figure, path: str, dpi: int) -> None:
    """Save a figure as a dithered 256-colour PNG, a third of the RGBA size."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=dpi)
    buffer.seek(0)
    with Image.open(buffer) as image:
        image = image.convert('RGB')
        palette = image.quantize(colors=256, method=Image.Quantize.FASTOCTREE)
        image.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG).save(
            path, optimize=True
        )


def plot_sa_maps(image: np.ndarray, maps: Sequence[SALayerMaps], title: str) -> plt.Figure:
    """One row per SA layer: spatial gates on the image, then channel gates.

    Args:
        image (np.ndarray): The BGR image the maps belong to.
        maps (Sequence[SALayerMaps]): From :func:`sa_gate_maps`.
        title (str): Figure title (config, weights, image).

    Returns:
        plt.Figure: The figure.
    """
    gray = mmcv.bgr2gray(image)  # leaves the colours to the gates
    cols = 2 + GROUPS_SHOWN
    fig, axes = plt.subplots(
        len(maps),
        cols,
        figsize=(3.1 * cols, 2.7 * len(maps)),
        squeeze=False,
        gridspec_kw=dict(width_ratios=[1] * (cols - 1) + [1.6]),
    )
    for row, layer in zip(axes, maps):
        groups, k = layer.channel.shape
        varying = np.argsort(-layer.spatial.reshape(groups, -1).std(1))[:GROUPS_SHOWN]
        panels = [(layer.spatial.mean(0), f'{layer.name}\nspatial gate, mean of {groups} groups')]
        panels += [(layer.spatial[g], f'spatial gate, group {g}') for g in varying]
        for ax, (gate, label) in zip(row, panels):
            ax.imshow(gray, cmap='gray', vmin=0, vmax=255)
            shown = ax.imshow(gate, cmap='jet', alpha=0.5, **_color_range(gate))
            _colorbar(fig, ax, shown)
            ax.set_title(label, fontsize=8)
            ax.axis('off')
        ax = row[-1]
        shown = ax.imshow(
            layer.channel.T,
            cmap='viridis',
            aspect='auto',
            interpolation='nearest',
            **_color_range(layer.channel),
        )
        _colorbar(fig, ax, shown)
        h, w = layer.feature_size
        ax.set_title(f'channel gates (C={layer.channels}, {h}x{w} map)', fontsize=8)
        ax.set_xlabel('group', fontsize=8)
        ax.set_ylabel(f'channel of half (k={k})', fontsize=8)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--config',
        default=DEFAULT_CONFIG,
        help='detector config with an SAResNet backbone (default: %(default)s)',
    )
    parser.add_argument(
        '--checkpoint',
        default='latest',
        help="weights; 'latest' (default) takes the last checkpoint in "
        "work_dirs/<config name>, 'none' keeps the initialisation",
    )
    parser.add_argument('--img', nargs='+', help='images (default: a synthetic image of shapes)')
    parser.add_argument(
        '--layers',
        nargs='+',
        help='SA layer names, e.g. backbone.layer3.5.sa (default: the last SA layer of each stage)',
    )
    parser.add_argument('--out-dir', default='work_dirs/vis_sa')
    parser.add_argument('--dpi', type=int, default=72)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    args = parse_args(argv)
    plt.switch_backend('Agg')
    if not osp.isfile(args.config):
        raise FileNotFoundError(
            f'config {args.config} not found: pass --config, e.g. {DEFAULT_CONFIG}'
        )
    if args.checkpoint == 'latest':
        work_dir = osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])
        checkpoint = find_latest_checkpoint(work_dir) if osp.isdir(work_dir) else None
        if checkpoint is None:
            print_log(
                f'no checkpoint of {args.config} in work_dirs: drawing the initialised model',
                level=30,
            )
    else:
        checkpoint = None if args.checkpoint == 'none' else args.checkpoint
    cfg = load_config(args.config)
    model = build_model_from_config(cfg, checkpoint)
    model.cfg = cfg
    sa_layers = find_sa_layers(model).values()
    if sa_layers and all(
        (layer.cweight == 0).all() and (layer.sweight == 0).all() for layer in sa_layers
    ):
        print_log(
            'SA layers are at their initialisation (cweight = sweight = 0): every gate '
            'is sigmoid(1). Pass trained weights with --checkpoint.',
            level=30,
        )
    weights = checkpoint or 'initialisation (no checkpoint)'

    images = (
        [(path, mmcv.imread(path)) for path in args.img]
        if args.img
        else [('synthetic shapes', demo_image())]
    )
    os.makedirs(args.out_dir, exist_ok=True)
    written = []
    for name, image in images:
        maps = sa_gate_maps(model, image, args.layers)
        title = (
            f'SA gates of {osp.basename(args.config)} | weights: {weights} | '
            f'image: {osp.basename(name)}'
        )
        fig = plot_sa_maps(image, maps, title)
        stem = osp.splitext(osp.basename(name))[0].replace(' ', '_')
        out = osp.join(args.out_dir, f'sa_gates_{stem}.png')
        save_png(fig, out, args.dpi)
        plt.close(fig)
        print_log(f'wrote {out}')
        written.append(out)
    return written


if __name__ == '__main__':
    main()
