"""Every file, folder and mmdet config the README names exists."""

import re
from pathlib import Path

import pytest
from mmengine.utils import get_installed_path

REPO = Path(__file__).resolve().parents[2]
README = (REPO / 'README.md').read_text()
# Paths in the repository: markdown link/image targets and anything under a
# top-level folder of the repository (in code spans and commands too).
LINK_TARGET = re.compile(r'\]\(([^)#\s]+)\)')
REPO_PATH = re.compile(r'(?<![\w./-])((?:configs|docs|sa_mmdet|tests|tools|\.ci)/[\w./-]*\w/?)')
MMDET_CONFIG = re.compile(r'mmdet::([\w./-]+\.py)')
# Folders a run creates or a user fills, not part of the repository.
GENERATED = ('data/', 'work_dirs/', 'checkpoints/', '.venv/')


def readme_paths() -> list:
    links = [t for t in LINK_TARGET.findall(README) if '://' not in t]
    paths = set(links) | set(REPO_PATH.findall(README))
    return sorted(p for p in paths if not p.startswith(GENERATED))


def test_readme_names_the_main_files():
    paths = readme_paths()
    for expected in (
        'tools/install.sh',
        'tools/run_toy.sh',
        'configs/toy/faster-rcnn_sa-r50_fpn_toy.py',
    ):
        assert expected in paths
    assert any(p.startswith('docs/') and p.endswith('.png') for p in paths)


@pytest.mark.parametrize('path', readme_paths())
def test_readme_path_exists(path):
    assert (REPO / path).exists(), f'README.md names {path}, which does not exist'


@pytest.mark.parametrize('name', sorted(set(MMDET_CONFIG.findall(README))))
def test_readme_mmdet_config_exists(name):
    configs = get_installed_path('mmdet') + '/.mim/configs/'
    assert (Path(configs) / name).is_file(), f'mmdet has no config {name}'
