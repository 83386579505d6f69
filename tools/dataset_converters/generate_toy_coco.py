"""Write the seeded toy shapes dataset in COCO instance-segmentation format.

Example:
    python tools/dataset_converters/generate_toy_coco.py data/toy_coco
"""

import argparse

from sa_mmdet.datasets.toy_coco import generate_toy_coco


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'out_dir', nargs='?', default='data/toy_coco', help='output folder (default: data/toy_coco)'
    )
    parser.add_argument('--num-train', type=int, default=400)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--image-size', type=int, default=192, help='>= 176 (default: 192)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    info = generate_toy_coco(
        args.out_dir,
        num_train=args.num_train,
        num_val=args.num_val,
        image_size=args.image_size,
        seed=args.seed,
    )
    for split in ('train', 'val'):
        s = info[split]
        areas = ', '.join(f'{k} {v}' for k, v in s['areas'].items())
        print(
            f'{split}: {s["images"]} images, {s["annotations"]} objects '
            f'({areas}) -> {s["ann_file"]}'
        )
    print(f'classes: {", ".join(info["classes"])}; took {info["seconds"]:.1f} s')


if __name__ == '__main__':
    main()
