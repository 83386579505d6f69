"""Check and convert an SA-Net ImageNet checkpoint into an SAResNet one.

Reads the official ``sa_resnet50.pth.tar`` / ``sa_resnet101.pth.tar``
(https://github.com/wofmanaf/SA-Net) or an mmpretrain checkpoint of
``configs/imagenet/sa-resnet50_8xb32_in1k.py`` with weights-only loading (no
code in the file runs), strips ``module.`` / ``backbone.``, drops ``fc`` /
``head``, checks every SAResNet key and shape for the detected depth and
writes ``{'state_dict': ..., 'meta': ...}`` for
``init_cfg=dict(type='SANetPretrained', checkpoint=DST)``. Exits with status 1
and says what is wrong for anything that is not an SA-ResNet checkpoint.

Example:
    python tools/model_converters/sanet2mmdet.py sa_resnet50.pth.tar checkpoints/sa_resnet50.pth
"""

import argparse
import os
import os.path as osp
import pickle
import sys
from typing import List, Optional

import torch

from sa_mmdet.models.weight_init import (
    SANetCheckpointError,
    checkpoint_state_dict,
    convert_sanet_state_dict,
    sa_resnet_layout,
    sanet_checkpoint_arch,
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
        state_dict = checkpoint_state_dict(
            torch.load(args.src, map_location='cpu', weights_only=True)
        )
        depth, sa_groups = sanet_checkpoint_arch(state_dict)
        conversion = convert_sanet_state_dict(
            state_dict, sa_resnet_layout(args.depth or depth, sa_groups)
        )
    except FileNotFoundError:
        sys.exit(f'error: {args.src} does not exist.')
    except pickle.UnpicklingError as error:
        sys.exit(
            f'error: weights-only loading refused {args.src}, which needs '
            f'more than tensors and containers; nothing in it was run. '
            f'{str(error).splitlines()[0]}'
        )
    except SANetCheckpointError as error:
        sys.exit(f'error: {args.src} is not a usable SA-ResNet checkpoint: {error}')

    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    meta = dict(
        depth=conversion.depth, sa_groups=conversion.sa_groups, source=osp.basename(args.src)
    )
    torch.save(dict(state_dict=conversion.state_dict, meta=meta), args.dst)
    print(
        f'SA-ResNet-{conversion.depth} (sa_groups={conversion.sa_groups}): '
        f'{len(conversion.state_dict)} keys checked and saved to {args.dst}; '
        f'left over (not saved): {conversion.leftovers or "none"}'
    )


if __name__ == '__main__':
    main()
