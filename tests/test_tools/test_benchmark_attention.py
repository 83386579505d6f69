"""tools/analysis_tools/benchmark_attention.py runs end to end on tiny inputs."""

import pytest
import torch

TINY = ['--threads', '1', '--repeats', '1', '--backbone-repeats', '1', '--warmup', '0']
LAYERS = ['SA (ours)', 'SA (official form)', 'SE', 'ECA', 'SGE', 'CBAM']
BACKBONES = ['ResNet-50', 'SA-R50', 'SE-R50', 'ECA-R50', 'SGE-R50', 'CBAM-R50']


def table(out: str, title: str) -> list:
    """The rows of the table whose title starts with ``title``, split into cells."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 3 :]:  # title, header, rule
        if not line.strip():
            break
        rows.append(line.split())
    return rows


def test_layer_table_has_every_attention_and_its_saved_bytes(capsys, import_tool):
    tool = import_tool('tools/analysis_tools/benchmark_attention.py')
    threads = torch.get_num_threads()
    try:
        tool.main([*TINY, '--shapes', '2,256,6,8', '1,512,4,4', '--skip-backbone'])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert 'vector extensions' in out.splitlines()[0]
    rows = table(out, 'Attention layers')
    assert [row[0] for row in rows] == ['2x256x6x8'] * 6 + ['1x512x4x4'] * 6
    names = [' '.join(row[1:-5]) for row in rows]
    assert names == LAYERS * 2
    ratio = {name: float(row[-1].rstrip('x')) for name, row in zip(names, rows[:6])}
    # Every layer keeps its input for backward; ours keeps little else (per-channel statistics),
    # the official form of SA keeps its intermediate tensors too.
    assert all(value >= 1 for value in ratio.values())
    assert ratio['SA (ours)'] < 1.1 < ratio['SA (official form)']
    assert rows[0][-3] == '1.00x'  # fwd+bwd relative to SA (ours)


@pytest.mark.slow
def test_backbone_table_has_every_attention_resnet(run_python):
    result = run_python(
        'tools/analysis_tools/benchmark_attention.py',
        *TINY,
        '--shapes',
        '2,256,6,8',
        '--backbone-input',
        '1,3,64,64',  # SGE needs 2 positions in layer4: 64 / 32
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    rows = table(result.stdout, 'Backbones')
    assert [row[0] for row in rows] == BACKBONES
    assert rows[0][2] == rows[0][4] == rows[0][6] == '+0.0%'  # ResNet-50 is the reference
    # Each attention layer keeps its input for backward: more activations than ResNet-50.
    assert all(float(row[5]) > float(rows[0][5]) for row in rows[1:])
