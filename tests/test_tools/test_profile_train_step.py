"""tools/analysis_tools/profile_train_step.py times a toy detector's step (no timing checked)."""

import pytest

from toy_coco import generate_toy_coco


@pytest.mark.slow
def test_profile_train_step_prints_each_part(run_python, tmp_path):
    generate_toy_coco(str(tmp_path), num_train=2, num_val=1, image_size=176)
    result = run_python(
        'tools/analysis_tools/profile_train_step.py',
        'configs/toy/faster-rcnn_sa-r50_fpn_8e_toy-shapes.py',
        '--iters',
        '2',
        '--warmup',
        '1',
        '--ops',
        '--cfg-options',
        f'train_dataloader.dataset.data_root={tmp_path}/',
        'train_dataloader.num_workers=0',
        'train_dataloader.batch_size=1',
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if 'mean of 2 training steps' in line)
    assert 'vector extensions' in lines[header - 1]
    words = lines[header + 1].split()
    assert words[0::2] == ['data', 'preprocess', 'forward', 'backward', 'step', 'total']
    assert all(float(value) >= 0 for value in words[1::2])
    # --ops: the top operators, then sa_mmdet's own wherever they rank: the SA
    # op of every bottleneck and the RoIAlign op of FastSingleRoIExtractor
    start = next(i for i, line in enumerate(lines) if line.startswith("sa_mmdet's operators"))
    own = lines[start + 1 :]
    for op in ('sa_mmdet::shuffle_attention_forward', 'sa_mmdet::roi_align'):
        assert any(line.split()[:1] == [op] for line in own), op
