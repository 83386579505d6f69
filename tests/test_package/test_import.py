"""``import sa_mmdet`` registers the models and nothing else; engine and datasets are opt-in.

One fresh interpreter records mmengine's, torch's and the registries' state after
mmdet's own imports, then after each import of ours in turn.
"""

import json

import pytest

SCRIPT = """
import json, sys
import torch
from mmengine.logging import HistoryBuffer
from mmengine.registry import HOOKS, MODEL_WRAPPERS, RUNNERS, WEIGHT_INITIALIZERS
from mmengine.fileio.backends.registry_utils import backends as file_backends
from mmengine.runner.checkpoint import CheckpointLoader
from mmdet.registry import DATASETS, MODELS
import mmdet.models  # mmdet's own imports (it imports mmpretrain where installed) come first

REGISTRIES = dict(models=MODELS, datasets=DATASETS, hooks=HOOKS, runners=RUNNERS,
                  wrappers=MODEL_WRAPPERS, initializers=WEIGHT_INITIALIZERS)


def state():
    return dict(
        history_buffer=sorted(k for k, v in vars(HistoryBuffer).items() if callable(v)),
        loaders=sorted(f'{k}:{v.__module__}.{v.__qualname__}'
                       for k, v in CheckpointLoader._schemes.items()),
        safe_globals=sorted(map(repr, torch.serialization.get_safe_globals())),
        file_backends=sorted(file_backends),
        modules=sorted(sys.modules),
        **{name: sorted(k for k, v in registry.module_dict.items()
                        if v.__module__.startswith('sa_mmdet'))
           for name, registry in REGISTRIES.items()})


states = [state()]
import sa_mmdet
states.append(state())
import sa_mmdet.engine
states.append(state())
import sa_mmdet.datasets
states.append(state())
print(json.dumps(states))
"""
PATCHABLE = ('history_buffer', 'loaders', 'safe_globals')


@pytest.fixture(scope='module')
def states(run_python):
    result = run_python('-c', SCRIPT)
    assert result.returncode == 0, result.stderr[-3000:]
    mmdet, package, engine, datasets = json.loads(result.stdout.splitlines()[-1])
    return dict(mmdet=mmdet, package=package, engine=engine, datasets=datasets)


def added(before: dict, after: dict, key: str) -> list:
    return sorted(set(after[key]) - set(before[key]))


def test_import_registers_the_models_and_patches_nothing(states):
    mmdet, package = states['mmdet'], states['package']
    for key in PATCHABLE:
        assert package[key] == mmdet[key], key
    assert package['models'] == [
        'AttentionResNet',
        'CBAM',
        'EfficientChannelAttention',
        'FastSingleRoIExtractor',
        'SAResNet',
        'ShuffleAttention',
        'SpatialGroupEnhance',
        'SqueezeExcitation',
    ]
    assert package['initializers'] == ['SANetPretrained']
    for key in ('datasets', 'hooks', 'runners', 'wrappers'):
        assert package[key] == [], key
    assert package['file_backends'] == mmdet['file_backends']
    # only the model, operator and small utility modules were imported, no deployment or GPU stack
    new = added(mmdet, package, 'modules')
    subpackages = {m.split('.')[1] for m in new if m.startswith('sa_mmdet.')}
    assert {'models', 'ops'} <= subpackages <= {'models', 'ops', 'utils', 'version', '_ext'}
    for heavy in ('triton', 'onnx', 'onnxruntime', 'onnxscript'):
        assert heavy not in new, heavy


def test_engine_registers_its_hooks_and_runner_and_patches_nothing(states):
    package, engine = states['package'], states['engine']
    for key in PATCHABLE:
        assert engine[key] == package[key], key
    assert engine['hooks'] == [
        'RandomStateHook',
        'SafeCheckpointHook',
        'WeightsOnlyCheckpointHook',
    ]
    # one file backend added (atomic local writes), none replaced
    assert added(package, engine, 'file_backends') == ['atomic_local']
    assert set(package['file_backends']) <= set(engine['file_backends'])
    assert engine['runners'] == ['CPUAwareRunner']
    assert engine['wrappers'] == ['CPUAwareDistributedDataParallel']
    assert engine['datasets'] == []


def test_datasets_register_the_checked_coco_dataset(states):
    assert added(states['engine'], states['datasets'], 'datasets') == ['CheckedCocoDataset']
