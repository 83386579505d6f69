import os
import os.path as osp
import subprocess
import sys

import pytest

from sa_mmdet.datasets.toy_coco import generate_toy_coco

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.slow
def test_run_toy_trains_tests_and_paints_faster_rcnn(tmp_path):
    """tools/run_toy.sh end to end (mim train + mim test), 1 iteration.

    The script runs in a scratch root that links this checkout's tools/ and
    configs/, so data/ and work_dirs/ land in tmp_path.
    """
    for name in ('tools', 'configs'):
        os.symlink(osp.join(REPO, name), tmp_path / name)
    generate_toy_coco(str(tmp_path / 'data' / 'toy_coco'), num_train=2, num_val=2, image_size=176)
    env = dict(
        os.environ,
        SKIP_INSTALL='1',
        VIRTUAL_ENV=sys.prefix,
        PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get('PYTHONPATH')])),
    )
    tiny = [
        '--cfg-options',
        'train_cfg.max_epochs=1',
        'train_cfg.val_begin=2',
        'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0',
        'test_dataloader.num_workers=0',
        'default_hooks.checkpoint.save_optimizer=False',
        'model.test_cfg.rcnn.score_thr=0.0',
        'model.test_cfg.rcnn.max_per_img=20',
    ]
    cmd = [
        'bash',
        str(tmp_path / 'tools' / 'run_toy.sh'),
        'configs/toy/faster-rcnn_sa-r50_fpn_8e_toy-shapes.py',
        *tiny,
    ]
    run = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout + run.stderr

    work_dir = tmp_path / 'work_dirs' / 'faster-rcnn_sa-r50_fpn_8e_toy-shapes'
    checkpoint = work_dir / 'epoch_1.pth'
    assert checkpoint.is_file()
    assert f'[run_toy] testing {checkpoint}' in out
    # pycocotools' summary and mmdet's metrics were printed.
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in out
    assert 'coco/bbox_mAP' in out
    painted = sorted(p.name for p in work_dir.glob('*/show/*.jpg'))
    assert painted == ['000001.jpg', '000002.jpg']

    # A second run finds the data and the finished training and only tests.
    again = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert 'toy dataset found' in again.stdout
    assert 'skipping training' in again.stdout
