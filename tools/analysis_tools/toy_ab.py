"""Toy A/B: ResNet-50 vs SA, SE, ECA, SGE (and CBAM) in the same toy Faster R-CNN.

Trains the toy Faster R-CNN (``configs/toy/faster-rcnn_sa-r50_fpn_8e_toy-shapes.py``
and its twins in ``configs/attention_baselines/toy/``, which switch only the
backbone) on the embedded toy shapes data, each model with each seed, on one
schedule, then prints a table of the final bbox mAP (mean and spread over the
seeds) and the time per training iteration.

TOY RESULTS DO NOT PREDICT COCO: a few hundred 128 px images of four shapes,
trained from scratch for a few epochs, with an mAP spread between seeds of the
order of the differences between models. The A/B shows that the backbones
train in one detector and what they cost per iteration; which attention is
better is the paper's claim on COCO (its Tables 3 and 4), not tested here.

Each run is ``tools/train.py`` in a process of its own, on the config written
to ``WORK_DIR/<model>_seed<seed>/config.py``; a finished run (its final
validation logged) is not trained again unless ``--retrain``. The schedule is
the toy one cut to ``--epochs``: the cosine decay ends at the last epoch,
validation runs once, after it, and no checkpoint is written unless
``--keep-checkpoints``. The data is generated first if missing
(``tools/dataset_converters/generate_toy_coco.py``), and so is the checkpoint a
``*-pre_*`` model starts from (``PRETRAIN_ONLY=1 tools/run_toy.sh CONFIG``: the
toy pretraining, then the checkpoint its ``init_cfg`` names).

Example:
    python tools/analysis_tools/toy_ab.py              # 10 runs of 200 iterations
    python tools/analysis_tools/toy_ab.py --threads 1  # on a machine shared with other jobs
    python tools/analysis_tools/toy_ab.py --models R50 SA CBAM --seeds 0 1 2 --epochs 4
    python tools/analysis_tools/toy_ab.py --models R50-pre SA-graft SA-pre --epochs 8
"""

import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from analysis_lib.table import FORMATS, format_table
from analysis_lib.training_log import read_scalars

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY = osp.join(REPO, 'configs', 'toy')
BASELINES = osp.join(REPO, 'configs', 'attention_baselines', 'toy')

#: The A/B's models: key -> (backbone as printed, config). Only the backbone differs.
MODELS = {
    'R50': ('ResNet-50', osp.join(BASELINES, 'faster-rcnn_r50_fpn_8e_toy-shapes.py')),
    'SA': ('SA-R50', osp.join(TOY, 'faster-rcnn_sa-r50_fpn_8e_toy-shapes.py')),
    'SE': ('SE-R50', osp.join(BASELINES, 'faster-rcnn_se-r50_fpn_8e_toy-shapes.py')),
    'ECA': ('ECA-R50', osp.join(BASELINES, 'faster-rcnn_eca-r50_fpn_8e_toy-shapes.py')),
    'SGE': ('SGE-R50', osp.join(BASELINES, 'faster-rcnn_sge-r50_fpn_8e_toy-shapes.py')),
    'CBAM': ('CBAM-R50', osp.join(BASELINES, 'faster-rcnn_cbam-r50_fpn_8e_toy-shapes.py')),
    # Three starts from toy pretraining of equal budget (the ImageNet question on the toy data).
    'R50-pre': (
        'R50 from R50-pre',
        osp.join(BASELINES, 'faster-rcnn_r50-pre_fpn_8e_toy-shapes.py'),
    ),
    'SA-graft': (
        'SA-R50 grafted from R50-pre',
        osp.join(TOY, 'faster-rcnn_sa-r50-graft-pre_fpn_8e_toy-shapes.py'),
    ),
    'SA-pre': (
        'SA-R50 from SA-R50-pre',
        osp.join(TOY, 'faster-rcnn_sa-r50-pre_fpn_8e_toy-shapes.py'),
    ),
}
DEFAULT_MODELS = ('R50', 'SA', 'SE', 'ECA', 'SGE')
METRIC = 'coco/bbox_mAP'
WARNING = (
    'Toy results do not predict COCO: a few hundred 128 px images of four shapes, trained for a '
    'few epochs; differences within the spread over seeds are noise.'
)


@dataclass
class RunResult:
    """One finished training run.

    Attributes:
        model (str): Key of :data:`MODELS`.
        seed (int): Random seed.
        bbox_map (float): Final ``coco/bbox_mAP`` on the toy val set.
        seconds_per_iter (float): Median of the logged training ``time``
            (seconds per iteration, averaged over the logging window), the
            first window left out.
        iterations (int): Training iterations run.
        work_dir (str): Where its config, logs and scalars are.
    """

    model: str
    seed: int
    bbox_map: float
    seconds_per_iter: float
    iterations: int
    work_dir: str


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--models',
        nargs='+',
        choices=list(MODELS),
        default=list(DEFAULT_MODELS),
        help=f'backbones to compare (default: {" ".join(DEFAULT_MODELS)}; CBAM is optional)',
    )
    parser.add_argument(
        '--seeds', nargs='+', type=int, default=[0, 1], help='random seeds (default: 0 1)'
    )
    parser.add_argument(
        '--epochs',
        type=int,
        default=2,
        help='epochs of 100 iterations per run (default: 2; the toy configs train 8, in ~10 min '
        'on 2 idle cores)',
    )
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='CPU threads per training process (OMP_NUM_THREADS; default: torch default). '
        '1 is faster on a machine shared with other jobs: idle threads then do not spin',
    )
    parser.add_argument('--work-dir', default='work_dirs/toy_ab', help='default: work_dirs/toy_ab')
    parser.add_argument(
        '--data-root', default='data/toy_coco', help='the toy data (default: data/toy_coco)'
    )
    parser.add_argument(
        '--retrain', action='store_true', help='train again runs that finished before'
    )
    parser.add_argument(
        '--keep-checkpoints', action='store_true', help='write the final checkpoint of each run'
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='more overrides for every run, as tools/train.py takes them',
    )
    parser.add_argument('--format', choices=FORMATS, default='text')
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f'--epochs must be >= 1, got {args.epochs}')
    if args.threads is not None and args.threads < 1:
        parser.error(f'--threads must be >= 1, got {args.threads}')
    return args


def toy_ab_config(
    config: str, epochs: int, seed: int, data_root: str, keep_checkpoints: bool = False
) -> Config:
    """A toy config cut to ``epochs``, with its seed and data root.

    Args:
        config (str): Path of a toy detector config.
        epochs (int): Training epochs; the cosine decay ends after the last,
            and validation runs once, after it.
        seed (int): ``randomness.seed``.
        data_root (str): Folder of the toy data (``annotations/``,
            ``train/``, ``val/``).
        keep_checkpoints (bool): Keep the checkpoint hook (it saves the last
            epoch); else no checkpoint is written. Defaults to False.

    Returns:
        Config: The config to train.
    """
    cfg = Config.fromfile(config)
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = epochs
    cosine = [s for s in cfg.param_scheduler if s.type == 'CosineAnnealingLR']
    if len(cosine) != 1:
        raise ValueError(
            f'{config}: expected one CosineAnnealingLR in param_scheduler to cut to {epochs} '
            f'epochs, found {len(cosine)}; toy_ab.py takes the toy configs (configs/toy/).'
        )
    cosine[0].update(T_max=epochs, end=epochs)
    if keep_checkpoints:
        cfg.default_hooks.checkpoint.interval = epochs
    else:
        cfg.default_hooks.checkpoint = None
    cfg.randomness = dict(seed=seed, deterministic=False)
    root = data_root.rstrip('/') + '/'
    cfg.data_root = root
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
    for evaluator in ('val_evaluator', 'test_evaluator'):
        cfg[evaluator].ann_file = root + 'annotations/instances_val.json'
    return cfg


def read_result(model: str, seed: int, work_dir: str, epochs: int) -> Optional[RunResult]:
    """The result of a finished run in ``work_dir``, None if there is none.

    Args:
        model (str): Key of :data:`MODELS`.
        seed (int): Its seed.
        work_dir (str): The run's work dir.
        epochs (int): Epochs the run must have validated after.

    Returns:
        RunResult, optional: None if no run in ``work_dir`` logged its
        validation after ``epochs`` epochs.
    """
    try:
        log = read_scalars(work_dir)
    except FileNotFoundError:
        return None
    final = [value for step, value in log.val.get(METRIC, []) if step == epochs]
    times = [value for _, value in log.train.get('time', [])]
    if not final or not times:
        return None
    iterations = max(step for step, _ in log.train['time'])
    return RunResult(
        model,
        seed,
        final[-1],
        statistics.median(times[1:] or times),
        iterations,
        work_dir,
    )


def prepare_pretrained(config: str) -> None:
    """Make the checkpoint ``config``'s backbone starts from, if it names one that is missing."""
    init_cfg = Config.fromfile(config).model.backbone.get('init_cfg') or {}
    checkpoint = init_cfg.get('checkpoint')
    if not checkpoint or osp.isfile(osp.join(REPO, checkpoint)):
        return
    print(f'[toy_ab] making {checkpoint}: tools/run_toy.sh {config} (PRETRAIN_ONLY=1)', flush=True)
    env = dict(os.environ, SKIP_INSTALL='1', PRETRAIN_ONLY='1')
    env['VIRTUAL_ENV'] = osp.dirname(osp.dirname(sys.executable))
    subprocess.run(['bash', osp.join(REPO, 'tools', 'run_toy.sh'), config], env=env, check=True)


def train(args: argparse.Namespace, model: str, seed: int) -> RunResult:
    """Train one model with one seed (unless done before) and read its result."""
    work_dir = osp.join(args.work_dir, f'{model}_seed{seed}')
    if not args.retrain:
        result = read_result(model, seed, work_dir, args.epochs)
        if result is not None:
            print(f'[toy_ab] {model} seed {seed}: done before in {work_dir}', flush=True)
            return result
    prepare_pretrained(MODELS[model][1])
    os.makedirs(work_dir, exist_ok=True)
    config = osp.join(work_dir, 'config.py')
    cfg = toy_ab_config(MODELS[model][1], args.epochs, seed, args.data_root, args.keep_checkpoints)
    cfg.dump(config)
    command = [sys.executable, osp.join(REPO, 'tools', 'train.py'), config]
    command += ['--work-dir', work_dir]
    if args.cfg_options:
        command += ['--cfg-options', *args.cfg_options]
    print(f'[toy_ab] {model} seed {seed}: training, log in {work_dir}', flush=True)
    start = time.perf_counter()
    env = dict(os.environ)
    if args.threads:
        env['OMP_NUM_THREADS'] = str(args.threads)
    with open(osp.join(work_dir, 'toy_ab_train.log'), 'w') as log:
        run = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    if run.returncode != 0:
        raise RuntimeError(
            f'training {model} seed {seed} failed (exit {run.returncode}); see '
            f'{osp.join(work_dir, "toy_ab_train.log")}'
        )
    result = read_result(model, seed, work_dir, args.epochs)
    if result is None:
        raise RuntimeError(f'{work_dir}: training ended without logging {METRIC}')
    print(
        f'[toy_ab] {model} seed {seed}: bbox mAP {result.bbox_map:.3f}, '
        f'{result.seconds_per_iter:.2f} s/iter, {time.perf_counter() - start:.0f} s',
        flush=True,
    )
    return result


def summary_rows(results: Sequence[RunResult]) -> List[List[str]]:
    """Table rows: one per model, mAP mean and spread over seeds, time per iteration."""
    by_model: Dict[str, List[RunResult]] = {}
    for result in results:
        by_model.setdefault(result.model, []).append(result)
    base = by_model.get('R50')
    base_time = statistics.mean(r.seconds_per_iter for r in base) if base else None
    rows = []
    for model, runs in by_model.items():
        maps = [r.bbox_map for r in runs]
        seconds = statistics.mean(r.seconds_per_iter for r in runs)
        rows.append(
            [
                MODELS[model][0],
                str(len(runs)),
                f'{statistics.mean(maps):.3f}',
                f'{statistics.stdev(maps):.3f}' if len(maps) > 1 else '-',
                f'{min(maps):.3f}-{max(maps):.3f}',
                ' '.join(f'{m:.3f}' for m in maps),
                f'{seconds:.3f}',
                f'{100 * (seconds / base_time - 1):+.1f}%' if base_time else '-',
            ]
        )
    return rows


HEADER = (
    'backbone',
    'seeds',
    'bbox mAP mean',
    'std',
    'min-max',
    'per seed',
    's/iter',
    'vs ResNet-50',
)


def main(argv: Optional[Sequence[str]] = None) -> List[RunResult]:
    args = parse_args(argv)
    print(f'[toy_ab] {WARNING}', flush=True)
    if not osp.isfile(osp.join(args.data_root, 'annotations', 'instances_val.json')):
        print(f'[toy_ab] generating the toy data in {args.data_root}', flush=True)
        generate = osp.join(REPO, 'tools', 'dataset_converters', 'generate_toy_coco.py')
        subprocess.run([sys.executable, generate, args.data_root], check=True)
    start = time.perf_counter()
    results = [train(args, model, seed) for model in args.models for seed in args.seeds]
    iterations = sorted({r.iterations for r in results})
    title = (
        f'Toy A/B: Faster R-CNN on the toy shapes, {args.epochs} epochs '
        f'({"/".join(map(str, iterations))} iterations), seeds '
        f'{" ".join(map(str, args.seeds))}; final bbox mAP on the toy val set; '
        's/iter = median training time per iteration'
    )
    print('\n' + format_table(HEADER, summary_rows(results), args.format, title=title))
    print(f'\n{WARNING}')
    print(f'[toy_ab] {len(results)} runs, {(time.perf_counter() - start) / 60:.1f} min in all')
    with open(osp.join(args.work_dir, 'toy_ab.json'), 'w') as f:
        json.dump(dict(args=vars(args), results=[asdict(r) for r in results]), f, indent=1)
    return results


if __name__ == '__main__':
    main()
