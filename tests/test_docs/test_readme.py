"""Every file, folder and config the README and the docs name exists; the README stays short."""

import re
from pathlib import Path

import pytest
from mmengine.utils import get_installed_path

REPO = Path(__file__).resolve().parents[2]
DOCS = [
    REPO / 'README.md',
    *sorted((REPO / 'docs').glob('*.md')),
    *sorted((REPO / 'configs').glob('*/README.md')),
]
# Markdown link/image targets (relative to the file) and paths under a top-level folder of the
# repository (in code spans and commands, relative to the repository root).
LINK_TARGET = re.compile(r'\]\(([^)#\s]+)\)')
REPO_PATH = re.compile(r'(?<![\w./-])((?:configs|docs|sa_mmdet|tests|tools|\.ci)/[\w./-]*\w/?)')
PACKAGE_CONFIG = re.compile(r'(mmdet|sa_mmdet)::([\w./-]+\.py)')
# Folders a run creates or a user fills, not part of the repository.
GENERATED = ('data/', 'work_dirs/', 'checkpoints/', '.venv/')


def named_paths() -> list:
    paths = set()
    for doc in DOCS:
        text = doc.read_text()
        for target in LINK_TARGET.findall(text):
            if '://' not in target:
                paths.add((doc.parent / target).resolve().relative_to(REPO).as_posix())
        paths.update(p for p in REPO_PATH.findall(text) if not p.startswith(GENERATED))
    return sorted(paths)


def test_readme_is_a_short_user_guide():
    text = (REPO / 'README.md').read_text()
    assert len(text.splitlines()) <= 200
    for section in ('## Description', '## Installation', '## Usage', '## Results', '## Citation'):
        assert section in text
    for expected in ('tools/install.sh', 'tools/run_toy.sh', 'docs/performance.md'):
        assert expected in text


@pytest.mark.parametrize('path', named_paths())
def test_named_path_exists(path):
    assert (REPO / path).exists(), f'the docs name {path}, which does not exist'


@pytest.mark.parametrize(
    'package,name',
    sorted({match for doc in DOCS for match in PACKAGE_CONFIG.findall(doc.read_text())}),
)
def test_named_package_config_exists(package, name):
    root = (
        REPO / 'configs'
        if package == 'sa_mmdet'
        else (Path(get_installed_path('mmdet')) / '.mim' / 'configs')
    )
    assert (root / name).is_file(), f'{package} has no config {name}'


def test_development_layout_names_every_module_of_the_package():
    text = (REPO / 'docs' / 'development.md').read_text()
    layout = text.split('## Layout', 1)[1].split('```')[1]
    folders = [p for p in (REPO / 'sa_mmdet').rglob('*') if p.is_dir() and p.name[0] not in '_.']
    # A folder is named as 'name/'; the operator's modules, the package's own files one by one.
    named = [f'{p.name}/' for p in folders if p.parent.name != 'csrc']
    named += [p.name for p in (REPO / 'sa_mmdet' / 'ops').glob('*.py') if p.name != '__init__.py']
    named += [p.name for p in (REPO / 'sa_mmdet').glob('*.py')]
    assert [name for name in named if name not in layout] == []
