"""Read the scalars an mmengine run logs (``<run>/vis_data/scalars.json``)."""

import glob
import json
import os.path as osp
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Tuple

Series = List[Tuple[int, float]]


@dataclass
class ScalarLog:
    """Training and validation scalars of one run.

    Attributes:
        train (dict[str, list[tuple[int, float]]]): ``(iteration, value)`` pairs per key
            (``loss``, ``lr``, ...).
        val (dict[str, list[tuple[int, float]]]): ``(step, value)`` pairs per metric
            (``coco/bbox_mAP``, ...); the step is the epoch if ``by_epoch``, else the iteration.
        by_epoch (bool): Whether training ran by epochs.
    """

    train: Dict[str, Series]
    val: Dict[str, Series]
    by_epoch: bool


def find_scalars(path: str) -> str:
    """The ``scalars.json`` of a run, given the file, a run dir or a work dir (its latest run).

    Args:
        path (str): ``.../scalars.json``, a run dir (``<work_dir>/<timestamp>``) or a work dir.

    Returns:
        str: Path of the ``scalars.json`` file.
    """
    if osp.isfile(path):
        return path
    candidates = sorted(
        glob.glob(osp.join(path, 'vis_data', 'scalars.json'))
        or glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json'))
    )
    if not candidates:
        raise FileNotFoundError(
            f'no scalars.json under {path}: pass a work dir of an mmengine run, one of its '
            '<timestamp> dirs, or <timestamp>/vis_data/scalars.json'
        )
    return candidates[-1]


def read_scalars(path: str) -> ScalarLog:
    """Read a run's scalars; validation lines are those with ``/`` in a key.

    Args:
        path (str): Anything :func:`find_scalars` takes.

    Returns:
        ScalarLog: The run's training and validation series.
    """
    train: Dict[str, Series] = defaultdict(list)
    val: Dict[str, Series] = defaultdict(list)
    by_epoch = False
    file = find_scalars(path)
    with open(file) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if 'step' not in record:
                raise ValueError(
                    f'{file}, line {number}: no "step" key; is this an '
                    'mmengine vis_data/scalars.json?'
                )
            step = record.pop('step')
            if any('/' in key for key in record):
                for key, value in record.items():
                    if '/' in key:
                        val[key].append((step, value))
                continue
            by_epoch = by_epoch or 'epoch' in record
            for key, value in record.items():
                if key not in ('epoch', 'iter'):
                    train[key].append((step, value))
    return ScalarLog(dict(train), dict(val), by_epoch)
