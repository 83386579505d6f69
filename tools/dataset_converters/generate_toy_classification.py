"""Write the seeded toy shapes classification set in ImageNet folder format.

Crops of the four toy shapes and of background, cut from images drawn as the toy detection
set's, for pretraining a backbone with mmpretrain.

Example:
    python tools/dataset_converters/generate_toy_classification.py data/toy_cls
"""

import argparse

from toy_classification import generate_toy_classification


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument('out_dir', nargs='?', default='data/toy_cls', help='output folder')
    parser.add_argument(
        '--num-train', type=int, default=5000, help='training crops, a multiple of the 5 classes'
    )
    parser.add_argument(
        '--num-val', type=int, default=500, help='validation crops, a multiple of the 5 classes'
    )
    parser.add_argument('--crop-size', type=int, default=32, help='crop side in pixels')
    parser.add_argument('--image-size', type=int, default=192, help='drawn image side, >= 160')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    try:
        info = generate_toy_classification(**vars(parser.parse_args()))
    except ValueError as error:
        parser.error(str(error))
    for split in ('train', 'val'):
        s = info[split]
        print(
            f'{split}: {s["crops"]} crops ({s["per_class"]} per class) from '
            f'{s["source_images"]} drawn images -> {s["img_dir"]}, {s["ann_file"]}'
        )
    print(f'classes: {", ".join(info["classes"])}; took {info["seconds"]:.1f} s')


if __name__ == '__main__':
    main()
