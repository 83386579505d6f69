"""Check and convert an SA-Net ImageNet checkpoint into an SAResNet one.

Reads the official ``sa_resnet50.pth.tar`` / ``sa_resnet101.pth.tar``
(https://github.com/wofmanaf/SA-Net) or an mmpretrain checkpoint of
``configs/imagenet/sa-resnet50_8xb32_in1k.py`` with weights-only loading (no
code in the file runs), strips ``module.`` / ``backbone.``, drops ``fc`` /
``head``, checks every SAResNet key and shape for the detected depth and
writes ``{'state_dict': ..., 'meta': ...}`` for
``init_cfg=dict(type='SANetPretrained', checkpoint=DST)``. Exits with status 1
and one line saying what is wrong for anything that is not a readable
SA-ResNet checkpoint. DST is written atomically and never over SRC (the same
file under any name), a folder, or an existing file this tool did not write.

Example:
    python tools/model_converters/sanet2mmdet.py sa_resnet50.pth.tar checkpoints/sa_resnet50.pth
"""

import argparse
import os.path as osp
import pickle
import sys
from typing import List, Optional

from sa_mmdet.models.backbones import ResNetCheckpointError, checkpoint_state_dict
from sa_mmdet.models.weight_init import SANetConversion, convert_sanet_state_dict
from sa_mmdet.utils import check_output_path, read_checkpoint, save_atomically


def convert(src: str, depth: Optional[int]) -> SANetConversion:
    """Read and check ``src``, and convert it (see the module docstring)."""
    return convert_sanet_state_dict(checkpoint_state_dict(read_checkpoint(src)), depth)


def check_existing_output(dst: str) -> None:
    """Refuse to replace a file that is not a converted SA-ResNet checkpoint.

    Raises:
        FileExistsError: If ``dst`` exists and is anything else.
    """
    if not osp.exists(dst):
        return
    try:
        existing = read_checkpoint(dst)
    except (OSError, pickle.UnpicklingError) as error:
        raise FileExistsError(
            f'the output {dst!r} exists and is not a checkpoint this tool wrote ({error}); '
            'it is left as it is. Remove it or give another output path.'
        ) from error
    meta = existing.get('meta') if isinstance(existing, dict) else None
    if not (isinstance(meta, dict) and {'depth', 'sa_groups', 'source'} <= set(meta)):
        raise FileExistsError(
            f'the output {dst!r} exists and is not a checkpoint this tool wrote (no meta with '
            'depth, sa_groups and source); it is left as it is. Remove it or give another '
            'output path.'
        )


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official SA-Net .pth.tar or mmpretrain checkpoint')
    parser.add_argument('dst', help='path of the converted checkpoint')
    parser.add_argument(
        '--depth',
        type=int,
        choices=(50, 101, 152),
        help='fail unless the checkpoint has this depth',
    )
    args = parser.parse_args(argv)

    try:
        check_output_path(args.src, args.dst)
        conversion = convert(args.src, args.depth)
        check_existing_output(args.dst)
    except ResNetCheckpointError as error:
        sys.exit(f'error: {args.src} is not a usable SA-ResNet checkpoint: {error}')
    except (OSError, ValueError, pickle.UnpicklingError) as error:
        sys.exit(f'error: {error}')

    meta = dict(
        depth=conversion.depth, sa_groups=conversion.sa_groups, source=osp.basename(args.src)
    )
    save_atomically(dict(state_dict=conversion.state_dict, meta=meta), args.dst)
    print(
        f'SA-ResNet-{conversion.depth} (sa_groups={conversion.sa_groups}): '
        f'{len(conversion.state_dict)} keys checked and saved to {args.dst}; '
        f'left over (not saved): {conversion.leftovers or "none"}'
    )


if __name__ == '__main__':
    main()
