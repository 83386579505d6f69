"""Resume after kill -9 (or of nothing, or of a damaged checkpoint) and CPU DDP of the toy
Faster R-CNN, through `mim train`."""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from toy_coco import generate_toy_coco

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / 'tests' / 'data'
CONFIG = REPO / 'configs' / 'toy' / 'faster-rcnn_sa-r50_fpn_8e_toy-shapes.py'

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory):
    """The toy Faster R-CNN on 4 training images, 2 iterations per epoch, 2 epochs."""
    root = tmp_path_factory.mktemp('toy_coco')
    generate_toy_coco(str(root), num_train=4, num_val=2, image_size=176, seed=0)
    path = root / 'tiny.py'
    path.write_text(f"""
_base_ = '{CONFIG}'
custom_imports = dict(
    imports=['sa_mmdet', 'sa_mmdet.datasets', 'sa_mmdet.engine', 'engine_test_hooks'],
    allow_failed_imports=False)
train_dataloader = dict(batch_size=2, num_workers=1, dataset=dict(data_root='{root}/'))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
train_cfg = dict(max_epochs=2, val_interval=100)
param_scheduler = [dict(type='MultiStepLR', milestones=[1], by_epoch=True)]
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2), logger=dict(interval=1))
randomness = dict(seed=0, deterministic=True)
""")
    return path


def with_hook(config, name, hook: dict):
    """``config`` with ``hook`` added to its custom hooks."""
    # the test hooks import in the training process (PYTHONPATH=tests/data), not here
    hooks = [*Config.fromfile(config, import_custom_modules=False).get('custom_hooks', []), hook]
    path = config.parent / f'{name}.py'
    path.write_text(f"_base_ = './{config.name}'\ncustom_hooks = {hooks!r}\n")
    return path


@pytest.fixture
def mim_train(run_python):

    def train(config, work_dir, *args):
        return run_python(
            '-m',
            'mim',
            'train',
            'mmdet',
            config,
            '--work-dir',
            work_dir,
            *args,
            env=dict(PYTHONPATH=DATA, OMP_NUM_THREADS='1'),
        )

    return train


def final_weights(work_dir):
    # weights-only loading, torch's default: the checkpoint hook keeps the file plain data
    return torch.load(work_dir / 'epoch_2.pth')['state_dict']


def test_resume_after_kill_equals_uninterrupted_run(tiny_config, tmp_path, mim_train):
    straight, killed = tmp_path / 'straight', tmp_path / 'killed'
    # --resume with nothing to resume: a warning, then the same run as without --resume
    result = mim_train(tiny_config, straight, '--gpus', 0, '--resume')
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'Nothing to resume: {straight} has no last_checkpoint file' in result.stdout

    kill_config = with_hook(tiny_config, 'kill', dict(type='KillAtIterHook', iteration=3))
    result = mim_train(kill_config, killed, '--gpus', 0)
    assert result.returncode == -9  # the job got SIGKILL in epoch 2
    assert (killed / 'epoch_1.pth').exists() and not (killed / 'epoch_2.pth').exists()

    result = mim_train(tiny_config, killed, '--gpus', 0, '--resume')
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'resumed epoch: 1, iter: 2' in result.stdout + result.stderr

    expected, resumed = final_weights(straight), final_weights(killed)
    assert expected.keys() == resumed.keys()
    for key in expected:
        torch.testing.assert_close(resumed[key], expected[key], rtol=0, atol=0, msg=key)


def test_resume_of_a_damaged_checkpoint_says_what_to_resume_instead(
    tiny_config, tmp_path, mim_train
):
    previous, damaged = tmp_path / 'epoch_1.pth', tmp_path / 'epoch_2.pth'
    torch.save(dict(meta=dict(epoch=1)), previous)
    torch.save(dict(meta=dict(epoch=2), state_dict=dict(w=torch.zeros(1000))), damaged)
    damaged.write_bytes(damaged.read_bytes()[:2000])  # as a write cut off by a crash
    (tmp_path / 'last_checkpoint').write_text(str(damaged))
    result = mim_train(tiny_config, tmp_path, '--gpus', 0, '--resume')
    assert result.returncode != 0
    assert f'CheckpointFileError: Resume from {previous} with `--resume {previous}`' in (
        result.stderr
    )
    assert f"'{damaged}' is damaged or truncated" in result.stderr
    assert 'Epoch(train)' not in result.stdout + result.stderr


def test_two_cpu_ranks_train_the_detector_to_identical_weights(tiny_config, tmp_path, mim_train):
    config = with_hook(tiny_config, 'ddp', dict(type='SaveRankParamsHook', out_dir=str(tmp_path)))
    result = mim_train(config, tmp_path / 'work_dir', '--launcher', 'pytorch', '--gpus', 2)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f'rank{r}.pth') for r in (0, 1))
    assert rank0.keys() == rank1.keys() and any('.sa.' in k for k in rank0)
    for key in rank0:
        torch.testing.assert_close(rank0[key], rank1[key], rtol=0, atol=0, msg=key)


def test_missing_data_fails_before_training(tmp_path, mim_train):
    result = mim_train(
        CONFIG,
        tmp_path,
        '--gpus',
        0,
        '--cfg-options',
        f'train_dataloader.dataset.data_root={tmp_path}/nowhere/',
    )
    assert result.returncode != 0
    assert 'does not exist: check `data_root` and `ann_file`' in result.stderr
    assert 'Epoch(train)' not in result.stdout + result.stderr
