"""Re-save an mmengine checkpoint so that weights-only ``torch.load`` accepts it.

Checkpoints written by an mmengine run without ``WeightsOnlyCheckpointHook``
hold ``HistoryBuffer`` objects, numpy arrays and ``builtins.getattr`` calls,
which torch >= 2.6 refuses. This tool reads such a file with weights-only
loading still on (stand-ins for those names during this one load, ``getattr``
answered by a stub that executes nothing, numeric numpy arrays only) and writes
a copy of plain data (:mod:`sa_mmdet.engine.legacy_checkpoint`).

Example:
    python tools/misc/resave_checkpoint.py work_dirs/old/epoch_12.pth epoch_12_safe.pth
"""

import argparse
import pickle
import sys
from typing import List, Optional

from sa_mmdet.engine import resave_checkpoint


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='checkpoint to read')
    parser.add_argument('dst', help='path of the re-saved checkpoint')
    args = parser.parse_args(argv)
    try:
        refused = resave_checkpoint(args.src, args.dst)
    except (OSError, ValueError, pickle.UnpicklingError) as error:
        sys.exit(f'error: {error}')
    print(f'saved {args.dst}; globals no longer needed: {refused or "none"}')


if __name__ == '__main__':
    main()
