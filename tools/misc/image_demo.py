"""Draw a detector's predictions on images, as mmdet's ``demo/image_demo.py`` (not pip-installed).

Runs ``mmdet.apis.DetInferencer`` (weights-only checkpoint loading, as torch
>= 2.6 does by default) on an image or a folder of images and writes the
painted images to ``OUT_DIR/vis/`` and the predictions to ``OUT_DIR/preds/``
(one JSON per image). Reads ``sa_mmdet::`` config names too.

Example:
    python tools/misc/image_demo.py demo.jpg \\
        configs/toy/faster-rcnn_sa-r50_fpn_8e_toy-shapes.py \\
        --weights work_dirs/faster-rcnn_sa-r50_fpn_8e_toy-shapes/epoch_8.pth --out-dir outputs
"""

import argparse
from typing import Optional, Sequence

from mmdet.apis import DetInferencer

from sa_mmdet.utils import register_config_package


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('inputs', help='an image file or a folder of images')
    parser.add_argument('model', help='the detector config')
    parser.add_argument('--weights', help='its checkpoint')
    parser.add_argument('--out-dir', default='outputs', help='where to write vis/ and preds/')
    parser.add_argument('--device', default='cpu', help='e.g. cpu or cuda:0')
    parser.add_argument('--pred-score-thr', type=float, default=0.3, help='boxes drawn above')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--show', action='store_true', help='also show each image in a window')
    parser.add_argument('--no-save-vis', action='store_true', help='do not write vis/')
    parser.add_argument('--no-save-pred', action='store_true', help='do not write preds/')
    parser.add_argument(
        '--palette', default='none', help="'coco', 'voc', 'citys', 'random' or 'none' (dataset)"
    )
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    register_config_package()
    inferencer = DetInferencer(
        model=args.model, weights=args.weights, device=args.device, palette=args.palette
    )
    results = inferencer(
        args.inputs,
        batch_size=args.batch_size,
        out_dir='' if args.no_save_vis and args.no_save_pred else args.out_dir,
        no_save_vis=args.no_save_vis,
        no_save_pred=args.no_save_pred,
        pred_score_thr=args.pred_score_thr,
        show=args.show,
    )
    if not (args.no_save_vis and args.no_save_pred):
        print(f'results written to {args.out_dir}')
    return results


if __name__ == '__main__':
    main()
