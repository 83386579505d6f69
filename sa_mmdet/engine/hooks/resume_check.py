"""Check, before ``--resume`` loads anything, that there is a readable checkpoint to resume.

mmengine would log "Auto resumed from the latest checkpoint None." or fail
with torch's zip errors; :func:`check_resume` says what to run instead.
"""

import glob
import logging
import os.path as osp
import re
from typing import List, Optional, Tuple

from ...utils import CheckpointFileError, is_zip_checkpoint, read_checkpoint

#: The checkpoints CheckpointHook writes by default (``best_*`` files hold no optimizer).
_SAVED = re.compile(r'^(epoch|iter)_(\d+)\.pth$')
#: Checkpoint paths, each with None if it reads, else what is wrong.
_Found = List[Tuple[str, Optional[str]]]


def verify_checkpoint(path: str) -> None:
    """Read a local checkpoint cheaply (zip files with ``mmap=True``) to check that it is whole.

    Raises:
        FileNotFoundError: If nothing is at ``path``.
        CheckpointFileError: If it is a folder, unreadable, empty or damaged.
        pickle.UnpicklingError: If weights-only loading refuses it.
    """
    read_checkpoint(path, mmap=is_zip_checkpoint(path))


def _problem(path: str) -> Optional[str]:
    """None if ``path`` reads, else why not, in a few words."""
    try:
        verify_checkpoint(path)
    except CheckpointFileError:
        return 'damaged'
    except Exception as error:  # a refusal, or a file gone meanwhile: not resumable either
        return type(error).__name__
    return None


def saved_checkpoints(folders: List[str], exclude: Optional[str] = None) -> _Found:
    """The ``epoch_N.pth`` / ``iter_N.pth`` files in ``folders`` but ``exclude``, newest first."""
    excluded = osp.abspath(exclude) if exclude else None
    found = {}
    for folder in folders:
        for path in glob.glob(osp.join(folder, '*.pth')):
            match = _SAVED.match(osp.basename(path))
            if match and osp.abspath(path) != excluded:
                found[osp.abspath(path)] = int(match.group(2))
    newest_first = sorted(found, key=lambda p: (-found[p], p))
    return [(path, _problem(path)) for path in newest_first]


def _listing(checkpoints: _Found) -> str:
    listed = [p + (f' ({problem})' if problem else '') for p, problem in checkpoints]
    return ', '.join(listed) or 'none'


def _how_to_resume(path: str) -> str:
    return (
        f"Resume from {path} with `--resume {path}` (in a config: resume=True, load_from='{path}')"
    )


def check_resume(work_dir: str, load_from: Optional[str], logger: logging.Logger) -> bool:
    """Check the checkpoint ``--resume`` would load; errors say what to run instead.

    Args:
        work_dir (str): The run's work dir, which holds ``last_checkpoint``.
        load_from (str | None): The checkpoint to resume (``--resume PATH``);
            None for the one ``last_checkpoint`` names.
        logger (logging.Logger): Where to warn.

    Returns:
        bool: True if it reads; False, after a warning, if there is nothing to resume.

    Raises:
        FileNotFoundError: If it is missing but another reads, or ``load_from`` is missing.
        CheckpointFileError: If it is damaged.
        pickle.UnpicklingError: If weights-only loading refuses it.
    """
    if load_from is not None and '://' in load_from:
        return True  # remote: mmengine downloads it
    record = osp.join(work_dir, 'last_checkpoint')
    if load_from is not None:
        target, source = load_from, f'load_from is {load_from!r}'
    elif not osp.isfile(record):
        target, source = '', f'{work_dir} has no last_checkpoint file'
    else:
        with open(record) as f:
            target = f.read().strip()
        source = f'{record} names {target!r}' if target else f'{record} is empty'
    folders = [osp.dirname(osp.abspath(target)), work_dir] if target else [work_dir]
    others = saved_checkpoints(folders, exclude=target)
    readable = [path for path, problem in others if problem is None]

    if not target or not osp.exists(target):
        reason = f'{source}, which does not exist' if target else source
        if load_from is None and not readable:
            unreadable = f' (unreadable: {_listing(others)})' if others else ''
            logger.warning(
                f'Nothing to resume: {reason}, and there is no readable checkpoint{unreadable}. '
                'This run starts from scratch.'
            )
            return False
        todo = _how_to_resume(readable[0]) if readable else 'Check the path'
        raise FileNotFoundError(
            f'{todo}, or train from scratch without --resume: {reason}. '
            f'Checkpoints there: {_listing(others)}.'
        )
    try:
        verify_checkpoint(target)
    except CheckpointFileError as error:
        if readable:
            todo = _how_to_resume(readable[0]) + ', the newest readable checkpoint'
        else:
            todo = (
                'Train from scratch without --resume: there is no other readable checkpoint '
                'to resume'
            )
        raise CheckpointFileError(
            f'{todo}. The checkpoint to resume cannot be read ({source}): {error} '
            f'Other checkpoints: {_listing(others)}.'
        ) from error
    return True
