"""An independent, plainly written Shuffle Attention: the paper's equations.

Written channel by channel with no reshapes, so that it shares no code path
with :class:`sa_mmdet.models.ShuffleAttention`.
"""
import torch
from torch import Tensor


def shuffle_attention_reference(x: Tensor, cweight: Tensor, cbias: Tensor,
                                sweight: Tensor, sbias: Tensor, gn_weight: Tensor,
                                gn_bias: Tensor, groups: int, eps: float = 1e-5) -> Tensor:
    """SA-Net's Shuffle Attention for an (N, C, H, W) input.

    Group ``g`` owns channels ``[2 * g * k, 2 * (g + 1) * k)`` with ``k = C / 2G``;
    its first ``k`` channels take channel attention, the last ``k`` spatial
    attention. Output channel ``i`` is pre-shuffle channel
    ``(i % 2) * C / 2 + i // 2`` (channel shuffle with 2 groups).
    """
    n, c, h, w = x.shape
    k = c // (2 * groups)
    cweight, cbias, sweight, sbias = (p.flatten() for p in (cweight, cbias, sweight, sbias))
    attended = []
    for g in range(groups):
        for j in range(k):
            xc = x[:, 2 * g * k + j]
            gap = xc.mean(dim=(1, 2), keepdim=True)
            attended.append(xc * torch.sigmoid(cweight[j] * gap + cbias[j]))
        for j in range(k):
            xs = x[:, 2 * g * k + k + j]
            mean = xs.mean(dim=(1, 2), keepdim=True)
            var = ((xs - mean)**2).mean(dim=(1, 2), keepdim=True)
            normed = (xs - mean) / torch.sqrt(var + eps) * gn_weight[j] + gn_bias[j]
            attended.append(xs * torch.sigmoid(sweight[j] * normed + sbias[j]))
    return torch.stack([attended[(i % 2) * (c // 2) + i // 2] for i in range(c)], dim=1)


def randomize_sa_parameters(module: torch.nn.Module, generator: torch.Generator) -> None:
    """Give every SA parameter a random value (the init makes gates trivial)."""
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator, dtype=param.dtype))
