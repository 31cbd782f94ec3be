"""Turn a LabelPlan into one FaceSpec per image: identity traits plus per-image variation."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from core.data.celeba import CELEBA_ATTRIBUTES
from core.demo.draw import FaceSpec
from core.demo.labels import LabelPlan

SKIN_TONES = (
    (0.96, 0.82, 0.72),
    (0.93, 0.76, 0.64),
    (0.88, 0.69, 0.55),
    (0.80, 0.60, 0.45),
    (0.70, 0.50, 0.36),
    (0.58, 0.40, 0.28),
    (0.45, 0.30, 0.21),
)
SKIN_WEIGHTS = (0.18, 0.24, 0.2, 0.14, 0.1, 0.08, 0.06)
PALE_SKIN = (0.98, 0.89, 0.84)
EYE_COLORS = ((0.30, 0.18, 0.10), (0.20, 0.12, 0.07), (0.25, 0.40, 0.60), (0.30, 0.45, 0.30), (0.45, 0.35, 0.20))
# Each labelled hair colour spans a range of shades; an identity keeps its place in each range.
HAIR_RANGES = {
    "Black_Hair": ((0.05, 0.04, 0.04), (0.13, 0.10, 0.09)),
    "Brown_Hair": ((0.25, 0.15, 0.08), (0.50, 0.33, 0.18)),
    "Blond_Hair": ((0.80, 0.64, 0.34), (0.95, 0.88, 0.62)),
    "Gray_Hair": ((0.62, 0.61, 0.60), (0.86, 0.86, 0.86)),
}
UNLABELLED_HAIR = ((0.50, 0.20, 0.10), (0.17, 0.12, 0.09), (0.62, 0.45, 0.28), (0.38, 0.18, 0.10))
FRAME_COLORS = ((0.06, 0.06, 0.08), (0.30, 0.17, 0.08), (0.45, 0.45, 0.50), (0.10, 0.12, 0.30))


@dataclass(frozen=True)
class IdentityTraits:
    """What stays the same on every image of one person."""

    skin: tuple[float, float, float]
    face_w: float
    face_h: float
    jaw: float
    eye_color: tuple[float, float, float]
    hair_shade: float
    other_hair: tuple[float, float, float]
    hair_len: int
    hair_part: float
    nose_w: float
    lip_full: float
    eye_open: float
    frames: tuple[float, float, float]


def identity_traits(labels: np.ndarray, rng: np.random.Generator) -> IdentityTraits:
    """Traits of a person whose label vector ((40,) 0/1) is labels."""
    a = dict(zip(CELEBA_ATTRIBUTES, labels.astype(bool)))
    male = a["Male"]
    tone = SKIN_TONES[rng.choice(len(SKIN_TONES), p=SKIN_WEIGHTS)]
    skin = PALE_SKIN if a["Pale_Skin"] else tone
    skin = tuple(float(np.clip(c * rng.uniform(0.97, 1.03), 0, 1)) for c in skin)
    if male:
        hair_len = int(rng.choice(3, p=(0.7, 0.27, 0.03)))
    else:
        hair_len = int(rng.choice(3, p=(0.05, 0.35, 0.6)))
    return IdentityTraits(
        skin=skin,
        face_w=float(np.clip(rng.normal(1.0, 0.035), 0.92, 1.08)),
        face_h=float(np.clip(rng.normal(1.0, 0.03), 0.93, 1.07)),
        jaw=float(rng.uniform(0.12, 0.28) if male else rng.uniform(0.28, 0.42)),
        eye_color=EYE_COLORS[rng.integers(len(EYE_COLORS))],
        hair_shade=float(rng.random()),
        other_hair=UNLABELLED_HAIR[rng.integers(len(UNLABELLED_HAIR))],
        hair_len=hair_len,
        hair_part=float(rng.uniform(-0.3, 0.3)),
        nose_w=float(rng.uniform(0.9, 1.1)),
        lip_full=float(rng.uniform(0.85, 1.05) * (1.0 if male else 1.08)),
        eye_open=float(rng.uniform(0.9, 1.12)),
        frames=FRAME_COLORS[rng.integers(len(FRAME_COLORS))],
    )


def hair_color(attrs: frozenset[str], traits: IdentityTraits) -> tuple[float, float, float]:
    """The drawn hair colour for the labelled hair colours (mixed when several, unlabelled if none)."""
    shades = []
    for name, (dark, light) in HAIR_RANGES.items():
        if name in attrs:
            shades.append(np.asarray(dark) + traits.hair_shade * (np.asarray(light) - np.asarray(dark)))
    color = np.mean(shades, 0) if shades else np.asarray(traits.other_hair)
    return tuple(float(c) for c in color)


def _brow_color(hair: tuple[float, float, float], attrs: frozenset[str]) -> tuple[float, float, float]:
    h = np.asarray(hair)
    if "Blond_Hair" in attrs or "Gray_Hair" in attrs:
        return tuple(float(c) for c in np.clip(h * 0.55, 0, 0.45))
    return tuple(float(c) for c in np.clip(h * 0.85, 0, 0.4))


def _muted(rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float]) -> tuple[float, ...]:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*sat), rng.uniform(*val))
    return (float(r), float(g), float(b))


def image_spec(attrs: frozenset[str], traits: IdentityTraits, seed: int, rng: np.random.Generator) -> FaceSpec:
    """The drawing spec of one image of a person with these traits and positive attributes."""
    hair = hair_color(attrs, traits)
    lip = tuple(float(c) for c in np.clip(np.asarray(traits.skin) * (0.86, 0.55, 0.55), 0, 1))
    return FaceSpec(
        attrs=attrs,
        seed=seed,
        skin=traits.skin,
        face_w=traits.face_w,
        face_h=traits.face_h,
        jaw=traits.jaw,
        eye_color=traits.eye_color,
        hair_color=hair,
        hair_len=traits.hair_len,
        hair_part=traits.hair_part,
        brow_color=_brow_color(hair, attrs),
        nose_w=traits.nose_w,
        lip_color=lip,
        lip_full=traits.lip_full,
        eye_open=traits.eye_open,
        dx=float(np.clip(rng.normal(0, 1.8), -5, 5)),
        dy=float(np.clip(rng.normal(0, 1.8), -5, 5)),
        scale=float(rng.uniform(0.95, 1.05)),
        light_x=float(rng.uniform(-0.55, 0.55)),
        light_gain=float(rng.uniform(0.88, 1.1)),
        bg_top=_muted(rng, (0.05, 0.5), (0.35, 0.95)),
        bg_bottom=_muted(rng, (0.05, 0.5), (0.2, 0.8)),
        cloth=_muted(rng, (0.1, 0.8), (0.1, 0.85)),
        accent=_muted(rng, (0.5, 0.9), (0.4, 0.9)),
        hat_color=_muted(rng, (0.2, 0.9), (0.15, 0.9)),
        hat_style=int(rng.integers(3)),
        glasses_color=traits.frames,
        glasses_dark=bool(rng.random() < 0.12),
        smile_strength=float(rng.uniform(0.6, 1.0)),
        rest_smile=float(rng.uniform(0.0, 0.12)),
        open_strength=float(rng.uniform(0.5, 1.0)),
        blur_radius=float(rng.uniform(1.5, 2.4)),
    )


def face_specs(plan: LabelPlan, seed: int = 0) -> list[FaceSpec]:
    """One FaceSpec per planned image, in image order (deterministic in seed)."""
    rng = np.random.default_rng([seed, 2])
    names = np.asarray(CELEBA_ATTRIBUTES)
    traits: dict[int, IdentityTraits] = {}
    first_row = {}
    for row, ident in enumerate(plan.identity.tolist()):
        first_row.setdefault(ident, row)
    for ident in sorted(first_row):
        traits[ident] = identity_traits(plan.attributes[first_row[ident]], rng)
    image_seeds = rng.integers(0, 2**31 - 1, plan.n_images)
    specs = []
    for row in range(plan.n_images):
        attrs = frozenset(names[plan.attributes[row].astype(bool)].tolist())
        specs.append(image_spec(attrs, traits[int(plan.identity[row])], int(image_seeds[row]), rng))
    return specs
