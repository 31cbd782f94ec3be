"""The DCGAN: what to train (GanConfig) and the two networks, built as the standard recipe builds them.

Radford et al. 2016 as the PyTorch DCGAN tutorial (the seed's recipe) writes it: a generator of transposed
convolutions (batch norm, ReLU, tanh out) from a 100-d noise vector, a discriminator of strided convolutions
(batch norm, leaky ReLU 0.2), weights drawn from N(0, 0.02), Adam at 2e-4 with beta1 0.5. Sizes 16, 32 and 64 px
add or drop one stride-2 layer per doubling. The conditional variant feeds the chosen attributes (0/1) to both:
appended to the noise, and as constant planes beside the image's colour channels.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

# Lazy imports: torch is imported inside the functions that use them, so pages and commands that never call them
# do not pay its import time and memory on a shared server.

IMAGE_SIZES = (16, 32, 64)  # 64 px: the recipe's size; 16-32 px: quick runs (tests, a class short of time)
MAX_CONDITIONS = 4
DEFAULT_EPOCHS = 8
# The seed's recipe used 64 channels at the widest layer's base and batches of 128; half the width costs a
# quarter of the arithmetic and trains on 2 CPU cores in minutes (docs/bench/generate.md).
SEED_RECIPE = {"width": 64, "batch_size": 128, "epochs": 10}


@dataclass(frozen=True)
class GanConfig:
    """What to train. Epochs are not part of it: a generator trained longer is the same generator, further on."""

    image_size: int = 64
    attributes: tuple[str, ...] = ()  # conditional on these (at most 4); empty = unconditional
    width: int = 32  # channels of the generator's last hidden layer and the discriminator's first
    batch_size: int = 64
    latent_dim: int = 100
    learning_rate: float = 2e-4
    beta1: float = 0.5
    max_images: int = 0  # train on at most this many faces (a seeded sample; 0 = all)
    seed: int = 0

    @property
    def conditional(self) -> bool:
        return bool(self.attributes)


def validate_config(config: GanConfig, attributes: tuple[str, ...] | list[str]) -> GanConfig:
    """The config if it can be trained on a dataset with these attributes, else a ValueError saying what to change."""
    if config.image_size not in IMAGE_SIZES:
        raise ValueError(
            f"Image size {config.image_size} is not offered; choose one of {', '.join(map(str, IMAGE_SIZES))}."
        )
    if len(config.attributes) > MAX_CONDITIONS:
        raise ValueError(f"Condition on at most {MAX_CONDITIONS} attributes (got {len(config.attributes)}).")
    unknown = [a for a in config.attributes if a not in attributes]
    if unknown:
        have = ", ".join(attributes) or "none"
        raise ValueError(f"Unknown attributes {', '.join(unknown)}; this dataset has: {have}.")
    if len(set(config.attributes)) != len(config.attributes):
        raise ValueError("Each attribute can be conditioned on once.")
    if config.width < 4 or config.batch_size < 2 or config.latent_dim < 1:
        raise ValueError("Width must be at least 4, batches at least 2 faces and the noise at least 1 number.")
    return config


def n_upsamplings(image_size: int) -> int:
    """Stride-2 layers between the 4x4 start and the image: 2 at 16 px, 3 at 32 px, 4 at 64 px."""
    return int(math.log2(image_size // 4))


def _torch():
    import torch

    return torch


def Generator(config: GanConfig):  # noqa: N802 - a class factory (torch imported lazily)
    """Noise (B, latent_dim) [+ conditions (B, k) in {0, 1}] -> images (B, 3, S, S) in [-1, 1]."""
    torch = _torch()
    nn = torch.nn
    n_up = n_upsamplings(config.image_size)
    k = len(config.attributes)
    channels = [config.width * 2 ** (n_up - 1 - i) for i in range(n_up)]  # 64 px, width 32: 256, 128, 64, 32
    layers = [nn.ConvTranspose2d(config.latent_dim + k, channels[0], 4, 1, 0, bias=False)]
    layers += [nn.BatchNorm2d(channels[0]), nn.ReLU(True)]
    for cin, cout in itertools.pairwise(channels):
        layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
    layers += [nn.ConvTranspose2d(channels[-1], 3, 4, 2, 1, bias=False), nn.Tanh()]

    class _Generator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.n_conditions = k
            self.main = nn.Sequential(*layers)

        def forward(self, noise, conditions=None):
            x = noise if conditions is None or not k else torch.cat([noise, conditions.float()], dim=1)
            return self.main(x[:, :, None, None])

    return _Generator()


def Discriminator(config: GanConfig):  # noqa: N802
    """Images (B, 3, S, S) in [-1, 1] [+ conditions (B, k)] -> (B,) logits (sigmoid = D's belief the face is real)."""
    torch = _torch()
    nn = torch.nn
    n_down = n_upsamplings(config.image_size)
    k = len(config.attributes)
    channels = [config.width * 2**i for i in range(n_down)]  # 64 px, width 32: 32, 64, 128, 256
    layers = [nn.Conv2d(3 + k, channels[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
    for cin, cout in itertools.pairwise(channels):
        layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, True)]
    layers += [nn.Conv2d(channels[-1], 1, 4, 1, 0, bias=False)]

    class _Discriminator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.n_conditions = k
            self.main = nn.Sequential(*layers)

        def forward(self, images, conditions=None):
            if conditions is not None and k:
                planes = conditions.float()[:, :, None, None].expand(-1, -1, *images.shape[2:])
                images = torch.cat([images, planes * 2 - 1], dim=1)  # the image's range, [-1, 1]
            return self.main(images).flatten()

    return _Discriminator()


def init_weights(module) -> None:
    """The recipe's initialisation: convolutions N(0, 0.02), batch norm scale N(1, 0.02) and shift 0."""
    nn = _torch().nn
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build_pair(config: GanConfig, seed: int):
    """(generator, discriminator), freshly initialised from `seed`."""
    torch = _torch()
    torch.manual_seed(seed)
    generator, discriminator = Generator(config), Discriminator(config)
    generator.apply(init_weights)
    discriminator.apply(init_weights)
    return generator, discriminator


def pick_device(requested: str = "auto") -> str:
    """'cuda' when asked for or (auto) when a GPU is present, else 'cpu'; ValueError for an unknown name or a GPU
    asked for that is not there."""
    if requested not in ("auto", "cpu", "cuda"):
        raise ValueError(f"Unknown device {requested!r}; choose one of: auto, cpu, cuda.")
    available = _torch().cuda.is_available()
    if requested == "cuda" and not available:
        raise ValueError("No GPU is available to torch on this machine; use --device cpu (or auto).")
    return "cuda" if requested == "cuda" or (requested == "auto" and available) else "cpu"
