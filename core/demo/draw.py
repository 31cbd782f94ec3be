"""Draw one synthetic face (178x218 RGB) from a FaceSpec, with shading a HOG face detector accepts.

The layout follows CelebA's aligned crops: eyes on the line y=111 about (69,111) and (108,111),
nose tip near (88,134), mouth corners near (72,152) and (105,152). Each person moves these by
their own facial geometry (eye spacing and size, brow height, nose length and width, mouth
height and width, lips, jaw, chin, cheeks, ears, skin marks), which is what a face descriptor
tells people apart by. The person is drawn on a transparent layer in that canonical frame with
soft-edged masks (numpy) and simple lighting, then moved by the image's small pose/scale jitter
and laid over a background.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 178, 218
CX = 89.0
EYE_Y = 111.0
FACE_CY = 118.0
FRAME_WIDTH = 3
HEAD_RX, HEAD_RY = 58.0, 80.0  # radii of the cylinders a head turn and tilt are drawn on
MESH_CELL = 30  # px: cell of the mesh that moves the person into place (the turn is smooth at this scale)
MIN_NOSE_TO_MOUTH = 12.0  # px between the nose tip and the mouth line, whatever the traits
# A smile a CNN sees at 80 px (a pixel there is 2.2 px here): the corners rise SMILE_LIFT px at a full smile, where
# a person's resting mouth curve moves them REST_LIFT px per unit; the mouth widens, creases mark its corners and
# the cheek folds are dark and wide. At the version 3 strengths (4 px, 3 px folds) the smile was about one pixel at
# 80 px and the page's CNN learnt the drawn people before it (docs/bench/demo.md).
SMILE_LIFT = 7.0
REST_LIFT = 4.0
SMILE_WIDEN = 1.15
FOLD_WIDTH, FOLD_SHADE = 4, 0.62

Color = tuple[float, float, float]


@dataclass(frozen=True)
class FaceSpec:
    """Everything needed to draw one image: its positive attributes, identity traits and jitter."""

    attrs: frozenset[str]
    seed: int
    # identity traits: appearance
    skin: Color = (0.85, 0.68, 0.56)
    eye_color: Color = (0.30, 0.20, 0.12)
    hair_color: Color = (0.15, 0.10, 0.07)
    hair_len: int = 1
    hair_part: float = 0.0
    hairline: float = 0.0  # px the hairline sits lower (+) or higher (-)
    hair_volume: float = 0.0  # px of extra hair around the head
    hair_phase: float = 0.0  # where the strands and the fringe's locks fall (radians)
    brow_color: Color = (0.15, 0.10, 0.07)
    eye_shadow: Color = (0.45, 0.3, 0.55)
    lip_color: Color = (0.75, 0.45, 0.42)
    marks: tuple[tuple[float, float, float, float], ...] = ()  # moles/freckles: (u, v, radius, darkness)
    # identity traits: geometry (px in the 178x218 frame unless said)
    face_w: float = 1.0  # cheek width factor
    jaw: float = 0.3  # how much the face narrows toward the chin
    jaw_curve: float = 2.0  # exponent of that narrowing: low = V-shaped, high = square jaw
    cheek: float = 0.0  # extra width of the mid-face (round cheeks)
    chin_len: float = 35.0  # mouth line to chin
    forehead: float = 0.0  # extra forehead height
    eye_dx: float = 19.5  # half the distance between the eye centres
    eye_rx: float = 8.0  # half the eye's width
    eye_open: float = 1.0
    eye_tilt: float = 0.0  # radians; outer corners up (+) or down (-)
    eye_crease: float = 0.0  # px of the upper-lid crease above the lid (0: none)
    socket: float = 0.72  # shade of the eye sockets (lower: deeper-set eyes)
    brow_gap: float = 13.0  # eye line to brow
    brow_len: float = 1.0
    brow_arch: float = 2.0
    brow_tilt: float = 0.0  # px the outer end sits lower (+)
    brow_width: int = 0  # extra stroke width
    nose_len: float = 23.0  # eye line to nose tip
    nose_w: float = 1.0
    mouth_dy: float = 41.0  # eye line to mouth line
    mouth_hw: float = 16.5  # half the mouth's width
    lip_full: float = 1.0
    lip_upper: float = 1.0
    lip_lower: float = 1.0
    lip_bow: float = 1.0  # depth of the Cupid's bow
    mouth_curve: float = 0.0  # resting mouth corners up (+) or down (-)
    cheek_shade: float = 1.0  # shade under the cheekbones (lower: hollower cheeks)
    ear_size: float = 1.0
    ear_dy: float = 0.0
    # per-image variation
    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0
    angle: float = 0.0
    yaw: float = 0.0  # radians the head is turned (+: toward the image's right)
    pitch: float = 0.0  # radians the head is tilted (+: chin down)
    light_x: float = -0.3
    light_gain: float = 1.0
    bg_top: Color = (0.6, 0.65, 0.7)
    bg_bottom: Color = (0.4, 0.45, 0.5)
    cloth: Color = (0.2, 0.25, 0.4)
    accent: Color = (0.7, 0.1, 0.15)
    hat_color: Color = (0.2, 0.2, 0.5)
    hat_style: int = 0
    glasses_color: Color = (0.08, 0.08, 0.1)
    glasses_dark: bool = False
    smile_strength: float = 0.8  # used when Smiling
    rest_smile: float = 0.05  # used otherwise
    open_strength: float = 0.75  # used when Mouth_Slightly_Open
    blur_radius: float = 2.0  # used when Blurry

    def has(self, name: str) -> bool:
        """Whether the attribute is positive for this image."""
        return name in self.attrs

    @property
    def smile(self) -> float:
        """How far the mouth corners rise, 0..1."""
        return self.smile_strength if self.has("Smiling") else self.rest_smile

    @property
    def mouth_open(self) -> float:
        """How far the lips part, 0..1."""
        return self.open_strength if self.has("Mouth_Slightly_Open") else 0.0

    @property
    def blur(self) -> float:
        """Gaussian blur radius of the whole image in pixels (0 when sharp)."""
        return self.blur_radius if self.has("Blurry") else 0.0


@cache
def _grid() -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    return ys, xs


def _box(cx: float, cy: float, rx: float, ry: float) -> tuple[slice, slice]:
    y0, y1 = int(max(0, cy - ry - 3)), int(min(HEIGHT, cy + ry + 4))
    x0, x1 = int(max(0, cx - rx - 3)), int(min(WIDTH, cx + rx + 4))
    return slice(y0, max(y0, y1)), slice(x0, max(x0, x1))


def ellipse(cx: float, cy: float, rx: float, ry: float, soft: float = 1.0, angle: float = 0.0):
    """(slices, coverage) of a soft ellipse; soft is the rim width in pixels."""
    grow = 1.0 + 0.5 * max(soft, 0.3) / min(rx, ry)
    rr = max(rx, ry) * grow
    sl = _box(cx, cy, rr if angle else rx * grow, rr if angle else ry * grow)
    ys, xs = _grid()
    y, x = ys[sl] - cy, xs[sl] - cx
    if angle:
        c, s = np.cos(angle), np.sin(angle)
        x, y = c * x + s * y, -s * x + c * y
    r = np.sqrt((x / rx) ** 2 + (y / ry) ** 2)
    return sl, np.clip((1.0 - r) * min(rx, ry) / max(soft, 0.3) + 0.5, 0.0, 1.0)


def paint(canvas: np.ndarray, sl, mask: np.ndarray, color, alpha: float = 1.0) -> None:
    """Alpha-blend a colour (RGB 0..1 or an (h,w,3) array) into canvas[sl] under mask."""
    a = (mask * alpha)[..., None]
    region = canvas[sl]
    region += (np.asarray(color, np.float32) - region) * a


def tint(canvas: np.ndarray, sl, mask: np.ndarray, factor, amount: float = 1.0) -> None:
    """Multiply canvas[sl] by factor (scalar or RGB) under mask (shadows < 1, highlights > 1)."""
    f = np.asarray(factor, np.float32)
    canvas[sl] *= 1.0 + (f - 1.0) * (mask * amount)[..., None]


def pil_mask(draw_fn, blur: float = 0.0) -> tuple[tuple[slice, slice], np.ndarray]:
    """Coverage from PIL drawing calls on an L image, optionally blurred, cropped to its box."""
    img = Image.new("L", (WIDTH, HEIGHT), 0)
    draw_fn(ImageDraw.Draw(img))
    box = img.getbbox()
    if box is None:
        return (slice(0, 0), slice(0, 0)), np.zeros((0, 0), np.float32)
    pad = int(np.ceil(3 * blur)) + 1 if blur > 0 else 0
    x0, y0 = max(0, box[0] - pad), max(0, box[1] - pad)
    x1, y1 = min(WIDTH, box[2] + pad), min(HEIGHT, box[3] + pad)
    crop = img.crop((x0, y0, x1, y1))
    if blur > 0:
        crop = crop.filter(ImageFilter.GaussianBlur(blur))
    return (slice(y0, y1), slice(x0, x1)), np.asarray(crop, np.float32) / 255.0


def _add_coverage(alpha: np.ndarray, sl, mask: np.ndarray) -> None:
    region = alpha[sl]
    np.maximum(region, mask, out=region)


# ---------------------------------------------------------------- geometry of one face


@dataclass(frozen=True)
class _Geometry:
    rx: float  # cheek half-width
    ry_top: float
    ry_bot: float
    jaw: float
    jaw_curve: float
    cheek: float
    chin_y: float
    top_y: float  # top of the face shape (higher on bald heads)
    forehead_y: float  # where the forehead starts under hair or a hat
    eye_dx: float
    brow_y: float
    nose_y: float  # nose tip
    mouth_y: float  # the line between the lips
    mouth_hw: float
    ear_y: float


def _geometry(spec: FaceSpec) -> _Geometry:
    w = spec.face_w * (1.09 if spec.has("Chubby") else 1.0) * (0.95 if spec.has("Oval_Face") else 1.0)
    jaw = spec.jaw * (0.55 if spec.has("Chubby") else 1.0)
    forehead = 64.0 + spec.forehead
    nose_y = EYE_Y + spec.nose_len
    mouth_y = max(EYE_Y + spec.mouth_dy, nose_y + MIN_NOSE_TO_MOUTH)
    chin_y = mouth_y + spec.chin_len * (1.08 if spec.has("Oval_Face") else 1.0)
    ry_top = forehead + (14.0 if spec.has("Bald") else 0.0)
    return _Geometry(
        rx=45.0 * w,
        ry_top=ry_top,
        ry_bot=chin_y - FACE_CY,
        jaw=jaw,
        jaw_curve=spec.jaw_curve,
        cheek=spec.cheek + (0.04 if spec.has("Chubby") else 0.0),
        chin_y=chin_y,
        top_y=FACE_CY - ry_top,
        forehead_y=FACE_CY - forehead,
        eye_dx=spec.eye_dx,
        brow_y=EYE_Y - spec.brow_gap,
        nose_y=nose_y,
        mouth_y=mouth_y,
        mouth_hw=spec.mouth_hw,
        ear_y=EYE_Y + 13.0 + spec.ear_dy,
    )


def _face_field(g: _Geometry, sl=None):
    """Normalised coordinates (nx, ny, r) of the face egg shape over slice sl."""
    ys, xs = _grid()
    if sl is not None:
        ys, xs = ys[sl], xs[sl]
    dy = ys - FACE_CY
    ny = np.where(dy < 0, dy / g.ry_top, dy / g.ry_bot)
    width = g.rx * (1.0 - g.jaw * np.clip(ny, 0.0, 1.0) ** g.jaw_curve)
    if g.cheek:
        width = width * (1.0 + g.cheek * np.exp(-(((ny - 0.3) / 0.35) ** 2)))
    nx = (xs - CX) / width
    return nx, ny, np.sqrt(nx * nx + ny * ny)


# ---------------------------------------------------------------- layers


def _background(spec: FaceSpec, rng: np.random.Generator) -> np.ndarray:
    ys, _xs = _grid()
    t = (ys / HEIGHT)[..., None]
    top, bottom = np.asarray(spec.bg_top, np.float32), np.asarray(spec.bg_bottom, np.float32)
    bg = top * (1 - t) + bottom * t
    # a couple of out-of-focus blobs, as in photos taken anywhere
    for _ in range(2):
        cx, cy, r = rng.uniform(0, WIDTH), rng.uniform(0, HEIGHT), rng.uniform(25, 60)
        sl, m = ellipse(cx, cy, r, r, soft=r * 0.8)
        tint(bg, sl, m, rng.uniform(0.8, 1.2))
    return bg


def _shoulders(canvas, alpha, spec: FaceSpec, g: _Geometry) -> None:
    sl, m = ellipse(CX, g.chin_y + 78, 98, 62, soft=2)
    cloth = np.asarray(spec.cloth, np.float32)
    paint(canvas, sl, m, cloth)
    _add_coverage(alpha, sl, m)
    _ys, xs = _grid()
    shade = 0.75 + 0.35 * np.clip(1 - np.abs(xs[sl] - CX) / 110, 0, 1)
    tint(canvas, sl, m * (1 - shade), 0.0)


def _neck(canvas, alpha, spec: FaceSpec, g: _Geometry) -> None:
    half = 21.0 * (1.15 if spec.has("Male") else 1.0) * (1.12 if spec.has("Chubby") else 1.0)
    _ys, xs = _grid()
    y0 = int(FACE_CY + 20)
    sl = (slice(y0, HEIGHT), slice(int(CX - half - 2), int(CX + half + 3)))
    m = np.clip(half - np.abs(xs[sl] - CX) + 0.5, 0, 1)
    skin = np.asarray(spec.skin, np.float32) * 0.82
    paint(canvas, sl, m, skin)
    _add_coverage(alpha, sl, m)
    # side shading of the cylinder
    side = np.clip(np.abs(xs[sl] - CX) / half, 0, 1) ** 2
    tint(canvas, sl, m * side, 0.72)
    # the jaw casts a shadow on the neck
    sl2, m2 = ellipse(CX, g.chin_y + 4, g.rx * 0.75, 16, soft=10)
    tint(canvas, sl2, m2, 0.55)


def _necklace(canvas, spec: FaceSpec, g: _Geometry, rng) -> None:
    y = g.chin_y + 17
    gold = np.array(spec.accent if rng.random() < 0.4 else (0.95, 0.8, 0.35), np.float32)
    for i in range(-7, 8):
        t = i / 7.0
        x = CX + t * 24
        yy = y + 8 * (1 - t * t)
        if yy >= HEIGHT - 1:
            continue
        sl, m = ellipse(x, yy, 2.2, 2.2, soft=0.6)
        paint(canvas, sl, m, gold)
        sl, m = ellipse(x - 0.6, yy - 0.6, 0.8, 0.8, soft=0.5)
        paint(canvas, sl, m, (1.0, 1.0, 0.95), 0.8)


def _necktie(canvas, spec: FaceSpec, g: _Geometry) -> None:
    top = g.chin_y + 12
    sl, m = pil_mask(
        lambda d: d.polygon(
            [(CX - 26, top - 2), (CX, top + 12), (CX + 26, top - 2), (CX + 30, HEIGHT), (CX - 30, HEIGHT)], fill=255
        )
    )
    paint(canvas, sl, m, (0.93, 0.93, 0.95))
    sl, m = pil_mask(
        lambda d: d.polygon(
            [
                (CX - 5, top + 6),
                (CX + 5, top + 6),
                (CX + 3, top + 12),
                (CX + 8, HEIGHT),
                (CX - 8, HEIGHT),
                (CX - 3, top + 12),
            ],
            fill=255,
        )
    )
    paint(canvas, sl, m, spec.accent)
    sl, m = pil_mask(lambda d: d.line([(CX - 26, top - 2), (CX, top + 12), (CX + 26, top - 2)], fill=255, width=2))
    tint(canvas, sl, m, 0.6)


def _ears(canvas, alpha, spec: FaceSpec, g: _Geometry) -> None:
    skin = np.asarray(spec.skin, np.float32)
    s = spec.ear_size
    for side in (-1, 1):
        x = CX + side * (g.rx - 1)
        sl, m = ellipse(x, g.ear_y, 7 * s, 15 * s, soft=1.2)
        paint(canvas, sl, m, skin * 0.88)
        _add_coverage(alpha, sl, m)
        sl, m = ellipse(x + side * 1.5, g.ear_y, 3.5 * s, 9 * s, soft=2)
        tint(canvas, sl, m, 0.75)


def _face(canvas, alpha, spec: FaceSpec, g: _Geometry) -> None:
    sl = _box(CX, FACE_CY + (g.ry_bot - g.ry_top) / 2, g.rx, (g.ry_top + g.ry_bot) / 2)
    nx, ny, r = _face_field(g, sl)
    m = np.clip((1.0 - r) * 40.0 + 0.5, 0.0, 1.0)
    z = np.sqrt(np.clip(1.0 - r * r, 0.0, 1.0))
    lx, ly, lz = spec.light_x, -0.35, 0.85
    norm = np.sqrt(lx * lx + ly * ly + lz * lz)
    diffuse = np.clip((nx * lx + ny * ly + z * lz) / norm, 0.0, 1.0)
    shade = 0.42 + 0.68 * diffuse
    skin = np.asarray(spec.skin, np.float32)
    paint(canvas, sl, m, skin[None, None, :] * shade[..., None])
    _add_coverage(alpha, sl, m)
    # a lit forehead and a darker band at the sides of the jaw
    fsl, fm = ellipse(CX - 4, FACE_CY - 38, g.rx * 0.6, 20, soft=14)
    tint(canvas, fsl, fm, 1.12)


def _double_chin(canvas, spec: FaceSpec, g: _Geometry) -> None:
    skin = np.asarray(spec.skin, np.float32)
    sl, m = ellipse(CX, g.chin_y + 1, 23, 8, soft=5)
    paint(canvas, sl, m, skin * 0.78)
    sl, m = ellipse(CX - 3, g.chin_y - 1, 12, 3, soft=3)
    tint(canvas, sl, m, 1.08)
    sl, m = pil_mask(lambda d: d.arc((CX - 24, g.chin_y - 6, CX + 24, g.chin_y + 10), 20, 160, fill=255, width=2), 1.2)
    tint(canvas, sl, m, 0.62)
    sl, m = pil_mask(lambda d: d.arc((CX - 18, g.chin_y - 14, CX + 18, g.chin_y + 1), 35, 145, fill=255, width=1), 0.8)
    tint(canvas, sl, m, 0.8)


def _eye_region(canvas, spec: FaceSpec, g: _Geometry) -> None:
    makeup = spec.has("Heavy_Makeup")
    k = spec.eye_rx / 8.0
    for side in (-1, 1):
        ex = CX + side * g.eye_dx
        # socket: darker than the cheeks, darkest toward the nose
        sl, m = ellipse(ex - side * 2, EYE_Y - 3, 15 * k, 10, soft=7)
        tint(canvas, sl, m, spec.socket)
        sl, m = ellipse(ex - side * 9 * k, EYE_Y - 2, 5, 8, soft=4)
        tint(canvas, sl, m, 0.85)
        if makeup:
            sl, m = ellipse(ex, EYE_Y - 5, 11 * k, 5, soft=3)
            paint(canvas, sl, m, spec.eye_shadow, 0.35)
        if spec.has("Bags_Under_Eyes"):
            sl, m = ellipse(ex, EYE_Y + 7, 9 * k, 3, soft=2)
            tint(canvas, sl, m, 0.8)
            sl, m = pil_mask(
                lambda d, ex=ex: d.arc((ex - 9 * k, EYE_Y + 2, ex + 9 * k, EYE_Y + 11), 20, 160, fill=255, width=1),
                0.5,
            )
            tint(canvas, sl, m, 0.75)


def _lid(ex: float, rx: float, ry: float, angle: float, lower: bool) -> list[tuple[float, float]]:
    """Points along the upper (or lower) edge of an eye ellipse centred on (ex, EYE_Y), rotated by angle."""
    t = np.linspace(0.0, np.pi, 11)
    u, v = rx * np.cos(t), ry * np.sin(t) * (1 if lower else -1)
    c, s = np.cos(angle), np.sin(angle)
    return [(float(ex + c * a - s * b), float(EYE_Y + s * a + c * b)) for a, b in zip(u, v)]


def _eyes(canvas, spec: FaceSpec, g: _Geometry) -> None:
    open_ = spec.eye_open * (0.5 if spec.has("Narrow_Eyes") else 1.0) * (1 - 0.25 * spec.smile)
    rx, ry = spec.eye_rx, max(3.8 * open_, 1.2)
    iris_r = 3.9 * (rx / 8.0) ** 0.5
    liner = 2 if spec.has("Heavy_Makeup") else 1
    for side in (-1, 1):
        ex = CX + side * g.eye_dx
        angle = -side * spec.eye_tilt  # outer corners up for a positive tilt
        ysl, ym = ellipse(ex, EYE_Y, rx, ry, soft=0.8, angle=angle)
        paint(canvas, ysl, ym, (0.88, 0.86, 0.84))
        sl, m = ellipse(ex, EYE_Y, iris_r, iris_r, soft=0.8)
        paint(canvas, sl, m * _crop_like(ym, ysl, sl), spec.eye_color)
        sl2, m2 = ellipse(ex, EYE_Y, 1.7, 1.7, soft=0.6)
        paint(canvas, sl2, m2 * _crop_like(ym, ysl, sl2), (0.03, 0.03, 0.03))
        sl2, m2 = ellipse(ex + 1.2, EYE_Y - 1.2, 0.8, 0.8, soft=0.4)
        paint(canvas, sl2, m2, (1, 1, 1), 0.8)
        # upper lid line and lashes, faint lower lid
        upper = _lid(ex, rx + 0.5, ry + 0.5, angle, lower=False)
        sl, m = pil_mask(lambda d, pts=upper: d.line(pts, fill=255, width=liner, joint="curve"), 0.5)
        paint(canvas, sl, m, (0.05, 0.04, 0.04), 0.9)
        lower = _lid(ex, rx, ry + 0.5, angle, lower=True)[2:-2]
        sl, m = pil_mask(lambda d, pts=lower: d.line(pts, fill=255), 0.5)
        tint(canvas, sl, m, 0.7)
        if spec.eye_crease > 0:
            crease = _lid(ex, rx + 0.5, ry + 0.5 + spec.eye_crease, angle, lower=False)[2:-2]
            sl, m = pil_mask(lambda d, pts=crease: d.line(pts, fill=255), 0.6)
            tint(canvas, sl, m, 0.72)


def _crop_like(mask: np.ndarray, sl_mask, sl_target) -> np.ndarray:
    """mask (defined over sl_mask) re-cut to the box sl_target (zeros outside)."""
    out = np.zeros((sl_target[0].stop - sl_target[0].start, sl_target[1].stop - sl_target[1].start), np.float32)
    y0 = max(sl_mask[0].start, sl_target[0].start)
    y1 = min(sl_mask[0].stop, sl_target[0].stop)
    x0 = max(sl_mask[1].start, sl_target[1].start)
    x1 = min(sl_mask[1].stop, sl_target[1].stop)
    if y1 > y0 and x1 > x0:
        out[y0 - sl_target[0].start : y1 - sl_target[0].start, x0 - sl_target[1].start : x1 - sl_target[1].start] = (
            mask[y0 - sl_mask[0].start : y1 - sl_mask[0].start, x0 - sl_mask[1].start : x1 - sl_mask[1].start]
        )
    return out


def _eyebrows(canvas, spec: FaceSpec, g: _Geometry) -> None:
    width = (5 if spec.has("Bushy_Eyebrows") else (4 if spec.has("Male") else 3)) + spec.brow_width
    arch = spec.brow_arch + (3.5 if spec.has("Arched_Eyebrows") else 0.0)
    y = g.brow_y - (1.5 if spec.has("Arched_Eyebrows") else 0)
    alpha = 0.95 if spec.has("Bushy_Eyebrows") else 0.8
    n = spec.brow_len
    for side in (-1, 1):
        ex = CX + side * g.eye_dx
        pts = [
            (ex - side * 10, y + 1.5),
            (ex - side * 3, y - arch * 0.6),
            (ex + side * 4 * n, y - arch),
            (ex + side * 12 * n, y + 2.5 + spec.brow_tilt),
        ]
        sl, m = pil_mask(lambda d, pts=pts: d.line(pts, fill=255, width=width, joint="curve"), 0.7)
        paint(canvas, sl, m, spec.brow_color, alpha)


def _nose(canvas, spec: FaceSpec, g: _Geometry) -> None:
    big = spec.has("Big_Nose")
    pointy = spec.has("Pointy_Nose")
    w = spec.nose_w * (1.35 if big else 1.0) * (0.85 if pointy else 1.0)
    tip_y = g.nose_y + (2.5 if big else 0) + (1.5 if pointy else 0)
    lit = -1 if spec.light_x < 0 else 1
    # bridge highlight and the shadowed side of the nose
    sl, m = ellipse(CX + lit * 2, (EYE_Y + tip_y) / 2 - 1, 2.5, (tip_y - EYE_Y) / 2 + 1.5, soft=2.5)
    tint(canvas, sl, m, 1.13)
    for side in (-1, 1):
        strength = 0.7 if side != lit else 0.86
        sl, m = pil_mask(
            lambda d, side=side: d.line(
                [(CX + side * 5, EYE_Y + 3), (CX + side * 6.5 * w, tip_y - 5)], fill=255, width=3
            ),
            2.0,
        )
        tint(canvas, sl, m, strength)
        # alar wing
        sl, m = ellipse(CX + side * 7.5 * w, tip_y + 1, 3.5 * w, 4.0, soft=1.8)
        tint(canvas, sl, m, 0.8)
        # nostril
        sl, m = ellipse(CX + side * 4.2 * w, tip_y + 3.2, 2.4 * w, 1.4, soft=0.8)
        tint(canvas, sl, m, 0.45)
    # tip highlight and the shadow under the nose
    tip_r = 3.2 if pointy else 4.5 * w
    sl, m = ellipse(CX + lit * 1, tip_y - 1, tip_r, tip_r * (1.1 if pointy else 0.9), soft=2.5)
    tint(canvas, sl, m, 1.14 if pointy else 1.09)
    sl, m = ellipse(CX, tip_y + 6, 9 * w, 2.6, soft=2.0)
    tint(canvas, sl, m, 0.82)


def _mouth_points(spec: FaceSpec, g: _Geometry):
    hw = g.mouth_hw * (SMILE_WIDEN if spec.smile > 0.5 else 1.0) * (1.08 if spec.has("Big_Lips") else 1.0)
    lip = spec.lip_full * (1.7 if spec.has("Big_Lips") else 1.0)
    opening = spec.mouth_open * (5.5 + 3.0 * spec.smile)
    n = 13
    ts = np.linspace(-1, 1, n)
    lift = SMILE_LIFT * spec.smile + REST_LIFT * spec.mouth_curve  # px the corners rise above the middle
    line = g.mouth_y - lift * ts**2 + lift / 4
    bow = lip * 0.9 * spec.lip_bow * np.exp(-((ts / 0.18) ** 2))
    upper_top = line - opening / 2 - lip * spec.lip_upper * 3.3 * (1 - ts**2) ** 0.5 + bow
    upper_bot = line - opening / 2
    lower_top = line + opening / 2 * (1 - 0.3 * ts**2)
    lower_bot = line + opening / 2 + lip * spec.lip_lower * 4.3 * (1 - ts**2) ** 0.6
    xs = CX + hw * ts
    return xs, upper_top, upper_bot, lower_top, lower_bot


def _mouth(canvas, spec: FaceSpec, g: _Geometry) -> None:
    xs, ut, ub, lt, lb = _mouth_points(spec, g)

    def pts(a, b):
        return [(float(x), float(y)) for x, y in zip(xs, a)] + [(float(x), float(y)) for x, y in zip(xs[::-1], b[::-1])]

    if spec.has("Wearing_Lipstick"):
        color = np.asarray(spec.lip_color, np.float32) * 0.5 + np.asarray((0.75, 0.08, 0.2), np.float32) * 0.5
        color = np.clip(color * np.asarray((1.1, 0.6, 0.75)), 0, 1)
    else:
        color = np.asarray(spec.lip_color, np.float32)
    # shadow below the lower lip and a smile's cheek folds
    sl, m = ellipse(CX, lb.max() + 4, 10, 3, soft=2.5)
    tint(canvas, sl, m, 0.8)
    if spec.smile > 0.3:
        fold = g.mouth_hw - 6.5
        for side in (-1, 1):
            sl, m = pil_mask(
                lambda d, side=side: d.arc(
                    (CX + side * fold - 14, g.nose_y - 2, CX + side * fold + 14, g.mouth_y + 10),
                    *((90, 200) if side < 0 else (-20, 90)),
                    fill=255,
                    width=FOLD_WIDTH,
                ),
                1.2,
            )
            tint(canvas, sl, m, FOLD_SHADE, spec.smile)
            # the crease at each raised corner of the mouth
            sl, m = ellipse(float(xs[0 if side < 0 else -1]) + side * 1.5, float(ut[0]) + 1.0, 2.0, 2.4, soft=1.0)
            tint(canvas, sl, m, 0.55, spec.smile)
    if spec.mouth_open > 0.05:
        sl, m = pil_mask(lambda d: d.polygon(pts(ub, lt), fill=255), 0.4)
        paint(canvas, sl, m, (0.18, 0.05, 0.06))
        if spec.smile > 0.3:
            teeth_h = (lt - ub).max() * 0.45
            sl, m = pil_mask(lambda d: d.polygon(pts(ub, ub + teeth_h), fill=255), 0.4)
            paint(canvas, sl, m, (0.9, 0.88, 0.82))
    sl, m = pil_mask(lambda d: d.polygon(pts(ut, ub), fill=255), 0.5)
    paint(canvas, sl, m, color * 0.82)
    sl, m = pil_mask(lambda d: d.polygon(pts(lt, lb), fill=255), 0.5)
    paint(canvas, sl, m, color)
    sl, m = ellipse(CX, (lt.mean() + lb.max()) / 2, 6, 1.3, soft=1.5)
    tint(canvas, sl, m, 1.15)
    sl, m = pil_mask(lambda d: d.line([(float(x), float(y)) for x, y in zip(xs, ub)], fill=255, width=1), 0.4)
    tint(canvas, sl, m, 0.45)


def _cheeks(canvas, spec: FaceSpec, g: _Geometry) -> None:
    for side in (-1, 1):
        x = CX + side * (g.eye_dx + 7.5)
        if spec.cheek_shade < 1.0:
            sl, m = ellipse(x + side * 6, (EYE_Y + g.mouth_y) / 2 + 6, 6, 11, soft=6, angle=side * -0.3)
            tint(canvas, sl, m, spec.cheek_shade)
        if spec.has("High_Cheekbones"):
            sl, m = ellipse(x, EYE_Y + 15, 11, 5, soft=6, angle=side * 0.3)
            tint(canvas, sl, m, 1.17)
            sl, m = ellipse(x + side * 5, EYE_Y + 31, 5, 12, soft=6, angle=side * -0.35)
            tint(canvas, sl, m, 0.84)
        if spec.has("Rosy_Cheeks"):
            sl, m = ellipse(x - side, EYE_Y + 22, 11, 8, soft=7)
            paint(canvas, sl, m, (0.92, 0.35, 0.38), 0.55)
        elif spec.has("Heavy_Makeup"):
            sl, m = ellipse(x + side, EYE_Y + 20, 9, 6, soft=6)
            paint(canvas, sl, m, (0.85, 0.45, 0.45), 0.3)


def _marks(canvas, spec: FaceSpec, g: _Geometry) -> None:
    """Moles and freckles at the person's own places: (u, v) across the cheeks and forehead, in face units."""
    for u, v, radius, darkness in spec.marks:
        x = CX + u * g.rx
        y = (g.forehead_y + 12) + v * (g.chin_y - 10 - g.forehead_y - 12)
        near_eye = abs(y - EYE_Y) < 8 and abs(abs(x - CX) - g.eye_dx) < spec.eye_rx + 4
        near_mouth = abs(y - g.mouth_y) < 8 and abs(x - CX) < g.mouth_hw + 3
        near_brow = abs(y - g.brow_y) < 5 and abs(abs(x - CX) - g.eye_dx) < 13
        if near_eye or near_mouth or near_brow:
            continue
        sl, m = ellipse(x, y, radius, radius * 0.9, soft=0.7)
        tint(canvas, sl, m, 1.0 - darkness)


def _age_lines(canvas, spec: FaceSpec, g: _Geometry) -> None:
    for i in range(3):
        y = g.forehead_y + 20 + i * 5.5
        sl, m = pil_mask(lambda d, y=y: d.arc((CX - 24, y, CX + 24, y + 10), 200, 340, fill=255, width=1), 0.5)
        tint(canvas, sl, m, 0.68)
    for side in (-1, 1):
        x = CX + side * (g.eye_dx + spec.eye_rx + 3)
        for k in (-1, 0, 1):
            sl, m = pil_mask(
                lambda d, x=x, k=k, side=side: d.line(
                    [(x, EYE_Y + k * 2.5), (x + side * 5, EYE_Y + k * 4.5)], fill=255
                ),
                0.4,
            )
            tint(canvas, sl, m, 0.7)
        fold = g.mouth_hw + 2.5
        sl, m = pil_mask(
            lambda d, side=side, fold=fold: d.line(
                [(CX + side * 9, g.nose_y), (CX + side * fold, g.mouth_y + 3)], fill=255, width=2
            ),
            0.6,
        )
        tint(canvas, sl, m, 0.62)
        # sagging cheeks: a shadow beside the chin
        sl, m = ellipse(CX + side * (g.mouth_hw + 3.5), g.mouth_y + 14, 5, 8, soft=4)
        tint(canvas, sl, m, 0.82)


def _beard_region(spec: FaceSpec, g: _Geometry, kind: str):
    """Coverage for a kind of facial hair inside the face outline."""
    ys, xs = _grid()
    sl = (slice(int(g.mouth_y - 20), int(min(HEIGHT, g.chin_y + 4))), slice(int(CX - g.rx - 2), int(CX + g.rx + 3)))
    nx, _ny, r = _face_field(g, sl)
    inside = np.clip((1.0 - r) * 30, 0, 1)
    y, x = ys[sl], xs[sl]
    _, _, _, _, lb = _mouth_points(spec, g)
    lip_bottom = float(lb.max())
    if kind == "stubble":
        zone = np.clip((y - (g.nose_y + 6)) / 4, 0, 1) * np.clip((np.abs(nx) - 0.2 + (y - g.mouth_y) / 40) * 4, 0, 1)
        zone = np.maximum(zone, np.clip((y - lip_bottom - 2) / 3, 0, 1))
        upper = np.clip(1 - np.abs(y - (g.mouth_y - 7)) / 3, 0, 1) * np.clip(1 - np.abs(x - CX) / g.mouth_hw, 0, 1)
        zone = np.maximum(zone, upper)
    elif kind == "goatee":
        zone = np.clip((14 - np.hypot((x - CX) / 0.9, y - (g.chin_y - 10))) / 2, 0, 1)
        zone *= np.clip((y - lip_bottom - 1) / 2, 0, 1)
    elif kind == "full":
        zone = np.clip((y - (g.nose_y + 2)) / 5, 0, 1) * np.clip((np.abs(nx) - 0.55 + (y - g.mouth_y) / 25) * 5, 0, 1)
        zone = np.maximum(zone, np.clip((y - lip_bottom - 2) / 3, 0, 1))
    else:
        raise ValueError(kind)
    return sl, inside * zone


def _facial_hair(canvas, spec: FaceSpec, g: _Geometry, rng) -> None:
    hair = np.asarray(spec.brow_color, np.float32)
    beard = not spec.has("No_Beard")
    kinds = [k for k in ("5_o_Clock_Shadow", "Goatee", "Mustache", "Sideburns") if spec.has(k)]
    if spec.has("5_o_Clock_Shadow"):
        sl, m = _beard_region(spec, g, "stubble")
        noise = rng.random(m.shape).astype(np.float32)
        paint(canvas, sl, m * (0.25 + 0.35 * noise), hair * 0.6 + 0.1)
    if beard and not kinds:
        sl, m = _beard_region(spec, g, "full")
        noise = rng.random(m.shape).astype(np.float32)
        paint(canvas, sl, m * (0.7 + 0.3 * noise), hair)
    if spec.has("Goatee"):
        sl, m = _beard_region(spec, g, "goatee")
        noise = rng.random(m.shape).astype(np.float32)
        paint(canvas, sl, m * (0.75 + 0.25 * noise), hair)
    if spec.has("Mustache") or spec.has("Goatee"):
        xs, ut, *_ = _mouth_points(spec, g)
        pts = [(float(x), float(y) - 1.5) for x, y in zip(xs, ut)]
        pts_top = [(float(x), float(y) - 6.5 + 2.5 * abs(x - CX) / g.mouth_hw) for x, y in zip(xs[::-1], ut[::-1])]
        sl, m = pil_mask(lambda d: d.polygon(pts + pts_top, fill=255), 0.8)
        paint(canvas, sl, m, hair, 0.95)
    if spec.has("Sideburns"):
        for side in (-1, 1):
            x = CX + side * (g.rx - 5)
            sl, m = pil_mask(
                lambda d, x=x, side=side: d.polygon(
                    [(x - 4, 95), (x + 4, 95), (x + 3 * side + 1, 142), (x - 2 * side, 140)], fill=255
                ),
                1.0,
            )
            paint(canvas, sl, m, hair, 0.9)


# ---------------------------------------------------------------- hair and headwear


def _hair_texture(spec: FaceSpec, sl) -> np.ndarray:
    ys, xs = _grid()
    y, x = ys[sl], xs[sl]
    phase = spec.hair_phase
    if spec.has("Wavy_Hair"):
        t = np.sin(y * 0.32 + 3.0 * np.sin(x * 0.09 + phase)) * 0.5 + 0.5
        strands = 0.72 + 0.4 * t
    elif spec.has("Straight_Hair"):
        t = np.sin(x * 1.1 + 2.0 * np.sin(x * 0.23 + phase) + 0.05 * y) * 0.5 + 0.5
        strands = 0.7 + 0.48 * t
    else:  # neither: tousled, a little curly
        t = np.sin(x * 0.9 + 2.5 * np.sin(y * 0.15 + phase) + 1.5 * np.sin(x * 0.2 - y * 0.1))
        strands = 0.9 + 0.12 * t
    top = max(sl[0].start, 20)
    gloss = 1.0 + 0.25 * np.exp(-(((y - top - 18) / 12) ** 2))
    base = np.asarray(spec.hair_color, np.float32)
    return np.clip(base[None, None, :] * (strands * gloss)[..., None], 0, 1)


def _hair_back(canvas, alpha, spec: FaceSpec, g: _Geometry) -> None:
    if spec.hair_len == 0 or spec.has("Bald"):
        return
    bottom = {1: EYE_Y + 45, 2: HEIGHT + 10}[spec.hair_len]
    wavy = spec.has("Wavy_Hair")
    extra = (13 if wavy else 9) + spec.hair_volume
    rx = g.rx + extra
    ytop = g.top_y - 14

    def draw(d):
        d.ellipse((CX - rx, ytop, CX + rx, ytop + 2 * (FACE_CY - ytop)), fill=255)
        pts = []
        for i in range(16):
            y = FACE_CY + (bottom - FACE_CY) * i / 15
            wobble = 4 * np.sin(y * 0.25) if wavy else 0
            pts.append((CX - rx - 2 * i / 15 * extra + wobble, y))
        for i in reversed(range(16)):
            y = FACE_CY + (bottom - FACE_CY) * i / 15
            wobble = 4 * np.sin(y * 0.25 + 1) if wavy else 0
            pts.append((CX + rx + 2 * i / 15 * extra + wobble, y))
        d.polygon(pts, fill=255)

    sl, m = pil_mask(draw, 1.0)
    paint(canvas, sl, m, _hair_texture(spec, sl) * 0.8)
    _add_coverage(alpha, sl, m)


def _hairline(spec: FaceSpec, g: _Geometry, u: np.ndarray) -> np.ndarray:
    """y of the hairline at normalised horizontal position u = |x - CX| / rx."""
    base = g.top_y + 10 + spec.hairline
    y = base + 36 * u**2.2
    if spec.has("Receding_Hairline"):
        y = y - 6 - 13 * np.exp(-(((u - 0.6) / 0.2) ** 2))
    return y


def _hair_front(canvas, alpha, spec: FaceSpec, g: _Geometry) -> None:
    ys, xs = _grid()
    bald = spec.has("Bald")
    wavy = spec.has("Wavy_Hair")
    short = spec.hair_len == 0
    rx = g.rx + (9 if wavy else 6) - (3 if short else 0) + spec.hair_volume * 0.5
    ytop = g.top_y - (13 if wavy else 10) + (3 if short else 0) - spec.hair_volume * 0.5
    temple_y = EYE_Y - 6 if short else EYE_Y + 10
    sl = (slice(max(0, int(ytop) - 2), int(FACE_CY + 30)), slice(int(CX - rx - 3), int(CX + rx + 4)))
    y, x = ys[sl], xs[sl]
    head_r = np.sqrt(((x - CX) / rx) ** 2 + ((y - FACE_CY) / (FACE_CY - ytop)) ** 2)
    head = np.clip((1 - head_r) * 40 + 0.5, 0, 1)
    u = np.abs(x - CX) / g.rx
    if bald:
        # The face's dome is the scalp: shaded toward its rim, a crisp shine on the crown, a fringe of hair low at the
        # sides. The shine is painted toward white (not brightened), so a pale scalp shows it as a dark one does: a CNN
        # learns baldness from the few bald people of a small training set, and must not learn their skin tone.
        _, ny, r = _face_field(g, sl)
        rim = np.clip((r - 0.72) / 0.22, 0, 1) * np.clip((1 - r) * 40 + 0.5, 0, 1) * np.clip(-ny - 0.3, 0, 1) * 2
        tint(canvas, sl, np.clip(rim, 0, 1), 0.72)
        lit = -np.sign(spec.light_x + 1e-6)
        hsl, hm = ellipse(CX + 11 * lit, g.top_y + 17, 13, 7, soft=3, angle=0.35 * lit)
        paint(canvas, hsl, hm, (1.0, 1.0, 0.97), 0.6)
        fringe = head * np.clip((u - 0.86) * 8, 0, 1) * np.clip((y - (EYE_Y - 16)) / 3, 0, 1)
        paint(canvas, sl, fringe, _hair_texture(spec, sl), 0.9)
        return
    line = _hairline(spec, g, u)
    if spec.has("Bangs"):
        fringe_y = g.brow_y - 10 + 2.5 * np.sin(x * 0.6 + spec.hair_phase)
        line = np.where(u < 0.85, np.maximum(line, fringe_y), line)
    cover = head * np.clip((line - y) / 1.5 + 0.5, 0, 1)
    # hair at the temples down to the ears
    side = head * np.clip((u - 0.9) * 10, 0, 1) * np.clip((temple_y - y) / 3, 0, 1)
    cover = np.maximum(cover, side)
    tex = _hair_texture(spec, sl)
    paint(canvas, sl, cover, tex)
    _add_coverage(alpha, sl, cover)
    if not spec.has("Bangs"):  # a parting
        px = CX + spec.hair_part * g.rx
        psl, pm = pil_mask(lambda d: d.line([(px, ytop + 6), (px + 2, g.forehead_y + 9)], fill=255, width=1), 0.6)
        tint(canvas, psl, pm * _crop_like(cover, sl, psl), 0.6)
    # shadow of the hair on the forehead
    if not spec.has("Bangs"):
        shadow = np.clip((y - line) / 6, 0, 1) * np.clip(1 - (y - line) / 10, 0, 1) * (1 - cover) * head
        tint(canvas, sl, shadow, 0.8)
    else:
        shadow = np.clip(1 - np.abs(y - line - 3) / 4, 0, 1) * (1 - cover) * head
        tint(canvas, sl, shadow, 0.82)


def _hat(canvas, alpha, spec: FaceSpec, g: _Geometry, rng) -> None:
    color = np.asarray(spec.hat_color, np.float32)
    brim_y = g.forehead_y + 12
    style = spec.hat_style

    def crown(d):
        if style == 2:  # fedora
            d.rounded_rectangle((CX - 36, g.forehead_y - 32, CX + 36, brim_y + 2), radius=14, fill=255)
        else:
            d.ellipse((CX - g.rx - 9, g.forehead_y - 30, CX + g.rx + 9, brim_y + 28), fill=255)

    sl, m = pil_mask(crown, 0.8)
    cut = np.ones_like(m)
    ys, _ = _grid()
    cut *= np.clip((brim_y + 4 - ys[sl]) / 1.5, 0, 1)
    m = m * cut
    paint(canvas, sl, m, color)
    _add_coverage(alpha, sl, m)
    _, xs = _grid()
    shade = np.clip(1.1 - 0.5 * ((xs[sl] - CX + 15) / (g.rx + 10)) ** 2, 0.5, 1.2)
    tint(canvas, sl, m * (1 - shade), 0.0)
    if style == 0:  # beanie: folded band
        sl, m = pil_mask(
            lambda d: d.rounded_rectangle((CX - g.rx - 9, brim_y - 9, CX + g.rx + 9, brim_y + 4), 4, fill=255), 0.6
        )
        paint(canvas, sl, m, color * 0.8)
        for i in range(-8, 9):
            sl2, m2 = pil_mask(
                lambda d, i=i: d.line([(CX + i * 6, brim_y - 8), (CX + i * 6, brim_y + 3)], fill=255), 0.5
            )
            tint(canvas, sl2, m2, 0.8)
    else:  # cap peak or fedora brim
        wide = 1.45 if style == 2 else 1.1
        sl, m = ellipse(CX + (6 if style == 1 else 0), brim_y + 2, g.rx * wide + 6, 6 if style == 2 else 8, soft=1)
        paint(canvas, sl, m, color * 0.75)
        _add_coverage(alpha, sl, m)
        sl, m = ellipse(CX, brim_y + 10, g.rx * 0.9, 7, soft=5)
        tint(canvas, sl, m, 0.7)
        if style == 2:
            sl, m = pil_mask(lambda d: d.rectangle((CX - 36, brim_y - 10, CX + 36, brim_y - 3), fill=255), 0.5)
            paint(canvas, sl, m, spec.accent)


def _earrings(canvas, spec: FaceSpec, g: _Geometry, rng) -> None:
    gold = (0.95, 0.8, 0.3) if rng.random() < 0.6 else (0.85, 0.86, 0.9)
    hoop = rng.random() < 0.5
    for side in (-1, 1):
        x, y = CX + side * (g.rx - 0.5), g.ear_y + 16
        if hoop:
            sl, m = pil_mask(lambda d, x=x, y=y: d.ellipse((x - 4.5, y, x + 4.5, y + 10), outline=255, width=2), 0.4)
        else:
            sl, m = ellipse(x, y + 3, 2.8, 2.8, soft=0.6)
        paint(canvas, sl, m, gold)
        sl, m = ellipse(x - 1, y + 2, 1, 1, soft=0.5)
        paint(canvas, sl, m, (1, 1, 1), 0.7)


def _glasses(canvas, spec: FaceSpec, g: _Geometry) -> None:
    frame = np.asarray(spec.glasses_color, np.float32)
    dx = g.eye_dx
    hw = max(13.0, spec.eye_rx + 6.0)  # lens half-width
    boxes = [(CX + s * dx - hw, EYE_Y - 10, CX + s * dx + hw, EYE_Y + 10) for s in (-1, 1)]

    def lenses(d):
        return [d.rounded_rectangle(b, radius=6, fill=255) for b in boxes]

    sl, m = pil_mask(lenses, 0.4)
    if spec.glasses_dark:
        paint(canvas, sl, m, (0.08, 0.08, 0.1), 0.72)
    else:
        paint(canvas, sl, m, (0.9, 0.95, 1.0), 0.12)

    def frames(d):
        for b in boxes:
            d.rounded_rectangle(b, radius=6, outline=255, width=FRAME_WIDTH)
        d.line(
            [(CX - dx + hw - 1, EYE_Y - 5), (CX, EYE_Y - 7), (CX + dx - hw + 1, EYE_Y - 5)], fill=255, width=FRAME_WIDTH
        )
        d.line([(CX - dx - hw, EYE_Y - 6), (CX - g.rx + 1, EYE_Y - 4)], fill=255, width=FRAME_WIDTH)
        d.line([(CX + dx + hw, EYE_Y - 6), (CX + g.rx - 1, EYE_Y - 4)], fill=255, width=FRAME_WIDTH)

    sl, m = pil_mask(frames, 0.4)
    paint(canvas, sl, m, frame)
    # a glint on each lens
    for s in (-1, 1):
        gsl, gm = pil_mask(
            lambda d, s=s: d.line([(CX + s * dx - 8, EYE_Y + 4), (CX + s * dx - 3, EYE_Y - 5)], fill=255, width=2),
            0.6,
        )
        paint(canvas, gsl, gm, (1, 1, 1), 0.35)


# ---------------------------------------------------------------- whole image


def _turned(out: np.ndarray, centre: float, radius: float, angle: float) -> np.ndarray:
    """Where output coordinates come from when a cylinder of that radius about centre turns by angle (radians)."""
    rel = out - centre
    inside = np.abs(rel) < radius
    theta = np.arcsin(np.clip(rel / radius, -1.0, 1.0)) - angle
    return np.where(inside, radius * np.sin(theta), rel) + centre


def _place(layer: Image.Image, spec: FaceSpec) -> Image.Image:
    """The person layer turned (yaw), tilted (pitch), scaled about the face centre and shifted, on the output frame.

    The head is taken as a vertical cylinder for the turn and a horizontal one for the tilt: the middle of the face
    moves most and its outline stays, as in a photo of a slightly turned head. One mesh transform does it all.
    """
    xs = np.arange(0, WIDTH + MESH_CELL, MESH_CELL, dtype=np.float64)
    ys = np.arange(0, HEIGHT + MESH_CELL, MESH_CELL, dtype=np.float64)
    src_x = _turned(CX + (xs - CX - spec.dx) / spec.scale, CX, HEAD_RX, spec.yaw)
    src_y = _turned(FACE_CY + (ys - FACE_CY - spec.dy) / spec.scale, FACE_CY, HEAD_RY, spec.pitch)
    # a smaller or shifted person still reaches the frame's edges (shoulders and long hair run on)
    src_x, src_y = np.clip(src_x, 0.5, WIDTH - 0.5), np.clip(src_y, -HEIGHT, HEIGHT - 0.5)
    mesh = []
    for j in range(len(ys) - 1):
        for i in range(len(xs) - 1):
            x0, x1, y0, y1 = src_x[i], src_x[i + 1], src_y[j], src_y[j + 1]
            box = (int(xs[i]), int(ys[j]), int(xs[i + 1]), int(ys[j + 1]))
            mesh.append((box, (x0, y0, x0, y1, x1, y1, x1, y0)))
    # premultiplied alpha, so the soft outline does not pick up the transparent pixels' colour
    moved = layer.convert("RGBa").transform((WIDTH, HEIGHT), Image.Transform.MESH, mesh, Image.Resampling.BILINEAR)
    return moved.convert("RGBA")


@cache
def _grain_tile() -> np.ndarray:
    return np.random.default_rng(12345).standard_normal((HEIGHT * 2, WIDTH * 2, 3)).astype(np.float32)


def draw_face(spec: FaceSpec) -> Image.Image:
    """Render spec as a 178x218 RGB PIL image."""
    rng = np.random.default_rng(spec.seed)
    canvas = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    alpha = np.zeros((HEIGHT, WIDTH), np.float32)
    g = _geometry(spec)
    _shoulders(canvas, alpha, spec, g)
    _hair_back(canvas, alpha, spec, g)
    _neck(canvas, alpha, spec, g)
    if spec.has("Wearing_Necktie"):
        _necktie(canvas, spec, g)
    if spec.has("Wearing_Necklace"):
        _necklace(canvas, spec, g, rng)
    _ears(canvas, alpha, spec, g)
    _face(canvas, alpha, spec, g)
    if spec.has("Double_Chin"):
        _double_chin(canvas, spec, g)
    _cheeks(canvas, spec, g)
    _marks(canvas, spec, g)
    _eye_region(canvas, spec, g)
    if not spec.has("Young"):
        _age_lines(canvas, spec, g)
    _nose(canvas, spec, g)
    _mouth(canvas, spec, g)
    _facial_hair(canvas, spec, g, rng)
    _eyes(canvas, spec, g)
    _eyebrows(canvas, spec, g)
    _hair_front(canvas, alpha, spec, g)
    if spec.has("Wearing_Earrings"):
        _earrings(canvas, spec, g, rng)
    if spec.has("Wearing_Hat"):
        _hat(canvas, alpha, spec, g, rng)
    if spec.has("Eyeglasses"):
        _glasses(canvas, spec, g)
    # global light falloff across the person, then grain
    _, xs = _grid()
    canvas *= (spec.light_gain * (1.0 + 0.12 * spec.light_x * -1 * (xs - CX) / 89.0))[..., None]
    gy, gx = int(rng.integers(0, HEIGHT)), int(rng.integers(0, WIDTH))
    canvas += 0.012 * _grain_tile()[gy : gy + HEIGHT, gx : gx + WIDTH]
    # paint() blended into a black, transparent canvas: un-premultiply the soft outline
    canvas /= np.maximum(alpha, 1e-3)[..., None]
    person = np.concatenate([canvas, alpha[..., None]], axis=2)
    layer = Image.fromarray((np.clip(person, 0, 1) * 255 + 0.5).astype(np.uint8), "RGBA")
    layer = _place(layer, spec)
    bg = _background(spec, rng)
    img = Image.fromarray((np.clip(bg, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")
    img.paste(layer, (0, 0), layer)
    if spec.blur > 0:
        img = img.filter(ImageFilter.GaussianBlur(spec.blur))
    return img
