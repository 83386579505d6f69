"""Load a checkpoint from any source mmengine names, always with weights-only ``torch.load``.

mmengine's ``CheckpointLoader`` reads ``http(s)://`` (and the named-model
schemes) with ``torch.hub.load_state_dict_from_url``, which unpickles without
the weights-only restriction. Here those names resolve to URLs as in mmengine,
download into torch hub's cache and load with :func:`read_checkpoint`. Other
schemes (``s3://``, ...) go to mmengine, whose backends load weights only.
"""

import difflib
import os
import os.path as osp
from typing import Any, Callable, Dict, Optional
from urllib.parse import urlparse

import mmengine
import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.runner import checkpoint as mm_checkpoint

from .checkpoint_file import read_checkpoint

_URL_SCHEMES = ('http://', 'https://')


def _torchvision_urls() -> Dict[str, str]:
    try:
        return mm_checkpoint.get_torchvision_models()
    except ImportError:  # no torchvision: its ImageNet weights as mmengine lists them
        return mmengine.load(osp.join(mmengine.__path__[0], 'hub', 'torchvision_0.12.json'))


def _openmmlab_urls() -> Dict[str, str]:
    urls = mm_checkpoint.get_external_models()
    renamed = mm_checkpoint.get_deprecated_model_names()
    return dict(urls, **{old: urls[new] for old, new in renamed.items() if new in urls})


#: Named-model schemes and the tables that give their URLs (or paths under mmengine's home).
_NAMED_SCHEMES: Dict[str, Callable[[], Dict[str, str]]] = {
    'torchvision://': _torchvision_urls,
    'modelzoo://': _torchvision_urls,
    'open-mmlab://': _openmmlab_urls,
    'openmmlab://': _openmmlab_urls,
    'mmcls://': mm_checkpoint.get_mmcls_models,
}


def resolve_checkpoint_source(source: str) -> str:
    """The URL or local path behind a named checkpoint such as ``torchvision://resnet50``.

    Returns ``source`` itself unless it is a named model.

    Raises:
        KeyError: For an unknown model name; the message lists close ones.
    """
    for scheme, table in _NAMED_SCHEMES.items():
        if source.startswith(scheme):
            name, urls = source[len(scheme) :], table()
            if name not in urls:
                raise KeyError(
                    f'unknown checkpoint {source!r}: {scheme} knows no model {name!r}; '
                    f'close names: {difflib.get_close_matches(name, urls, n=6)}.'
                )
            url = urls[name]
            if url.startswith(_URL_SCHEMES):
                return url
            return osp.join(mm_checkpoint._get_mmengine_home(), url)
    return source


def _download(url: str) -> str:
    """The cached file of ``url`` (torch hub's cache), downloaded first where missing."""
    cache = osp.join(torch.hub.get_dir(), 'checkpoints')
    filename = osp.join(cache, osp.basename(urlparse(url).path))
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.exists(filename):
        os.makedirs(cache, exist_ok=True)
        torch.hub.download_url_to_file(url, filename, progress=False)
    if world_size > 1:
        barrier()  # the other ranks read the file rank 0 downloaded
    return filename


def load_checkpoint_source(
    source: str, map_location: Any = 'cpu', missing_message: Optional[str] = None
) -> Any:
    """Load a checkpoint from a path, a URL or a named model, with weights only.

    Args:
        source (str): Local path (``~`` expanded), ``http(s)://`` URL, or named model;
            other schemes are read by mmengine's ``CheckpointLoader``.
        map_location (Any): As for :func:`torch.load`. Defaults to 'cpu'.
        missing_message (str, optional): The error for a missing local file. Defaults to None.

    Returns:
        Any: The loaded object.

    Raises:
        FileNotFoundError: If a local file does not exist.
        KeyError: For an unknown model name.
        CheckpointFileError: If the file is unreadable, damaged or not a checkpoint.
        pickle.UnpicklingError: If weights-only loading refuses the file.
    """
    path = resolve_checkpoint_source(source)
    if path.startswith(_URL_SCHEMES):
        path = _download(path)
    elif '://' in path:
        return mm_checkpoint.CheckpointLoader.load_checkpoint(path, map_location=map_location)
    path = osp.expanduser(path)
    if missing_message and not osp.lexists(path):
        raise FileNotFoundError(missing_message)
    return read_checkpoint(path, map_location=map_location)
