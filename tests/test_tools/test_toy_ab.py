"""tools/analysis_tools/toy_ab.py: its configs, its summary, and one tiny run per model."""

import json

import pytest

from sa_mmdet.datasets.toy_coco import generate_toy_coco

TINY = [
    '--cfg-options',
    'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0',
    'val_dataloader.num_workers=0',
    'default_hooks.logger.interval=1',  # log the one iteration
]


@pytest.fixture(scope='module')
def tool(import_tool):
    return import_tool('tools/analysis_tools/toy_ab.py')


def test_configs_cut_the_toy_schedule_and_set_seed_and_data(tool):
    cfg = tool.toy_ab_config(tool.MODELS['SE'][1], epochs=3, seed=7, data_root='/d/toy')
    assert cfg.model.backbone.type == 'AttentionResNet'
    assert (cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval) == (3, 3)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end) == ('LinearLR', 100)  # the toy warmup, unchanged
    assert (cosine.type, cosine.T_max, cosine.end) == ('CosineAnnealingLR', 3, 3)
    assert cfg.randomness.seed == 7
    assert cfg.default_hooks.checkpoint is None  # no checkpoints unless --keep-checkpoints
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.data_root == '/d/toy/'
    assert cfg.val_evaluator.ann_file == '/d/toy/annotations/instances_val.json'
    kept = tool.toy_ab_config(tool.MODELS['R50'][1], 2, 0, 'data/toy_coco', keep_checkpoints=True)
    assert kept.default_hooks.checkpoint.interval == 2
    assert kept.model.backbone.type == 'ResNet'


def test_summary_gives_mean_spread_and_time_against_resnet50(tool):
    results = [
        tool.RunResult('R50', 0, 0.10, 1.0, 200, 'a'),
        tool.RunResult('R50', 1, 0.14, 1.2, 200, 'b'),
        tool.RunResult('SA', 0, 0.20, 1.3, 200, 'c'),
        tool.RunResult('SA', 1, 0.16, 1.3, 200, 'd'),
    ]
    rows = tool.summary_rows(results)
    assert rows == [
        ['ResNet-50', '2', '0.120', '0.028', '0.100-0.140', '0.100 0.140', '1.100', '+0.0%'],
        ['SA-R50', '2', '0.180', '0.028', '0.160-0.200', '0.200 0.160', '1.300', '+18.2%'],
    ]
    assert tool.summary_rows(results[2:3])[0][3:4] == ['-']  # one seed: no spread


def test_unfinished_runs_have_no_result(tool, tmp_path):
    assert tool.read_result('SA', 0, str(tmp_path), epochs=2) is None
    run = tmp_path / '20260101_000000' / 'vis_data'
    run.mkdir(parents=True)
    lines = [dict(step=10, epoch=1, iter=10, time=1.5, loss=1.0)]
    (run / 'scalars.json').write_text('\n'.join(map(json.dumps, lines)))
    assert tool.read_result('SA', 0, str(tmp_path), epochs=2) is None  # not validated yet
    lines += [dict(step=20, epoch=2, iter=20, time=1.1), {'coco/bbox_mAP': 0.25, 'step': 2}]
    (run / 'scalars.json').write_text('\n'.join(map(json.dumps, lines)))
    result = tool.read_result('SA', 0, str(tmp_path), epochs=2)
    assert (result.bbox_map, result.seconds_per_iter, result.iterations) == (0.25, 1.1, 20)


@pytest.mark.slow
def test_one_iteration_per_model_prints_the_table(run_python, tmp_path, tool):
    data = tmp_path / 'toy_coco'
    generate_toy_coco(str(data), num_train=2, num_val=2, image_size=176)
    work_dir = tmp_path / 'ab'
    args = ['--epochs', '1', '--seeds', '0', '--models', *tool.MODELS]
    args += ['--work-dir', work_dir, '--data-root', data, *TINY]
    result = run_python('tools/analysis_tools/toy_ab.py', *args, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert out.count('Toy results do not predict COCO') == 2  # first and last
    lines = out.splitlines()
    title = next(i for i, line in enumerate(lines) if line.startswith('Toy A/B'))
    assert '1 epochs (1 iterations)' in lines[title]
    rows = [line.split() for line in lines[title + 3 : title + 9]]
    assert [row[0] for row in rows] == [name for name, _ in tool.MODELS.values()]
    assert rows[0][-1] == '+0.0%'
    summary = json.loads((work_dir / 'toy_ab.json').read_text())
    assert [(r['model'], r['iterations']) for r in summary['results']] == [
        (model, 1) for model in tool.MODELS
    ]
    # A second call finds the finished runs and trains nothing.
    again = run_python('tools/analysis_tools/toy_ab.py', *args, timeout=600)
    assert again.returncode == 0 and again.stdout.count('done before') == len(tool.MODELS)


def test_arguments_are_checked(tool, capsys):
    assert tool.parse_args([]).models == ['R50', 'SA', 'SE', 'ECA', 'SGE']  # CBAM optional
    # Rule: at least one epoch and one thread.
    for bad in (['--epochs', '0'], ['--threads', '0']):
        with pytest.raises(SystemExit):
            tool.parse_args(bad)
        assert 'must be >= 1' in capsys.readouterr().err
