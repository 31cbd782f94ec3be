"""Faces from a generator: seeded noise, conditions, interpolation and grids.

The noise of a seed is drawn on the CPU from torch's own generator, so seed 7 gives the same faces on any machine
(and on a GPU): a seed in a link reopens the same faces.
"""

from __future__ import annotations

import numpy as np

# Lazy imports: torch is imported inside the functions that use them.

GRID_FACES = 64
GRID_COLUMNS = 8
STRIP = 8  # faces in an interpolation strip


def noise(seed: int, n: int, latent_dim: int):
    """(n, latent_dim) float32 torch tensor of standard normal noise, the same for a seed everywhere."""
    import torch

    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(int(seed)))


def draw_conditions(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """(n, k) uint8 attribute values drawn with replacement from the (N, k) labels of the training faces, so the
    generated faces are asked for the attributes as often, and in the same combinations, as the data has them."""
    labels = np.asarray(labels, np.uint8)
    if labels.shape[1] == 0 or not len(labels):
        return np.zeros((n, labels.shape[1]), np.uint8)
    return labels[np.random.default_rng(seed).integers(0, len(labels), n)]


def to_uint8(images) -> np.ndarray:
    """(B, 3, S, S) torch images in [-1, 1] -> (B, S, S, 3) uint8."""
    import torch

    return ((images.detach().cpu().permute(0, 2, 3, 1) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()


def generate(net, latent, conditions: np.ndarray | None = None, batch: int = 256) -> np.ndarray:
    """(n, S, S, 3) uint8 faces of a generator (evaluation mode) for (n, latent_dim) noise and (n, k) conditions."""
    import torch

    net.eval()
    device = next(net.parameters()).device
    out = []
    with torch.no_grad():
        for start in range(0, len(latent), batch):
            z = latent[start : start + batch].to(device)
            c = None
            if conditions is not None and getattr(net, "n_conditions", 0):
                c = torch.from_numpy(np.asarray(conditions[start : start + batch], np.float32)).to(device)
            out.append(to_uint8(net(z, c)))
    return np.concatenate(out) if out else np.zeros((0, 0, 0, 3), np.uint8)


def interpolate(start, end, steps: int = STRIP):
    """(steps, D) noise on the great circle from `start` to `end` (D,): spherical interpolation, which keeps every
    step as far from the origin as noise usually is (a straight line passes through unlikely, washed-out faces)."""
    import torch

    a, b = start.double(), end.double()
    cos = torch.clamp((a / a.norm()) @ (b / b.norm()), -1.0, 1.0)
    omega = torch.arccos(cos)
    t = torch.linspace(0, 1, steps, dtype=torch.float64)[:, None]
    if float(omega) < 1e-6:
        return ((1 - t) * a + t * b).float()
    return ((torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)).float()


def tile(faces: np.ndarray, columns: int = GRID_COLUMNS, gap: int = 1) -> np.ndarray:
    """(H, W, 3) uint8 picture of (n, S, S, 3) faces in rows of `columns`, a white gap between them."""
    faces = np.asarray(faces, np.uint8)
    n, side = faces.shape[0], faces.shape[1]
    rows = max(1, -(-n // columns))
    step = side + gap
    sheet = np.full((rows * step - gap, columns * step - gap, 3), 255, np.uint8)
    for i, face in enumerate(faces):
        r, c = divmod(i, columns)
        sheet[r * step : r * step + side, c * step : c * step + side] = face
    return sheet


def enlarge(picture: np.ndarray, factor: int) -> np.ndarray:
    """Each pixel as a factor x factor block: small faces shown large without blurring them."""
    return np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1) if factor > 1 else picture


def asked_conditions(labels: np.ndarray, n: int, seed: int, asked: dict[int, int]) -> np.ndarray:
    """(n, k) uint8 conditions: drawn from the training faces' (N, k) labels, with the columns in `asked` (column ->
    0/1) fixed, so 'Eyeglasses, not Male' keeps the other attributes as the data mixes them."""
    conditions = draw_conditions(labels, n, seed)
    for column, value in asked.items():
        conditions[:, column] = value
    return conditions


def seed_faces(net, latent_dim: int, seed: int, conditions: np.ndarray | None, n: int = GRID_FACES) -> np.ndarray:
    """(n, S, S, 3) uint8: the first n faces of a seed's grid (the same noise everywhere) under these conditions."""
    return generate(net, grid_noise(seed, latent_dim)[:n], None if conditions is None else conditions[:n])


def grid_noise(seed: int, latent_dim: int):
    """(64, latent_dim) noise of a seed's grid; always drawn whole, so face k of a seed is face k however many are
    drawn (torch fills short tensors another way)."""
    return noise(seed, GRID_FACES, latent_dim)


def interpolation_strip(
    net, latent_dim: int, seed: int, start: int, end: int, conditions: np.ndarray | None, steps: int = STRIP
) -> np.ndarray:
    """(steps, S, S, 3) uint8 faces on the way from face `start` to face `end` of a seed's grid (0-based); a
    conditional generator's conditions move along with the noise."""
    import torch

    z = grid_noise(seed, latent_dim)
    path = interpolate(z[start], z[end], steps)
    blend = None
    if conditions is not None and conditions.shape[1]:
        t = np.linspace(0, 1, steps)[:, None]
        blend = (1 - t) * conditions[start].astype(np.float64) + t * conditions[end].astype(np.float64)
    return generate(net, torch.as_tensor(path), blend)


def switch_attribute(
    net, latent_dim: int, seed: int, conditions: np.ndarray, column: int, n: int = STRIP
) -> tuple[np.ndarray, np.ndarray]:
    """((n, S, S, 3) without, (n, S, S, 3) with) one attribute: the same noise and other conditions, the attribute
    switched off then on, for the first n faces of a seed."""
    off, on = conditions[:n].copy(), conditions[:n].copy()
    off[:, column], on[:, column] = 0, 1
    return seed_faces(net, latent_dim, seed, off, n), seed_faces(net, latent_dim, seed, on, n)
