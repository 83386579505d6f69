"""Write the seeded toy shapes dataset in COCO instance-segmentation format.

Example:
    python tools/dataset_converters/generate_toy_coco.py data/toy_coco
"""

import argparse

from toy_coco import generate_toy_coco


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument('out_dir', nargs='?', default='data/toy_coco', help='output folder')
    parser.add_argument('--num-train', type=int, default=400, help='training images')
    parser.add_argument('--num-val', type=int, default=100, help='validation images')
    parser.add_argument('--image-size', type=int, default=192, help='image side, >= 176')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    info = generate_toy_coco(**vars(parser.parse_args()))
    for split in ('train', 'val'):
        s = info[split]
        areas = ', '.join(f'{k} {v}' for k, v in s['areas'].items())
        objects = f'{s["annotations"]} objects ({areas})'
        print(f'{split}: {s["images"]} images, {objects} -> {s["ann_file"]}')
    print(f'classes: {", ".join(info["classes"])}; took {info["seconds"]:.1f} s')


if __name__ == '__main__':
    main()
