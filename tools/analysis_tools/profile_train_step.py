"""Time the parts of a detector's training step: data, preprocessing, forward, backward, step.

Builds the config's model, optimizer and train dataloader as mmengine's Runner
does, runs ``--warmup`` untimed steps, then prints the mean milliseconds of
each part over ``--iters`` steps (``step`` is the optimizer wrapper's: gradient
clipping and the update). With ``--ops`` it also prints torch.profiler's
table of the operators that took the most time, then the project's own
operators (``sa_mmdet::*``) wherever they rank. Numbers are for this machine;
the header names its CPU.

Example:
    python tools/analysis_tools/profile_train_step.py \\
        configs/toy/faster-rcnn_sa-r50_fpn_8e_toy-shapes.py --iters 30
"""

import argparse
import tempfile
import time
from typing import Optional, Sequence

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner
from torch.autograd.profiler_util import EventList

from analysis_lib.timing import describe_device

PARTS = ('data', 'preprocess', 'forward', 'backward', 'step')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='a detector config')
    parser.add_argument('--iters', type=int, default=30, help='timed steps')
    parser.add_argument('--warmup', type=int, default=5, help='untimed steps before those')
    parser.add_argument(
        '--ops', action='store_true', help="also print the top operators and sa_mmdet's own"
    )
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override settings')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    with tempfile.TemporaryDirectory() as work_dir:
        cfg.work_dir = work_dir
        runner = Runner.from_cfg(cfg)
        model = runner.model
        model.init_weights()
        model.train()
        optim_wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
        loader = runner.build_dataloader(cfg.train_dataloader)

        def batches():
            while True:
                yield from loader

        stream = batches()
        totals = dict.fromkeys(PARTS, 0.0)
        profiler = torch.profiler.profile() if args.ops else None
        for step in range(args.warmup + args.iters):
            if step == args.warmup and profiler is not None:
                profiler.start()
            marks = [time.perf_counter()]
            batch = next(stream)
            marks.append(time.perf_counter())
            data = model.data_preprocessor(batch, True)
            marks.append(time.perf_counter())
            loss, _ = model.parse_losses(model(**data, mode='loss'))
            marks.append(time.perf_counter())
            loss.backward()
            marks.append(time.perf_counter())
            optim_wrapper.step()
            optim_wrapper.zero_grad()
            marks.append(time.perf_counter())
            if step >= args.warmup:
                for part, start, end in zip(PARTS, marks, marks[1:]):
                    totals[part] += end - start
        if profiler is not None:
            profiler.stop()
    ms = {part: 1e3 * total / args.iters for part, total in totals.items()}
    print(f'{describe_device(torch.device("cpu"))}, threads {torch.get_num_threads()}')
    print(f'{args.config}: mean of {args.iters} training steps, ms')
    print('  '.join(f'{part} {value:.1f}' for part, value in ms.items()), end='  ')
    print(f'total {sum(ms.values()):.1f}')
    if profiler is not None:
        operators = profiler.key_averages()
        print(operators.table(sort_by='self_cpu_time_total', row_limit=15))
        own = EventList([op for op in operators if op.key.startswith('sa_mmdet::')])
        print("sa_mmdet's operators (percentages of these rows only):")
        print(own.table(sort_by='self_cpu_time_total') if own else '  none ran')
    return ms


if __name__ == '__main__':
    main()
