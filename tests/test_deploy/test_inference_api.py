"""mmdet's inference API with SA configs and checkpoints that a runner wrote with
WeightsOnlyCheckpointHook, loaded with torch's weights-only default; the demo tool."""

import json
import os
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmdet.apis import DetInferencer, inference_detector, init_detector
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules
from mmengine.config import Config

from sa_mmdet.models import SAResNet
from toy_coco import CLASSES, draw_toy_image

REPO = Path(__file__).resolve().parents[2]
TOY_CONFIG = str(REPO / 'configs/toy/faster-rcnn_sa-r50_fpn_8e_toy-shapes.py')
COCO_CONFIG = str(REPO / 'configs/sa_resnet/faster-rcnn_sa-r50_fpn_1x_coco.py')

pytestmark = pytest.mark.slow  # trains a toy detector for 2 iterations


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory, import_tool) -> str:
    work_dir = tmp_path_factory.mktemp('toy_faster_rcnn')
    return str(
        import_tool('tests/data/toy_checkpoint.py').make_toy_checkpoint(TOY_CONFIG, work_dir)
    )


@pytest.fixture(scope='module')
def image(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp('images') / 'toy.png'
    cv2.imwrite(str(path), draw_toy_image(np.random.default_rng(0), 192)[0])
    return str(path)


def test_init_detector_and_inference_detector(checkpoint, image):
    model = init_detector(TOY_CONFIG, checkpoint, device='cpu')
    assert isinstance(model.backbone, SAResNet)
    assert tuple(model.dataset_meta['classes']) == CLASSES
    state = torch.load(checkpoint, weights_only=True)['state_dict']
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, state[name], rtol=0, atol=0)
    from_file = inference_detector(model, image)
    from_array = inference_detector(model, cv2.imread(image))
    assert isinstance(from_file, DetDataSample)
    boxes = from_file.pred_instances.bboxes
    assert boxes.ndim == 2 and boxes.shape[1] == 4 and len(boxes) > 0
    torch.testing.assert_close(from_array.pred_instances.bboxes, boxes)


def test_det_inferencer_writes_predictions_and_pictures(checkpoint, image, tmp_path):
    inferencer = DetInferencer(model=TOY_CONFIG, weights=checkpoint, device='cpu')
    result = inferencer(image, out_dir=str(tmp_path), no_save_pred=False, pred_score_thr=0.0)
    prediction = result['predictions'][0]
    assert set(prediction) >= {'labels', 'scores', 'bboxes'} and len(prediction['bboxes']) > 0
    assert all(0 <= label < len(CLASSES) for label in prediction['labels'])
    assert (tmp_path / 'vis' / 'toy.png').is_file()
    assert json.loads((tmp_path / 'preds' / 'toy.json').read_text())['bboxes']


def test_image_demo_tool(checkpoint, image, tmp_path, run_python):
    out = tmp_path / 'outputs'
    result = run_python(
        'tools/misc/image_demo.py',
        image,
        TOY_CONFIG,
        '--weights',
        checkpoint,
        '--out-dir',
        out,
        '--pred-score-thr',
        '0',
    )
    assert result.returncode == 0, result.stderr
    painted = cv2.imread(str(out / 'vis' / 'toy.png'))
    assert painted.shape == (192, 192, 3)
    assert (painted != cv2.imread(image)).any()  # boxes were drawn
    assert json.loads((out / 'preds' / 'toy.json').read_text())['labels']


def test_coco_sa_config_with_its_checkpoint(image, tmp_path):
    # the COCO configs name SANetPretrained weights that are not here: the inference API
    # builds the detector without initialising it, and loads the checkpoint over it
    register_all_modules()
    cfg = Config.fromfile(COCO_CONFIG)
    model = MODELS.build(cfg.model)
    path = tmp_path / 'faster-rcnn_sa-r50.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    detector = init_detector(COCO_CONFIG, str(path), device='cpu')
    assert isinstance(detector.backbone, SAResNet) and len(detector.dataset_meta['classes']) == 80
    result = inference_detector(detector, image)
    assert result.pred_instances.bboxes.shape[1] == 4
    inferencer = DetInferencer(model=COCO_CONFIG, weights=str(path), device='cpu')
    assert len(inferencer(image, return_vis=False)['predictions']) == 1


class _RunsCode:
    """Unpickling this creates a directory: what weights-only loading must refuse."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return os.makedirs, (self.path,)


def test_checkpoints_load_weights_only(checkpoint, tmp_path):
    # the runner's checkpoint (with WeightsOnlyCheckpointHook) loads with torch's defaults
    assert 'state_dict' in torch.load(checkpoint)
    # and a checkpoint that runs code on loading is refused by the inference API
    state = torch.load(checkpoint, weights_only=True)
    marker = tmp_path / 'executed'
    state['meta']['payload'] = _RunsCode(str(marker))
    planted = tmp_path / 'planted.pth'
    torch.save(state, planted)
    with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
        init_detector(TOY_CONFIG, str(planted), device='cpu')
    with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
        DetInferencer(model=TOY_CONFIG, weights=str(planted), device='cpu')
    assert not marker.exists()
