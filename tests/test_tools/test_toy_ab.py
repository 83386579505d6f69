"""tools/analysis_tools/toy_ab.py: its configs, its summary, and one tiny run per model."""

import json

import pytest

from toy_coco import generate_toy_coco

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
    # The baseline and SA from scratch. The other scratch models' configs train in
    # tests/test_configs/test_toy_configs.py; the *-pre ones first pretrain (test below, and
    # tests/test_tools/test_run_toy.py runs that pretraining).
    models = ['R50', 'SA']
    args = ['--epochs', '1', '--seeds', '0', '--models', *models]
    args += ['--work-dir', work_dir, '--data-root', data, *TINY]
    result = run_python('tools/analysis_tools/toy_ab.py', *args, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert out.count('Toy results do not predict COCO') == 2  # first and last
    lines = out.splitlines()
    title = next(i for i, line in enumerate(lines) if line.startswith('Toy A/B'))
    assert '1 epochs (1 iterations)' in lines[title]
    rows = [line.split() for line in lines[title + 3 : title + 3 + len(models)]]
    assert [row[0] for row in rows] == [tool.MODELS[model][0] for model in models]
    assert rows[0][-1] == '+0.0%'
    summary = json.loads((work_dir / 'toy_ab.json').read_text())
    assert [(r['model'], r['iterations']) for r in summary['results']] == [
        (model, 1) for model in models
    ]
    # A second call finds the finished runs and trains nothing.
    again = run_python('tools/analysis_tools/toy_ab.py', *args, timeout=600)
    assert again.returncode == 0 and again.stdout.count('done before') == len(models)


def test_pre_models_make_their_missing_checkpoint_with_the_toy_pretraining(
    tool, monkeypatch, tmp_path
):
    calls = []
    monkeypatch.setattr(tool.subprocess, 'run', lambda command, **kw: calls.append((command, kw)))
    monkeypatch.setattr(tool, 'REPO', str(tmp_path))  # where the checkpoints are looked for
    pre = ('R50-pre', 'SA-graft', 'SA-pre')
    for model in pre:
        tool.prepare_pretrained(tool.MODELS[model][1])
    assert [command for command, _ in calls] == [
        ['bash', str(tmp_path / 'tools' / 'run_toy.sh'), tool.MODELS[model][1]] for model in pre
    ]
    assert all(kw['env']['PRETRAIN_ONLY'] == '1' and kw['check'] for _, kw in calls)
    calls.clear()
    for model in pre:  # checkpoint there: nothing to make
        checkpoint = tool.Config.fromfile(tool.MODELS[model][1]).model.backbone.init_cfg.checkpoint
        (tmp_path / checkpoint).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / checkpoint).touch()
        tool.prepare_pretrained(tool.MODELS[model][1])
    tool.prepare_pretrained(tool.MODELS['SA'][1])  # from scratch: no checkpoint named
    assert calls == []


def test_arguments_are_checked(tool, capsys):
    assert tool.parse_args([]).models == ['R50', 'SA', 'SE', 'ECA', 'SGE']  # CBAM optional
    # Rule: at least one epoch and one thread.
    for bad in (['--epochs', '0'], ['--threads', '0']):
        with pytest.raises(SystemExit):
            tool.parse_args(bad)
        assert 'must be >= 1' in capsys.readouterr().err
