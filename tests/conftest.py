"""Shared helpers of the tests, as fixtures.

- ``run_python`` / ``run_converter`` / ``import_tool``: run this checkout's
  command-line tools with the test's Python and this checkout's sa_mmdet (the tools'
  libraries, ``analysis_lib`` and the toy data generators, are importable as the tools
  beside them import them);
- ``sa_reference``: an independent, plainly written Shuffle Attention (the
  paper's equations channel by channel, no reshapes, so it shares no code path
  with the package), and ``randomize_sa`` to give SA parameters random values;
- ``toy_runner``: a tiny mmengine model and runner (``tests/data/toy_runner.py``);
- ``official_sa_resnet``: an independent torchvision-layout SA-ResNet, as the
  official SA-Net code builds it (``tests/data/official_sa_resnet.py``);
- ``sa_mmdet_pretrain`` / ``pretrain_env``: mmpretrain imported in-process, and the
  environment of a subprocess that imports it (the torchvision stand-in of
  ``tools/stack_shims`` where torchvision is missing, and only for that);
- ``same_file_as``: another name of a file (the same path, a hard or a symbolic link);
- ``unreadable_checkpoint``: an empty, truncated, text or folder "checkpoint",
  with the words of the error that must name what is wrong with it.

Files under ``tests/data/`` are loaded by path or run as scripts, never
imported as top-level modules.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable, Optional, Tuple

import pytest
import torch
from torch import Tensor

# pytest-xdist (pyproject.toml's -n auto): N single-threaded workers run the suite faster than
# one process with N torch threads (most tests are small); commands the tests start inherit it.
if 'PYTEST_XDIST_WORKER_COUNT' in os.environ:
    _threads = max(1, (os.cpu_count() or 1) // int(os.environ['PYTEST_XDIST_WORKER_COUNT']))
    os.environ['OMP_NUM_THREADS'] = str(_threads)
    torch.set_num_threads(_threads)


#: Folders whose tests are all ``slow``: exports, the tools' command lines and benchmarks. The
#: inner loop (``-m "not slow"``) keeps the operator, the layers, the backbones and the configs.
SLOW_FOLDERS = ('test_analysis', 'test_deploy', 'test_tools')


def pytest_itemcollected(item) -> None:
    """Mark every test of :data:`SLOW_FOLDERS` ``slow``."""
    if Path(item.path).relative_to(REPO / 'tests').parts[0] in SLOW_FOLDERS:
        item.add_marker(pytest.mark.slow)


def pytest_collection_modifyitems(config, items) -> None:
    """Under xdist, slow tests first, so that the workers end on short tests together
    instead of one worker ending on a minute-long test alone."""
    if 'PYTEST_XDIST_WORKER' in os.environ:
        items.sort(key=lambda item: item.get_closest_marker('slow') is None)


REPO = Path(__file__).resolve().parents[1]
DATA = REPO / 'tests' / 'data'
STACK_SHIMS = REPO / 'tools' / 'stack_shims'
# the tools' libraries (tools/analysis_tools/analysis_lib, tools/dataset_converters/toy_*.py),
# importable as the tools beside them import them when run from their folder
TOOL_LIBRARIES = [str(REPO / 'tools' / name) for name in ('analysis_tools', 'dataset_converters')]
sys.path[:0] = TOOL_LIBRARIES


def _run_python(
    *args, timeout: int = 600, env: Optional[dict] = None
) -> subprocess.CompletedProcess:
    """``python ARGS`` from the repository root, importing this checkout's sa_mmdet
    (and the tools' libraries).

    The command runs in a session of its own, so a test may kill its process
    group. A ``PYTHONPATH`` entry of ``env`` goes before the repository.
    """
    extra = {k: str(v) for k, v in (env or {}).items()}
    path = [
        extra.pop('PYTHONPATH', ''),
        str(REPO),
        *TOOL_LIBRARIES,
        os.environ.get('PYTHONPATH', ''),
    ]
    full_env = dict(os.environ, **extra, PYTHONPATH=os.pathsep.join(filter(None, path)))
    return subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        start_new_session=True,
    )


def _import_file(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _import_tool(path: str) -> ModuleType:
    """Import a tool script, e.g. ``'tools/analysis_tools/complexity.py'``, to call in-process."""
    return _import_file(REPO / path, Path(path).stem + '_tool')


def _shuffle_attention_reference(
    x: Tensor,
    cweight: Tensor,
    cbias: Tensor,
    sweight: Tensor,
    sbias: Tensor,
    gn_weight: Tensor,
    gn_bias: Tensor,
    groups: int,
    eps: float = 1e-5,
) -> Tensor:
    """SA-Net's Shuffle Attention for an (N, C, H, W) input, channel by channel.

    Group ``g`` owns channels ``[2 * g * k, 2 * (g + 1) * k)`` with ``k = C / 2G``;
    its first ``k`` channels take channel attention, the last ``k`` spatial
    attention. Output channel ``i`` is pre-shuffle channel
    ``(i % 2) * C / 2 + i // 2`` (channel shuffle with 2 groups).
    """
    n, c, h, w = x.shape
    k = c // (2 * groups)
    cweight, cbias, sweight, sbias = (p.flatten() for p in (cweight, cbias, sweight, sbias))
    attended = []
    for g in range(groups):
        for j in range(k):
            xc = x[:, 2 * g * k + j]
            gap = xc.mean(dim=(1, 2), keepdim=True)
            attended.append(xc * torch.sigmoid(cweight[j] * gap + cbias[j]))
        for j in range(k):
            xs = x[:, 2 * g * k + k + j]
            mean = xs.mean(dim=(1, 2), keepdim=True)
            var = ((xs - mean) ** 2).mean(dim=(1, 2), keepdim=True)
            normed = (xs - mean) / torch.sqrt(var + eps) * gn_weight[j] + gn_bias[j]
            attended.append(xs * torch.sigmoid(sweight[j] * normed + sbias[j]))
    return torch.stack([attended[(i % 2) * (c // 2) + i // 2] for i in range(c)], dim=1)


def _sa_reference(sa: torch.nn.Module, x: Tensor) -> Tensor:
    """:func:`_shuffle_attention_reference` with the parameters of an SA layer."""
    return _shuffle_attention_reference(
        x,
        sa.cweight,
        sa.cbias,
        sa.sweight,
        sa.sbias,
        sa.gn.weight,
        sa.gn.bias,
        sa.groups,
        sa.gn.eps,
    )


def _randomize_sa(module: torch.nn.Module, generator: torch.Generator) -> None:
    """Give every parameter of ``module`` a random value (the init makes SA's gates trivial)."""
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator, dtype=param.dtype))


@pytest.fixture(scope='session')
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope='session')
def run_python() -> Callable[..., subprocess.CompletedProcess]:
    return _run_python


@pytest.fixture(scope='session')
def run_converter() -> Callable[..., subprocess.CompletedProcess]:
    """``tools/model_converters/sanet2mmdet.py ARGS``."""
    return lambda *args: _run_python(
        REPO / 'tools/model_converters/sanet2mmdet.py', *args, timeout=300
    )


@pytest.fixture(scope='session')
def import_tool() -> Callable[[str], ModuleType]:
    return _import_tool


@pytest.fixture(scope='session')
def sa_reference() -> Callable[[torch.nn.Module, Tensor], Tensor]:
    """``sa_reference(sa_layer, x)``: the paper's equations with the layer's parameters."""
    return _sa_reference


@pytest.fixture(scope='session')
def shuffle_attention_reference() -> Callable[..., Tensor]:
    """``shuffle_attention_reference(x, cweight, cbias, sweight, sbias, gn_weight, gn_bias,
    groups, eps)``: the paper's equations."""
    return _shuffle_attention_reference


@pytest.fixture(scope='session')
def randomize_sa() -> Callable[[torch.nn.Module, torch.Generator], None]:
    return _randomize_sa


@pytest.fixture(scope='session')
def toy_runner() -> ModuleType:
    """``tests/data/toy_runner.py``: a tiny mmengine model, dataset and ``make_runner``."""
    return _import_file(DATA / 'toy_runner.py', 'toy_runner')


@pytest.fixture(scope='session')
def official_sa_resnet() -> ModuleType:
    """The independent torchvision-layout SA-ResNet of ``tests/data/official_sa_resnet.py``."""
    return _import_file(DATA / 'official_sa_resnet.py', 'official_sa_resnet')


def _needs_torchvision_shim() -> bool:
    return importlib.util.find_spec('torchvision') is None


@pytest.fixture(scope='session')
def sa_mmdet_pretrain() -> ModuleType:
    """``sa_mmdet.pretrain``, with mmpretrain's models, datasets and evaluation imported.

    Where torchvision is missing, ``tools/stack_shims`` stands in for it while they
    import; then ``sys.path`` and ``sys.modules`` hold no torchvision again, as the rest
    of the session (mmengine's ``torchvision://`` loading) must see. Skips without
    mmpretrain.
    """
    pytest.importorskip('mmpretrain')
    shim = _needs_torchvision_shim()
    if shim:
        sys.path.insert(0, str(STACK_SHIMS))
    try:
        module = importlib.import_module('sa_mmdet.pretrain')
        for name in ('mmpretrain.models', 'mmpretrain.datasets', 'mmpretrain.evaluation'):
            importlib.import_module(name)
    finally:
        if shim:
            sys.path.remove(str(STACK_SHIMS))
            for name in [n for n in sys.modules if n.partition('.')[0] == 'torchvision']:
                del sys.modules[name]
    return module


@pytest.fixture(scope='session')
def pretrain_env() -> dict:
    """``env`` for ``run_python`` of a command that imports mmpretrain (as tools/run_toy.sh)."""
    return dict(PYTHONPATH=STACK_SHIMS) if _needs_torchvision_shim() else {}


#: Kinds of unreadable checkpoint files -> a regex of the error that says what is wrong.
UNREADABLE_CHECKPOINTS = {
    'empty': r'is empty \(0 bytes\)',
    'truncated': 'is damaged or truncated',
    'text': 'is not a PyTorch checkpoint',
    'folder': 'is a folder, not a file',
}


def _write_unreadable_checkpoint(kind: str, folder: Path) -> Path:
    path = folder / f'{kind}.pth'
    if kind == 'folder':
        path.mkdir()
    elif kind == 'empty':
        path.write_bytes(b'')
    elif kind == 'text':
        path.write_text('model weights: see the README\n')
    else:  # a real checkpoint cut in half, as an interrupted write leaves it
        torch.save({'state_dict': {'w': torch.ones(1000)}}, path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture(params=list(UNREADABLE_CHECKPOINTS))
def unreadable_checkpoint(request, tmp_path) -> Tuple[Path, str]:
    """``(path, words)``: an unreadable checkpoint and what its error must say."""
    return _write_unreadable_checkpoint(request.param, tmp_path), UNREADABLE_CHECKPOINTS[
        request.param
    ]


#: Ways to name a file again: the same path, a hard link, a symbolic link.
SAME_FILE_LINKS = ('same path', 'hard link', 'symbolic link')


@pytest.fixture(params=SAME_FILE_LINKS)
def same_file_as(request) -> Callable[[Path], Path]:
    """``same_file_as(src)``: another name of ``src`` (each of :data:`SAME_FILE_LINKS`)."""

    def name_again(src: Path) -> Path:
        if request.param == 'same path':
            return src
        other = src.with_name(f'{src.stem}_{request.param.replace(" ", "_")}{src.suffix}')
        if request.param == 'hard link':
            os.link(src, other)
        else:
            other.symlink_to(src)
        return other

    return name_again
