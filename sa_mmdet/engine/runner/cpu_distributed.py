"""Distributed training on CPU-only machines (gloo) with mmengine 0.10.7.

mmengine's ``init_dist`` calls ``torch.cuda.set_device`` and its runner passes
``device_ids=[LOCAL_RANK]``, which DDP rejects for CPU modules. Select
:class:`CPUAwareRunner` with ``runner_type = 'CPUAwareRunner'``.
"""

import os
import subprocess
from datetime import timedelta
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.device import get_device
from mmengine.dist import is_distributed
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS, RUNNERS
from mmengine.runner import Runner


@MODEL_WRAPPERS.register_module()
class CPUAwareDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that drops ``device_ids`` for a module on the CPU.

    Args:
        module (torch.nn.Module): Model to wrap.
        device_ids (list[int], optional): CUDA devices of the module; ignored on the CPU.
        **kwargs: Other arguments of ``DistributedDataParallel``.
    """

    def __init__(
        self, module: torch.nn.Module, device_ids: Optional[list] = None, **kwargs
    ) -> None:
        on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
        super().__init__(module=module, device_ids=None if on_cpu else device_ids, **kwargs)


def init_cpu_process_group(launcher: str, timeout: Optional[int] = None) -> None:
    """Initialise a gloo process group from the launcher's environment.

    Args:
        launcher (str): ``'pytorch'`` (torchrun's ``RANK``, ``WORLD_SIZE``, ``MASTER_*``) or
            ``'slurm'`` (``SLURM_*``; ``MASTER_PORT`` defaults to 29500).
        timeout (int, optional): Seconds before collectives time out; None for torch's default.

    Raises:
        ValueError: For other launchers.
    """
    if launcher == 'slurm':
        node_list = os.environ['SLURM_NODELIST']
        os.environ.setdefault(
            'MASTER_ADDR', subprocess.getoutput(f'scontrol show hostname {node_list} | head -n1')
        )
        os.environ.setdefault('MASTER_PORT', '29500')
        os.environ['RANK'] = os.environ['SLURM_PROCID']
        os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
        os.environ['LOCAL_RANK'] = os.environ['SLURM_LOCALID']
    elif launcher != 'pytorch':
        raise ValueError(
            f'CPU distributed training supports the pytorch and slurm launchers, '
            f'but got launcher={launcher!r}.'
        )
    kwargs = {} if timeout is None else dict(timeout=timedelta(seconds=timeout))
    torch_dist.init_process_group(backend='gloo', **kwargs)


@RUNNERS.register_module()
class CPUAwareRunner(Runner):
    """mmengine ``Runner`` that can also train distributed without CUDA.

    Without CUDA it sets up a gloo process group and wraps the model with
    :class:`CPUAwareDistributedDataParallel`; otherwise it is ``Runner``.
    """

    def setup_env(self, env_cfg: dict) -> None:
        if self.distributed and not is_distributed() and not torch.cuda.is_available():
            timeout = env_cfg.get('dist_cfg', {}).get('timeout')
            init_cpu_process_group(self.launcher, timeout)
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg: Optional[dict], model: torch.nn.Module):
        if self.distributed and get_device() == 'cpu' and model_wrapper_cfg is None:
            model_wrapper_cfg = dict(
                type='CPUAwareDistributedDataParallel',
                broadcast_buffers=False,
                find_unused_parameters=self.cfg.get('find_unused_parameters', False),
            )
        return super().wrap_model(model_wrapper_cfg, model)
