"""tools/deployment/test_onnx.py: an end2end Mask R-CNN graph in onnxruntime scores on the toy
test set what the PyTorch model scores there with mmdet's own test step."""

from pathlib import Path

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner

from sa_mmdet.deploy import IMAGE_AXES, End2EndDetector, export_onnx
from toy_coco import generate_toy_coco

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / 'configs/toy/mask-rcnn_sa-r50_fpn_8e_toy-shapes.py')
RETINANET = str(REPO / 'configs/toy/retinanet_sa-r50_fpn_8e_toy-shapes.py')


def pytorch_metrics(cfg: Config, model: torch.nn.Module) -> dict:
    dataloader = Runner.build_dataloader(cfg.test_dataloader)
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = dataloader.dataset.metainfo
    for data in dataloader:
        with torch.no_grad():
            evaluator.process(model.test_step(data))
    return evaluator.evaluate(len(dataloader.dataset))


def test_onnxruntime_metrics_equal_pytorch(import_tool, tmp_path, capsys):
    data_root = str(tmp_path / 'toy_coco') + '/'
    generate_toy_coco(data_root, num_train=1, num_val=4, image_size=176)
    options = {
        'test_dataloader.dataset.data_root': data_root,
        'test_evaluator.ann_file': data_root + 'annotations/instances_val.json',
    }
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(options)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()  # seeded random init: it detects things
    path = tmp_path / 'mask-rcnn.onnx'
    module = End2EndDetector(model).eval()
    x = torch.randn(1, 3, 128, 128)
    export_onnx(module, (x,), path, 'legacy', ['input'], module.output_names, [IMAGE_AXES])
    args = [CONFIG, str(path), '--threads', '1', '--cfg-options']
    metrics = import_tool('tools/deployment/test_onnx.py').main(
        args + [f'{k}={v}' for k, v in options.items()]
    )
    out = capsys.readouterr().out
    assert 'bbox_mAP_copypaste' in out and 'segm_mAP_copypaste' in out  # as tools/test.py
    want = pytorch_metrics(cfg, model)
    assert metrics.keys() == want.keys()
    for key, value in want.items():
        assert metrics[key] == pytest.approx(value, abs=1e-3), key


def test_a_static_graph_of_another_size_is_named(import_tool, tmp_path):
    data_root = str(tmp_path / 'toy_coco') + '/'
    generate_toy_coco(data_root, num_train=1, num_val=1, image_size=176)
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(RETINANET).model).eval()
    path = tmp_path / 'retinanet.onnx'
    module = End2EndDetector(model).eval()
    export_onnx(
        module, (torch.randn(1, 3, 96, 96),), path, 'legacy', ['input'], module.output_names
    )
    options = [
        f'test_dataloader.dataset.data_root={data_root}',
        f'test_evaluator.ann_file={data_root}annotations/instances_val.json',
    ]
    # the toy test set is 128x128
    with pytest.raises(ValueError, match=r'takes inputs \[1, 3, 96, 96\].*--dynamic'):
        import_tool('tools/deployment/test_onnx.py').main(
            [RETINANET, str(path), '--cfg-options', *options]
        )
