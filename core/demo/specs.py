"""Turn a LabelPlan into one FaceSpec per image: identity traits plus per-image variation.

Each person draws their own facial geometry and appearance once (IdentityTraits): eye spacing, size and tilt, brow
height and shape, nose length and width, mouth height and width, lips, jaw, chin, cheeks, ears, skin tone, eye and
brow colour, moles and freckles, hairline. These are what a face descriptor tells people apart by, so they spread
evenly over wide ranges. A photo then moves the apparent geometry a little (PHOTO_JITTER: expression, a slight
turn, the lens) and varies lighting, pose, scale, background and clothes; what the labels change per image
(expression, accessories, beard, hair now and then) is drawn from them.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterator
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
FRECKLED_SHARE = 0.15  # of light-skinned people
# How far one photo moves a person's apparent geometry (expression, a slight turn, the lens): +- px (radians for
# eye_tilt, factors for eye_open and face_w), a fraction of how far people differ.
PHOTO_JITTER = {
    "brow_gap": 1.2,
    "brow_tilt": 0.6,
    "eye_open": 0.1,
    "eye_dx": 0.5,
    "eye_tilt": 0.03,
    "nose_len": 0.8,
    "mouth_dy": 0.8,
    "mouth_hw": 0.6,
    "mouth_curve": 0.08,
    "face_w": 0.02,
    "chin_len": 1.0,
}
JITTER_SCALE = 1.3
# IdentityTraits fields handed to FaceSpec (after PHOTO_JITTER).
GEOMETRY = (
    "face_w",
    "jaw",
    "jaw_curve",
    "cheek",
    "chin_len",
    "forehead",
    "eye_dx",
    "eye_rx",
    "eye_open",
    "eye_tilt",
    "eye_crease",
    "socket",
    "brow_gap",
    "brow_len",
    "brow_arch",
    "brow_tilt",
    "brow_width",
    "nose_len",
    "nose_w",
    "mouth_dy",
    "mouth_hw",
    "lip_full",
    "lip_upper",
    "lip_lower",
    "lip_bow",
    "mouth_curve",
    "cheek_shade",
    "ear_size",
    "ear_dy",
)


@dataclass(frozen=True)
class IdentityTraits:
    """What stays the same on every image of one person: appearance and facial geometry."""

    skin: tuple[float, float, float]
    eye_color: tuple[float, float, float]
    lip_tint: tuple[float, float, float]
    hair_shade: float
    other_hair: tuple[float, float, float]
    hair_len: int
    hair_part: float
    hairline: float
    hair_volume: float
    hair_phase: float
    brows: tuple[float, float, float]
    eye_shadow: tuple[float, float, float]
    frames: tuple[float, float, float]
    marks: tuple[tuple[float, float, float, float], ...]
    face_w: float
    jaw: float
    jaw_curve: float
    cheek: float
    chin_len: float
    forehead: float
    eye_dx: float
    eye_rx: float
    eye_open: float
    eye_tilt: float
    eye_crease: float
    socket: float
    brow_gap: float
    brow_len: float
    brow_arch: float
    brow_tilt: float
    brow_width: int
    nose_len: float
    nose_w: float
    mouth_dy: float
    mouth_hw: float
    lip_full: float
    lip_upper: float
    lip_lower: float
    lip_bow: float
    mouth_curve: float
    cheek_shade: float
    ear_size: float
    ear_dy: float


def _around(rng: np.random.Generator, mean: float, half: float) -> float:
    """A uniform draw in mean +- half: people spread evenly over the whole range, not bunched at its middle."""
    return float(rng.uniform(mean - half, mean + half))


def _skin(pale: bool, rng: np.random.Generator) -> tuple[float, float, float]:
    """A skin colour anywhere along the tone ramp (not only its steps), with a warm or cool undertone."""
    if pale:
        base = np.asarray(PALE_SKIN) * rng.uniform(0.97, 1.02)
    else:
        i = int(rng.choice(len(SKIN_TONES), p=SKIN_WEIGHTS))
        j = min(i + 1, len(SKIN_TONES) - 1)
        base = np.asarray(SKIN_TONES[i]) + rng.uniform(0, 1) * (np.asarray(SKIN_TONES[j]) - np.asarray(SKIN_TONES[i]))
    warm = rng.uniform(-0.035, 0.045)
    return tuple(float(c) for c in np.clip(base * (1 + warm, 1.0, 1 - warm), 0, 1))


def _marks(light_skin: bool, rng: np.random.Generator) -> tuple[tuple[float, float, float, float], ...]:
    """A person's moles (0-3) and, for some light-skinned people, freckles across nose and cheeks."""
    marks = []
    for _ in range(min(3, int(rng.poisson(0.9)))):
        u, v = rng.uniform(-0.7, 0.7), rng.uniform(0.05, 1.0)
        marks.append((float(u), float(v), float(rng.uniform(1.1, 2.0)), float(rng.uniform(0.35, 0.55))))
    if light_skin and rng.random() < FRECKLED_SHARE:
        for _ in range(int(rng.integers(14, 28))):
            u = rng.choice((-1, 1)) * abs(rng.normal(0.3, 0.15))
            marks.append(
                (float(u), float(rng.normal(0.53, 0.06)), float(rng.uniform(0.7, 1.0)), float(rng.uniform(0.1, 0.2)))
            )
    return tuple(marks)


def identity_traits(labels: np.ndarray, rng: np.random.Generator) -> IdentityTraits:
    """Traits of a person whose label vector ((40,) 0/1) is labels."""
    a = dict(zip(CELEBA_ATTRIBUTES, labels.astype(bool)))
    attrs = frozenset(name for name, on in a.items() if on)
    male = bool(a["Male"])
    shade = float(rng.random())
    other_hair = UNLABELLED_HAIR[rng.integers(len(UNLABELLED_HAIR))]
    skin = _skin(bool(a["Pale_Skin"]), rng)
    if male:
        hair_len = int(rng.choice(3, p=(0.7, 0.27, 0.03)))
    else:
        hair_len = int(rng.choice(3, p=(0.05, 0.35, 0.6)))
    i = int(rng.integers(len(EYE_COLORS)))
    eye = np.asarray(EYE_COLORS[i]) + rng.uniform(0, 0.5) * (np.asarray(EYE_COLORS[i - 1]) - np.asarray(EYE_COLORS[i]))
    nose_len = _around(rng, 23.5 if male else 22.5, 5.5)
    return IdentityTraits(
        skin=skin,
        eye_color=tuple(float(c) for c in eye),
        lip_tint=(float(rng.uniform(0.82, 0.92)), float(rng.uniform(0.47, 0.62)), float(rng.uniform(0.48, 0.64))),
        hair_shade=shade,
        other_hair=other_hair,
        hair_len=hair_len,
        hair_part=float(rng.uniform(-0.3, 0.3)),
        hairline=float(rng.uniform(-3.0, 7.0)),
        hair_volume=float(rng.uniform(0.0, 6.0)),
        hair_phase=float(rng.uniform(0, 2 * np.pi)),
        brows=_brow_color(hair_color(attrs, shade, other_hair), attrs, float(rng.uniform(0.65, 1.1))),
        eye_shadow=_muted(rng, (0.5, 0.9), (0.4, 0.9)),
        frames=FRAME_COLORS[rng.integers(len(FRAME_COLORS))],
        marks=_marks(sum(skin) > 2.0, rng),
        face_w=_around(rng, 1.0, 0.13),
        jaw=float(rng.uniform(0.1, 0.3) if male else rng.uniform(0.25, 0.42)),
        jaw_curve=float(rng.uniform(1.4, 3.2)),
        cheek=float(rng.uniform(0.0, 0.07)),
        chin_len=_around(rng, 36.0 if male else 34.0, 5.0),
        forehead=float(rng.uniform(-4.0, 6.0)),
        eye_dx=_around(rng, 19.5, 3.6),
        eye_rx=_around(rng, 7.8 if male else 8.2, 1.5),
        eye_open=float(rng.uniform(0.8, 1.22)),
        eye_tilt=_around(rng, 0.0, 0.2),
        eye_crease=float(rng.uniform(2.0, 5.0) if rng.random() < 0.6 else 0.0),
        socket=float(rng.uniform(0.6, 0.84)),
        brow_gap=_around(rng, 13.0 if male else 14.5, 3.5),
        brow_len=float(rng.uniform(0.85, 1.2)),
        brow_arch=float(rng.uniform(0.8, 4.0)),
        brow_tilt=float(rng.uniform(-2.5, 3.0)),
        brow_width=int(rng.integers(-1, 3)),
        nose_len=nose_len,
        nose_w=_around(rng, 1.0, 0.25),
        mouth_dy=nose_len + _around(rng, 18.0, 4.5),
        mouth_hw=_around(rng, 16.8 if male else 16.2, 4.0),
        lip_full=float(rng.uniform(0.85, 1.05) * (1.0 if male else 1.08)),
        lip_upper=float(rng.uniform(0.7, 1.3)),
        lip_lower=float(rng.uniform(0.7, 1.3)),
        lip_bow=float(rng.uniform(0.3, 1.6)),
        mouth_curve=_around(rng, 0.0, 0.2),
        cheek_shade=float(rng.uniform(0.78, 1.0)),
        ear_size=float(rng.uniform(0.82, 1.2)),
        ear_dy=float(rng.uniform(-4.0, 4.0)),
    )


def hair_color(attrs: frozenset[str], shade: float, other: tuple[float, float, float]) -> tuple[float, float, float]:
    """The drawn hair colour for the labelled hair colours at a person's shade (mixed when several, other if none)."""
    shades = []
    for name, (dark, light) in HAIR_RANGES.items():
        if name in attrs:
            shades.append(np.asarray(dark) + shade * (np.asarray(light) - np.asarray(dark)))
    color = np.mean(shades, 0) if shades else np.asarray(other)
    return tuple(float(c) for c in color)


def _brow_color(hair: tuple[float, float, float], attrs: frozenset[str], tone: float) -> tuple[float, float, float]:
    """Brows a little darker than the natural hair (much darker under blond or grey), by the person's own tone.

    A person's brows keep this colour on every image, also where the hair is dyed."""
    h = np.asarray(hair) * tone
    if "Blond_Hair" in attrs or "Gray_Hair" in attrs:
        return tuple(float(c) for c in np.clip(h * 0.55, 0, 0.45))
    return tuple(float(c) for c in np.clip(h * 0.85, 0, 0.4))


def _muted(rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float]) -> tuple[float, ...]:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*sat), rng.uniform(*val))
    return (float(r), float(g), float(b))


def image_spec(attrs: frozenset[str], traits: IdentityTraits, seed: int, rng: np.random.Generator) -> FaceSpec:
    """The drawing spec of one image of a person with these traits and positive attributes."""
    hair = hair_color(attrs, traits.hair_shade, traits.other_hair)
    lip = tuple(float(c) for c in np.clip(np.asarray(traits.skin) * traits.lip_tint, 0, 1))
    geometry = {name: getattr(traits, name) for name in GEOMETRY}
    for name, half in PHOTO_JITTER.items():
        geometry[name] += float(rng.uniform(-half, half)) * JITTER_SCALE
    return FaceSpec(
        attrs=attrs,
        seed=seed,
        skin=traits.skin,
        eye_color=traits.eye_color,
        hair_color=hair,
        hair_len=traits.hair_len,
        hair_part=traits.hair_part,
        hairline=traits.hairline,
        hair_volume=traits.hair_volume,
        hair_phase=traits.hair_phase,
        brow_color=traits.brows,
        eye_shadow=traits.eye_shadow,
        lip_color=lip,
        marks=traits.marks,
        **geometry,
        dx=float(np.clip(rng.normal(0, 1.8), -5, 5)),
        dy=float(np.clip(rng.normal(0, 1.8), -5, 5)),
        scale=float(rng.uniform(0.95, 1.05)),
        yaw=float(rng.uniform(-0.12, 0.12)),
        pitch=float(rng.uniform(-0.06, 0.06)),
        light_x=float(rng.uniform(-0.45, 0.45)),
        light_gain=float(rng.uniform(0.88, 1.1)),
        bg_top=_muted(rng, (0.05, 0.5), (0.35, 0.95)),
        bg_bottom=_muted(rng, (0.05, 0.5), (0.2, 0.8)),
        cloth=_muted(rng, (0.1, 0.8), (0.1, 0.85)),
        accent=_muted(rng, (0.5, 0.9), (0.4, 0.9)),
        hat_color=_muted(rng, (0.2, 0.9), (0.15, 0.9)),
        hat_style=int(rng.integers(3)),
        glasses_color=traits.frames,
        glasses_dark=bool(rng.random() < 0.12),
        smile_strength=float(rng.uniform(0.75, 1.0)),
        rest_smile=float(rng.uniform(0.0, 0.12)),
        open_strength=float(rng.uniform(0.5, 1.0)),
        blur_radius=float(rng.uniform(1.0, 1.4)),
    )


def face_specs(plan: LabelPlan, seed: int = 0) -> list[FaceSpec]:
    """One FaceSpec per planned image, in image order (deterministic in seed)."""
    return list(iter_face_specs(plan, seed))


def iter_face_specs(plan: LabelPlan, seed: int = 0) -> Iterator[FaceSpec]:
    """face_specs one at a time: 202,599 specs held at once would take over a gigabyte."""
    rng = np.random.default_rng([seed, 2])
    names = np.asarray(CELEBA_ATTRIBUTES)
    traits: dict[int, IdentityTraits] = {}
    first_row = {}
    for row, ident in enumerate(plan.identity.tolist()):
        first_row.setdefault(ident, row)
    for ident in sorted(first_row):
        traits[ident] = identity_traits(plan.attributes[first_row[ident]], rng)
    image_seeds = rng.integers(0, 2**31 - 1, plan.n_images)
    for row in range(plan.n_images):
        attrs = frozenset(names[plan.attributes[row].astype(bool)].tolist())
        yield image_spec(attrs, traits[int(plan.identity[row])], int(image_seeds[row]), rng)
