"""tools/analysis_tools/benchmark_sa.py runs end to end on tiny inputs (no timing checked)."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_benchmark_prints_every_table():
    env = dict(os.environ, PYTHONPATH=f'{ROOT}{os.pathsep}{os.environ.get("PYTHONPATH", "")}')
    result = subprocess.run(
        [sys.executable, str(ROOT / 'tools/analysis_tools/benchmark_sa.py'), '--threads', '1',
         '--repeats', '1', '--backbone-repeats', '1', '--warmup', '0', '--shapes', '2,256,6,8',
         '--backbone-input', '1,3,32,32'],
        capture_output=True, text=True, env=env, check=True)
    lines = result.stdout.splitlines()
    for title in ('ShuffleAttention layer', 'Saved for backward', 'bandwidth', 'Backbones'):
        assert any(title in line for line in lines), result.stdout
    # saved for backward: the fast layer keeps the input (+ per-channel statistics) only
    title = next(i for i, line in enumerate(lines) if line.startswith('Saved for backward'))
    row = lines[title + 3].split()  # title, header, rule, first shape
    assert row[0] == '2x256x6x8' and 1 <= float(row[-1].rstrip('x')) < 1.1
    for name in ('ResNet-50', 'SA-R50 reference', 'SA-R50 fast', 'SA-R50 fast folded'):
        assert any(line.lstrip().startswith(name) for line in lines)
