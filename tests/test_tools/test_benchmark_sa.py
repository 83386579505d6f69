"""tools/analysis_tools/benchmark_sa.py runs end to end on tiny inputs (no timing checked)."""

import pytest


@pytest.mark.slow
def test_benchmark_prints_every_table(run_python):
    result = run_python(
        'tools/analysis_tools/benchmark_sa.py',
        '--threads',
        '1',
        '--repeats',
        '1',
        '--backbone-repeats',
        '1',
        '--warmup',
        '0',
        '--call-repeats',
        '1',
        '--shapes',
        '2,256,6,8',
        '--backbone-input',
        '1,3,32,32',
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert 'vector extensions' in lines[0]
    assert 'malloc: steady (freed memory kept)' in lines[1]
    titles = ('ShuffleAttention layer', 'Memory traffic', 'Saved for backward', 'Cost of one call')
    for title in (*titles, 'Backbones'):
        assert any(line.startswith(title) for line in lines), result.stdout
    # the layer table: official eager and compiled, ours (dense and expanded dy), pure PyTorch
    header = lines[
        next(i for i, line in enumerate(lines) if line.startswith('ShuffleAttention')) + 1
    ]
    columns = ('official fwd+bwd', 'compiled fwd+bwd', 'ours fwd+bwd', 'pytorch fwd+bwd')
    for column in (*columns, 'ours fwd+bwd, dy expanded'):
        assert column in header
    # saved for backward: ours keeps the input (+ per-channel statistics) only
    title = next(i for i, line in enumerate(lines) if line.startswith('Saved for backward'))
    row = lines[title + 3].split()  # title, header, rule, first shape
    assert row[0] == '2x256x6x8' and 1 <= float(row[-1].rstrip('x')) < 1.1
    for name in ('official', 'ours'):
        assert any(line.strip().startswith(f'{name}  ') for line in lines), result.stdout
    for name in ('ResNet-50', 'SA-R50 official', 'SA-R50 ours'):
        assert any(line.lstrip().startswith(name) for line in lines)
