"""A tiny mmengine model and runner for engine tests (checkpoints, DDP).

Run as a script (``python tests/data/toy_runner.py WORK_DIR --launcher pytorch``)
under torchrun to train it distributed; each rank then saves its initial and final
weights to ``WORK_DIR/rank{RANK}.pth``.
"""

import argparse
import os

import torch
import torch.nn as nn
from mmengine.dist import get_rank
from mmengine.model import BaseModel, is_model_wrapper
from mmengine.runner import Runner


class ToyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='tensor'):
        inputs, labels = torch.stack(inputs), torch.stack(labels)
        loss = ((self.linear(inputs).squeeze(1) - labels) ** 2).mean()
        return dict(loss=loss) if mode == 'loss' else self.linear(inputs)


class ToyDataset(torch.utils.data.Dataset):
    metainfo = dict(classes=('a', 'b'))

    def __len__(self):
        return 8

    def __getitem__(self, index):
        return dict(inputs=torch.full((2,), index / 8), labels=torch.tensor(index / 4))


def make_runner(work_dir, max_epochs, runner_cls=Runner, **kwargs):
    return runner_cls(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(),
            batch_size=2,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
        ),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2),
            dict(type='MultiStepLR', milestones=[1], by_epoch=True),
        ],
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        randomness=dict(seed=0),
        experiment_name=f'toy_{max_epochs}_{os.getpid()}_{id(kwargs)}',
        **kwargs,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('work_dir')
    parser.add_argument('--launcher', default='none')
    args = parser.parse_args()

    from sa_mmdet.engine import CPUAwareRunner

    runner = make_runner(
        args.work_dir, max_epochs=2, runner_cls=CPUAwareRunner, launcher=args.launcher
    )
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    runner.train()
    torch.save(
        dict(initial=initial, final=model.state_dict()),
        os.path.join(args.work_dir, f'rank{get_rank()}.pth'),
    )


if __name__ == '__main__':
    main()
