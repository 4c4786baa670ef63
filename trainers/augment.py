"""Per-batch augmentation on the batch's own device, vectorised over the batch (no per-sample Python):
random crop from a zero-padded image (zero = the channel mean, since data is normalised once at load time)
and random horizontal flip. Randomness comes from one ``torch.Generator`` so a run is reproducible and
resumable (the generator state goes into checkpoints)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Each image shifted by its own random offset in [-pad, pad] per axis, as a crop of the padded batch."""
    if pad <= 0:
        return x
    n, c, h, w = x.shape
    width = w + 2 * pad
    padded = F.pad(x, (pad, pad, pad, pad)).view(n, c, -1)
    offsets = torch.randint(0, 2 * pad + 1, (2, n), generator=gen, device=x.device)
    rows = offsets[0, :, None, None] + torch.arange(h, device=x.device)[:, None]
    cols = offsets[1, :, None, None] + torch.arange(w, device=x.device)
    index = (rows * width + cols).view(n, 1, h * w)  # one gather over the flattened padded image
    return padded.gather(2, index.expand(n, c, h * w)).view(n, c, h, w)


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Each image mirrored left-right with probability 1/2."""
    mask = torch.rand(x.shape[0], generator=gen, device=x.device) < 0.5
    return torch.where(mask.view(-1, 1, 1, 1), x.flip(3), x)


def augment(x: torch.Tensor, gen: torch.Generator, pad: int, flip: bool) -> torch.Tensor:
    """Crop (if ``pad`` > 0) then flip (if ``flip``); returns a new tensor, ``x`` is untouched."""
    x = random_crop(x, pad, gen)
    return random_flip(x, gen) if flip else x
