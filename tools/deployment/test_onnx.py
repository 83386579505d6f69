"""Evaluate an end2end ONNX detector with onnxruntime on the config's test set.

Runs ``pytorch2onnx.py --end2end``'s graph on mmdet's test dataloader (the
config's pipeline, then its data preprocessor), maps the detections back to
the original images as mmdet's ``predict(rescale=True)`` does (boxes divided
by the scale factor, Mask R-CNN's masks pasted and thresholded with
``test_cfg.rcnn.mask_thr_binary``) and evaluates them with the config's test
evaluator (CocoMetric), which prints the same lines as ``tools/test.py``
(``bbox_mAP_copypaste: ...``). A static graph takes only its own image size;
export with ``--dynamic`` for a test set of several sizes.

Example:
    python tools/deployment/test_onnx.py \\
        configs/toy/faster-rcnn_sa-r50_fpn_8e_toy-shapes.py faster-rcnn.onnx
"""

import argparse
import sys
import time
from typing import List, Optional, Sequence

import torch
from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config, DictAction
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import InstanceData

from sa_mmdet.deploy import ONNXRuntimeRunner
from sa_mmdet.utils import register_config_package


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the detector config the graph was exported from')
    parser.add_argument('onnx', help='end2end ONNX file (pytorch2onnx.py --end2end)')
    parser.add_argument('--threads', type=int, help='onnxruntime threads (default: all cores)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override config settings, key=value'
    )
    return parser.parse_args(argv)


def to_data_samples(
    outputs: Sequence, samples: Sequence[DetDataSample], mask_thr: Optional[float]
) -> List[DetDataSample]:
    """The graph's outputs of a batch as mmdet's predictions in original image pixels.

    Args:
        outputs (Sequence[np.ndarray]): ``dets``, ``labels`` (and ``masks``).
        samples (Sequence[DetDataSample]): The batch's samples (their metas).
        mask_thr (float, optional): Binary threshold of the masks.

    Returns:
        list[DetDataSample]: The samples with ``pred_instances``.
    """
    dets, labels = torch.from_numpy(outputs[0]), torch.from_numpy(outputs[1])
    for i, sample in enumerate(samples):
        keep = labels[i] >= 0
        pred = InstanceData()
        boxes = dets[i, keep, :4] / dets.new_tensor(sample.scale_factor).repeat(2)
        pred.bboxes, pred.scores, pred.labels = boxes, dets[i, keep, 4], labels[i, keep]
        if len(outputs) > 2:
            h, w = sample.ori_shape
            masks = torch.from_numpy(outputs[2])[i, keep]
            pasted, _ = _do_paste_mask(masks[:, None], boxes, h, w, skip_empty=False)
            pred.masks = pasted >= mask_thr
        sample.pred_instances = pred
    return list(samples)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    register_config_package()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    # the metric logs its lines to the current logger: a new one, on this sys.stdout
    MMLogger.get_instance(f'test_onnx_{time.time_ns()}', log_level='INFO')
    runner = ONNXRuntimeRunner(args.onnx, threads=args.threads)
    dataloader = Runner.build_dataloader(cfg.test_dataloader)
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = dataloader.dataset.metainfo
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    mask_thr = None
    if 'masks' in runner.output_names:
        mask_thr = float(cfg.model.test_cfg.rcnn.mask_thr_binary)
    dims = runner.session.get_inputs()[0].shape
    for data in dataloader:
        with torch.no_grad():
            data = preprocessor(data, False)
        shape = tuple(data['inputs'].shape)
        if any(isinstance(d, int) and d != s for d, s in zip(dims, shape)):
            raise ValueError(
                f'{args.onnx} takes inputs {dims}, but the test set gives {shape}: export it '
                f'with pytorch2onnx.py --end2end --dynamic.'
            )
        samples = to_data_samples(runner(data['inputs']), data['data_samples'], mask_thr)
        evaluator.process(samples)
    metrics = evaluator.evaluate(len(dataloader.dataset))
    print(' '.join(f'{key}: {value:.4f}' for key, value in metrics.items()))
    return metrics


if __name__ == '__main__':
    main()
    sys.exit(0)
