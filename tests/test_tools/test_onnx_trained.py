"""End2end ONNX of trained detectors: test_onnx.py scores what tools/test.py scores.

Each of the three toy detectors (Faster R-CNN, Mask R-CNN, RetinaNet with SA-R50, the repo's
own configs) is trained briefly by tools/train.py in a module fixture, so that it finds
objects (random-init models score about 0 mAP, which would make the comparison weak): 20
generated images of at most 3 shapes, 6 epochs of 5 iterations at batch 4, warmup cut to 10
iterations (bbox mAP 0.03-0.07), and tested on its own training images (overfitting is the
cheapest way to a non-trivial AP). The checkpoint is then exported with pytorch2onnx.py
--end2end and evaluated by tools/test.py (PyTorch) and tools/deployment/test_onnx.py
(onnxruntime): the metrics agree within 0.002, and per image the detections match (same
count, IoU >= 0.99, scores within 1e-3).
"""

import re

import pytest
import torch
from mmengine.config import DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from sa_mmdet.deploy import ONNXRuntimeRunner, compare_detections
from toy_coco import generate_toy_coco

pytestmark = pytest.mark.slow

DETECTORS = {
    'faster-rcnn': 'faster-rcnn_sa-r50_fpn_8e_toy-shapes',
    'mask-rcnn': 'mask-rcnn_sa-r50_fpn_8e_toy-shapes',
    'retinanet': 'retinanet_sa-r50_fpn_8e_toy-shapes',
}
EPOCHS = 6
METRIC = re.compile(r'coco/(\w+_mAP(?:_\w+)?): ([\d.]+)')


def data_options(root: str) -> list:
    """``--cfg-options`` that test on the training images (and run in this process)."""
    ann = 'annotations/instances_train.json'
    options = [f'{split}_evaluator.ann_file={root}{ann}' for split in ('val', 'test')]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={root}', f'{loader}.num_workers=0']
    for loader in ('val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.ann_file={ann}', f'{loader}.dataset.data_prefix.img=train/']
    return options


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('toy_coco')) + '/'
    generate_toy_coco(root, num_train=20, num_val=1, image_size=176, max_objects=3)
    return root


@pytest.fixture(scope='module', params=list(DETECTORS))
def trained(request, toy_root, repo, run_python, tmp_path_factory):
    """``(config, checkpoint, options, work_dir)`` of a detector trained for EPOCHS epochs."""
    config = str(repo / 'configs' / 'toy' / f'{DETECTORS[request.param]}.py')
    work_dir = tmp_path_factory.mktemp(request.param)
    options = data_options(toy_root)
    schedule = [
        f'train_cfg.max_epochs={EPOCHS}',
        f'train_cfg.val_interval={EPOCHS + 1}',  # tools/test.py evaluates, not the training
        'train_dataloader.batch_size=4',
        'param_scheduler.0.end=10',
        f'param_scheduler.1.T_max={EPOCHS}',
        f'param_scheduler.1.end={EPOCHS}',
        'default_hooks.checkpoint.save_optimizer=False',
        f'default_hooks.checkpoint.interval={EPOCHS}',
    ]
    run = run_python(
        'tools/train.py', config, '--work-dir', work_dir, '--cfg-options', *options, *schedule
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return config, str(work_dir / f'epoch_{EPOCHS}.pth'), options, work_dir


def metrics(output: str) -> dict:
    """The last ``coco/..._mAP...: value`` of each metric in a tool's output."""
    return {key: float(value) for key, value in METRIC.findall(output)}


def per_image(samples) -> list:
    """``dets`` (1, K, 5) and ``labels`` (1, K) of each sample's predictions."""
    out = []
    for sample in samples:
        pred = sample.pred_instances
        dets = torch.cat([pred.bboxes, pred.scores[:, None]], 1)
        out.append((dets[None].numpy(), pred.labels[None].numpy()))
    return out


def test_onnxruntime_scores_and_detects_what_pytorch_does(trained, run_python, import_tool):
    config, checkpoint, options, work_dir = trained
    onnx = str(work_dir / 'end2end.onnx')
    export = import_tool('tools/deployment/pytorch2onnx.py')
    # --dynamic: the test dataloader's batches of 4
    args = [config, checkpoint, onnx, '--end2end', '--exporter', 'legacy', '--dynamic']
    assert export.main(args) == 0
    pytorch = run_python(
        'tools/test.py', config, checkpoint, '--work-dir', work_dir, '--cfg-options', *options
    )
    assert pytorch.returncode == 0, pytorch.stderr[-3000:]
    test_onnx = import_tool('tools/deployment/test_onnx.py')
    ort = test_onnx.main([config, onnx, '--cfg-options', *options])
    want = metrics(pytorch.stdout + pytorch.stderr)
    got = {key.split('/', 1)[1]: value for key, value in ort.items() if not isinstance(value, str)}
    assert want['bbox_mAP'] >= 0.02  # trained: it finds the toy shapes
    if 'mask-rcnn' in config:
        assert 'segm_mAP' in want
    assert want.keys() == got.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=0.002), key

    # per image: mmdet's predictions (tools/test.py's) and test_onnx.py's, in image pixels
    model = export.load_detector(config, checkpoint)
    cfg = model.cfg
    parse = DictAction._parse_iterable
    cfg.merge_from_dict({k: parse(v) for k, v in (o.split('=', 1) for o in options)})
    init_default_scope('mmdet')
    runner = ONNXRuntimeRunner(onnx, threads=1)
    to_samples = test_onnx.to_data_samples
    images = found = 0
    for data in Runner.build_dataloader(cfg.test_dataloader):
        with torch.no_grad():
            expected = per_image(model.test_step(data))  # before to_samples reuses the samples
            batch = model.data_preprocessor(data, False)
        got_samples = to_samples(runner(batch['inputs']), batch['data_samples'], 0.5)
        for want_one, got_one in zip(expected, per_image(got_samples)):
            diff = compare_detections(want_one, got_one, min_iou=0.99)
            assert diff.ok(1e-3), f'image {images}: {diff}'
            images, found = images + 1, found + diff.expected
    assert images == 20 and found >= 20  # detections to compare: at least one per image
