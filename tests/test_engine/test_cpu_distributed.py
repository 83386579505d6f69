"""Distributed training on CPU with gloo through CPUAwareRunner."""

import socket
from pathlib import Path

import pytest
import torch

from sa_mmdet.engine import CPUAwareDistributedDataParallel, CPUAwareRunner

TOY_RUNNER = Path(__file__).resolve().parents[1] / 'data' / 'toy_runner.py'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_cpu_ranks_finish_with_identical_weights(tmp_path, run_python):
    result = run_python(
        '-m',
        'torch.distributed.run',
        '--nproc_per_node=2',
        f'--master_port={free_port()}',
        TOY_RUNNER,
        tmp_path,
        '--launcher',
        'pytorch',
        env=dict(OMP_NUM_THREADS=1),
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f'rank{r}.pth') for r in (0, 1))
    for stage in ('initial', 'final'):
        assert rank0[stage].keys() == rank1[stage].keys() == {'linear.weight', 'linear.bias'}
        for key in rank0[stage]:
            torch.testing.assert_close(rank0[stage][key], rank1[stage][key], rtol=0, atol=0)
    # The ranks trained: the weights moved from their common start.
    assert not torch.equal(rank0['initial']['linear.bias'], rank0['final']['linear.bias'])


def test_cpu_wrapper_drops_device_ids_only_for_cpu_modules(monkeypatch, toy_runner):
    captured = {}

    def fake_ddp_init(self, module, device_ids=None, **kwargs):
        captured['device_ids'] = device_ids

    monkeypatch.setattr(torch.nn.parallel.DistributedDataParallel, '__init__', fake_ddp_init)
    CPUAwareDistributedDataParallel(toy_runner.ToyModel(), device_ids=[0])
    assert captured['device_ids'] is None


def test_runner_is_plain_runner_when_not_distributed(tmp_path, toy_runner):
    runner = toy_runner.make_runner(tmp_path, max_epochs=1, runner_cls=CPUAwareRunner)
    runner.train()
    assert not runner.distributed
    assert not isinstance(runner.model, torch.nn.parallel.DistributedDataParallel)


def test_unsupported_cpu_launcher_raises_value_error():
    from sa_mmdet.engine import init_cpu_process_group

    # Rule: CPU distributed training supports the pytorch and slurm launchers.
    with pytest.raises(ValueError, match="launcher='mpi'"):
        init_cpu_process_group('mpi')
