"""Fixtures of the deployment tests."""

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from sa_mmdet.models import ShuffleAttention


@pytest.fixture
def randomize(randomize_sa):
    """Give a model random SA parameters and BatchNorm statistics, so that every gate and
    channel differs (exporting a model at its initial values would hide errors)."""

    def randomize_model(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
        gen = torch.Generator().manual_seed(seed)
        for module in model.modules():
            if isinstance(module, ShuffleAttention):
                randomize_sa(module, gen)
            elif isinstance(module, _BatchNorm):
                with torch.no_grad():
                    module.weight.normal_(generator=gen)
                    module.bias.normal_(generator=gen)
                    module.running_mean.normal_(generator=gen)
                    module.running_var.uniform_(0.5, 2, generator=gen)
        return model

    return randomize_model
