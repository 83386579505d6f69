"""configs/attention_baselines/metafile.yml lists every baseline config for the model index."""

import glob
import os.path as osp

import pytest
import torch
import yaml

from analysis_lib import build_model_from_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FOLDER = osp.join(ROOT, 'configs', 'attention_baselines')
CONFIGS = sorted(osp.relpath(p, ROOT) for p in glob.glob(osp.join(FOLDER, '*.py')))


def load(path: str) -> dict:
    with open(osp.join(ROOT, path)) as f:
        return yaml.safe_load(f)


@pytest.fixture(scope='module')
def metafile() -> dict:
    return load('configs/attention_baselines/metafile.yml')


def test_model_index_imports_the_metafile():
    assert 'configs/attention_baselines/metafile.yml' in load('model-index.yml')['Import']


def test_every_config_is_one_model_of_a_collection_with_paper_and_code(metafile):
    collections = {c['Name']: c for c in metafile['Collections']}
    assert set(collections) == {'SENet', 'ECA-Net', 'SGE-Net', 'CBAM'}
    for collection in collections.values():
        assert collection['Paper']['URL'].startswith('https://arxiv.org/abs/')
        assert collection['Code']['URL'].startswith('https://github.com/')
        assert osp.isfile(osp.join(ROOT, collection['README']))
    models = metafile['Models']
    assert sorted(m['Config'] for m in models) == CONFIGS
    for model in models:
        assert model['Name'] == osp.splitext(osp.basename(model['Config']))[0]
        assert model['In Collection'] in collections
        assert model['Metadata']['Epochs'] == 12
        # The paper's Table 3/4 AP is not available to this project: no results are listed.
        assert 'Results' not in model


@pytest.mark.slow
def test_parameters_are_the_built_trainable_counts(metafile):
    for model in metafile['Models']:
        with torch.device('meta'):
            detector = build_model_from_config(osp.join(ROOT, model['Config']))
        trainable = sum(p.numel() for p in detector.parameters() if p.requires_grad)
        assert model['Metadata']['Parameters (M)'] == round(trainable / 1e6, 2), model['Name']
