"""Plot training loss and validation AP of one or more mmengine runs.

Reads ``<work_dir>/<timestamp>/vis_data/scalars.json`` (what mmengine's
``LocalVisBackend`` writes) and draws the training losses per iteration next
to the validation metrics per epoch, one line per run, with matplotlib only.

Example:
    python tools/analysis_tools/plot_curves.py \\
        work_dirs/faster-rcnn_sa-r50-pre_fpn_8e_toy-shapes \\
        work_dirs/faster-rcnn_sa-r50_fpn_8e_toy-shapes \\
        --labels pretrained scratch --out docs/toy_curves.png
    python tools/analysis_tools/plot_curves.py work_dirs/sa-resnet50_1xb64_toy-shapes-cls \\
        --metrics accuracy/top1 --out docs/toy_pretrain_curves.png
"""

import argparse
import os
import os.path as osp
from typing import List, Optional, Sequence

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from analysis_lib.training_log import ScalarLog, read_scalars


def default_metrics(logs: Sequence[ScalarLog]) -> List[str]:
    """The COCO APs (``coco/bbox_mAP``, ``coco/segm_mAP``) the runs logged."""
    keys = {key for log in logs for key in log.val}
    return sorted(key for key in keys if key.startswith('coco/') and key.endswith('_mAP'))


def plot_curves(
    logs: Sequence[ScalarLog],
    labels: Sequence[str],
    keys: Sequence[str],
    metrics: Sequence[str],
    title: Optional[str] = None,
) -> plt.Figure:
    """Training ``keys`` per iteration (left) and validation ``metrics`` (right).

    Args:
        logs (Sequence[ScalarLog]): Runs, from :func:`read_scalars`.
        labels (Sequence[str]): One legend label per run.
        keys (Sequence[str]): Training scalars, e.g. ``['loss']``.
        metrics (Sequence[str]): Validation scalars, e.g. ``['coco/bbox_mAP']``.
            Each must be logged by at least one run; runs without it are
            left out of its lines (a detector without masks has no segm AP).
        title (str, optional): Figure title. Defaults to None.

    Returns:
        plt.Figure: The figure.
    """
    missing = [k for k in keys if not any(k in log.train for log in logs)] + [
        m for m in metrics if not any(m in log.val for log in logs)
    ]
    if missing:
        raise KeyError(
            f'no run logged {missing}; they have training keys '
            f'{sorted(set().union(*(log.train for log in logs)))} and validation '
            f'keys {sorted(set().union(*(log.val for log in logs)))}'
        )
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for log, label in zip(logs, labels):  # a run without a key (no segm_mAP) has no line for it
        for key in filter(log.train.__contains__, keys):
            steps, values = zip(*log.train[key])
            left.plot(steps, values, linewidth=1, label=f'{label} {key}')
        for metric in filter(log.val.__contains__, metrics):
            steps, values = zip(*log.val[metric])
            right.plot(steps, values, marker='o', label=f'{label} {metric}')
    left.set_xlabel('iteration')
    left.set_title('training')
    if all(log.by_epoch for log in logs):
        right.set_xlabel('epoch')
        right.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        right.set_xlabel('iteration')
    right.set_title('validation')
    for ax in (left, right):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'logs', nargs='+', help='work dirs (latest run), run dirs or scalars.json files'
    )
    parser.add_argument('--labels', nargs='+', help='one label per run (default: dir names)')
    parser.add_argument(
        '--keys', nargs='+', default=['loss'], help='training scalars (default: loss)'
    )
    parser.add_argument(
        '--metrics', nargs='+', help='validation scalars (default: every coco/*_mAP logged)'
    )
    parser.add_argument('--title')
    parser.add_argument('--out', default='work_dirs/curves.png')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    plt.switch_backend('Agg')
    labels = args.labels or [osp.basename(osp.normpath(path)) for path in args.logs]
    if len(labels) != len(args.logs):
        raise ValueError(f'{len(labels)} labels for {len(args.logs)} runs: give one per run')
    logs = [read_scalars(path) for path in args.logs]
    metrics = args.metrics if args.metrics is not None else default_metrics(logs)
    fig = plot_curves(logs, labels, args.keys, metrics, args.title)
    os.makedirs(osp.dirname(args.out) or '.', exist_ok=True)
    fig.savefig(args.out, dpi=90)
    plt.close(fig)
    print(f'wrote {args.out}')
    return args.out


if __name__ == '__main__':
    main()
