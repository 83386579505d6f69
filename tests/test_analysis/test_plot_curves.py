"""Reading mmengine's scalars.json and plotting training curves."""

import json

import mmcv
import pytest

from analysis_lib.training_log import find_scalars, read_scalars

# The layout mmengine 0.10 writes for an mmdet 3.3 run (from a real toy run, shortened).
LINES = [
    {'lr': 4e-4, 'loss': 1.73, 'loss_cls': 0.87, 'time': 18.0, 'epoch': 1, 'iter': 4, 'step': 4},
    {'lr': 1e-3, 'loss': 1.37, 'loss_cls': 0.77, 'time': 31.8, 'epoch': 1, 'iter': 8, 'step': 8},
    {'coco/bbox_mAP': 0.004, 'coco/bbox_mAP_50': 0.019, 'data_time': 0.08, 'time': 13.3, 'step': 1},
    {'lr': 1e-3, 'loss': 1.25, 'loss_cls': 0.63, 'time': 10.5, 'epoch': 2, 'iter': 12, 'step': 12},
    {'coco/bbox_mAP': 0.016, 'coco/bbox_mAP_50': 0.051, 'data_time': 0.04, 'time': 5.2, 'step': 2},
]


def write_run(work_dir, timestamp, lines=LINES):
    vis_data = work_dir / timestamp / 'vis_data'
    vis_data.mkdir(parents=True)
    (vis_data / 'scalars.json').write_text(''.join(json.dumps(line) + '\n' for line in lines))
    return str(vis_data / 'scalars.json')


def test_read_scalars_splits_training_and_validation(tmp_path):
    log = read_scalars(write_run(tmp_path, '20240101_000000'))
    assert log.by_epoch
    assert log.train['loss'] == [(4, 1.73), (8, 1.37), (12, 1.25)]
    assert log.train['lr'] == [(4, 4e-4), (8, 1e-3), (12, 1e-3)]
    assert 'epoch' not in log.train and 'iter' not in log.train
    # Validation lines are keyed by epoch; their timing keys are not training scalars.
    assert log.val == {
        'coco/bbox_mAP': [(1, 0.004), (2, 0.016)],
        'coco/bbox_mAP_50': [(1, 0.019), (2, 0.051)],
    }
    assert log.train['time'] == [(4, 18.0), (8, 31.8), (12, 10.5)]


def test_find_scalars_takes_the_latest_run_of_a_work_dir(tmp_path):
    write_run(tmp_path, '20240101_000000')
    latest = write_run(tmp_path, '20240102_000000')
    assert find_scalars(str(tmp_path)) == latest
    assert find_scalars(str(tmp_path / '20240102_000000')) == latest
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        find_scalars(str(tmp_path / 'nothing'))
    # A JSON-lines file without mmengine's "step" is refused.
    other = tmp_path / 'other.json'
    other.write_text('{"loss": 1.0}\n')
    with pytest.raises(ValueError, match='step'):
        read_scalars(str(other))


def test_tool_plots_runs_side_by_side(tmp_path, import_tool):
    tool = import_tool('tools/analysis_tools/plot_curves.py')
    sa = write_run(tmp_path / 'sa', '20240101_000000')
    plain = write_run(tmp_path / 'plain', '20240101_000000')
    out = str(tmp_path / 'curves.png')
    written = tool.main([str(tmp_path / 'sa'), plain, '--labels', 'SA-R50', 'R50', '--out', out])
    assert written == out
    assert mmcv.imread(out).shape[2] == 3
    assert tool.default_metrics([read_scalars(sa)]) == ['coco/bbox_mAP']
    # Metrics no run logged are named, with what they logged.
    with pytest.raises(KeyError, match='coco/segm_mAP'):
        tool.main([sa, '--metrics', 'coco/segm_mAP', '--out', out])
    # A Mask R-CNN run next to one without masks: segm AP is drawn for the first only.
    mask_lines = [
        dict(line, **{'coco/segm_mAP': 0.01}) if 'coco/bbox_mAP' in line else line for line in LINES
    ]
    mask = read_scalars(write_run(tmp_path / 'mask', '20240101_000000', mask_lines))
    metrics = tool.default_metrics([mask, read_scalars(sa)])
    assert metrics == ['coco/bbox_mAP', 'coco/segm_mAP']
    fig = tool.plot_curves([mask, read_scalars(sa)], ['mask', 'sa'], ['loss'], metrics)
    assert [line.get_label() for line in fig.axes[1].lines] == [
        'mask coco/bbox_mAP',
        'mask coco/segm_mAP',
        'sa coco/bbox_mAP',
    ]
    # One label per run.
    with pytest.raises(ValueError, match='one per run'):
        tool.main([sa, plain, '--labels', 'SA-R50', '--out', out])
