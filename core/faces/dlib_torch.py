"""dlib's 128-d face descriptor network (dlib_face_recognition_resnet_model_v1) run in torch.

The weights are read from dlib's own .dat file (shipped in the face_recognition_models
package) by a small parser of dlib's serialization format, cached once as a .npz under
cache/models/, and loaded into a torch re-implementation of dlib's `anet_type`:

    loss_metric<fc_no_bias<128, avg_pool_everything<
        ares_down<256> ← ares<256>×2, ares_down<256> ← ares<128>×2, ares_down<128>
        ← ares<64>×3, ares_down<64> ← ares<32>×3
        ← max_pool<3,3,2,2, relu<affine<con<32,7,7,2,2, input_rgb_image_sized<150>>>>>>>>

Input convention: aligned face chips as dlib.get_face_chip(img, shape, size=150,
padding=0.25) makes them, (n, 150, 150, 3) uint8 RGB. The outputs equal dlib's
compute_face_descriptor on the same chips up to float rounding (about 1e-6).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import math
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.atomic import write_bytes
from core.data.paths import cache_root
from core.errors import DlibFormatError

# Lazy imports: torch are imported inside the functions that use them, so pages and commands that never call them do
# not pay their import time and memory on a shared server.

logger = logging.getLogger(__name__)

MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"
CHIP_SIZE = 150
DESCRIPTOR_DIM = 128
# Bump when the parser or the cache layout changes: old caches are then ignored.
PARSER_VERSION = 1

# (filters, downsampling) of the residual units in forward order (dlib lists them outermost first).
RESIDUAL_UNITS: tuple[tuple[int, bool], ...] = (
    ((32, False),) * 3
    + ((64, True),)
    + ((64, False),) * 3
    + ((128, True),)
    + ((128, False),) * 2
    + ((256, True),)
    + ((256, False),) * 2
    + ((256, True),)
)


# ---------------------------------------------------------------------------------------
# Locating the model file


def dlib_model_path(filename: str = MODEL_FILE) -> Path:
    """Path of a model file shipped in the face_recognition_models package (not imported)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "The face_recognition_models package is not installed: pip install face_recognition_models==0.3.0"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / filename
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall face_recognition_models.")
    return path


# ---------------------------------------------------------------------------------------
# dlib serialization format


class _Reader:
    """Sequential reader of dlib's portable serialization (dlib/serialize.h)."""

    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0

    def _take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise DlibFormatError(f"file ends early (need {n} bytes at offset {self.pos})")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int(self) -> int:
        """dlib's variable-length integer: a control byte (0x80 = negative, low nibble = byte count), then LE bytes."""
        control = self._take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise DlibFormatError(f"bad integer control byte 0x{control:02x} at offset {self.pos - 1}")
        value = int.from_bytes(self._take(size), "little")
        return -value if control & 0x80 else value

    def float(self) -> float:
        """dlib's portable float: (int64 mantissa, int16 exponent) = mantissa * 2**exponent."""
        mantissa, exponent = self.int(), self.int()
        if exponent == 32000:
            return math.inf
        if exponent == 32001:
            return -math.inf
        if exponent == 32002:
            return math.nan
        return math.ldexp(float(mantissa), exponent)

    def bool(self) -> bool:
        ch = bytes(self._take(1))
        if ch not in (b"0", b"1"):
            raise DlibFormatError(f"bad bool {ch!r} at offset {self.pos - 1}")
        return ch == b"1"

    def string(self) -> str:
        n = self.int()
        return bytes(self._take(n)).decode("latin-1")

    def version(self, allowed: tuple[int, ...], what: str) -> int:
        v = self.int()
        if v not in allowed:
            raise DlibFormatError(f"{what}: version {v}, expected one of {allowed}")
        return v

    def tag(self, expected: str) -> None:
        s = self.string()
        if s != expected:
            raise DlibFormatError(f"expected a {expected!r} record, found {s!r} at offset {self.pos}")

    def tensor(self) -> np.ndarray:
        """resizable_tensor: version 2, dims (n, k, nr, nc), then little-endian float32 data."""
        self.version((2,), "tensor")
        shape = tuple(self.int() for _ in range(4))
        count = math.prod(shape)
        raw = self._take(4 * count)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    def alias_tensor(self) -> tuple[int, int, int, int]:
        self.version((1,), "alias_tensor")
        return tuple(self.int() for _ in range(4))  # type: ignore[return-value]


@dataclass(frozen=True)
class _Layer:
    """One entry of dlib's layer stack: kind in {con, affine, relu, max_pool, avg_pool, add_prev, fc, tag, skip}."""

    kind: str
    filters: int = 0
    size: int = 0
    stride: int = 1


def _forward_layers() -> list[_Layer]:
    """dlib's anet_type as a list of layers in forward order (input side first), tags and skips included."""
    layers = [_Layer("con", 32, 7, 2), _Layer("affine"), _Layer("relu"), _Layer("max_pool", size=3, stride=2)]
    for filters, down in RESIDUAL_UNITS:
        layers += [
            _Layer("tag"),
            _Layer("con", filters, 3, 2 if down else 1),
            _Layer("affine"),
            _Layer("relu"),
            _Layer("con", filters, 3, 1),
            _Layer("affine"),
        ]
        if down:
            layers += [_Layer("tag"), _Layer("skip"), _Layer("avg_pool", size=2, stride=2)]
        layers += [_Layer("add_prev"), _Layer("relu")]
    layers += [_Layer("avg_pool", size=0, stride=1), _Layer("fc", DESCRIPTOR_DIM)]
    return layers


def _read_con(r: _Reader, layer: _Layer, index: int) -> dict[str, np.ndarray]:
    """con_4: params (filters then biases), geometry, alias shapes, four multipliers."""
    params = r.tensor().ravel()
    geometry = tuple(r.int() for _ in range(7))  # filters, nr, nc, stride y/x, padding y/x
    pad = 0 if layer.stride != 1 else layer.size // 2
    expected = (layer.filters, layer.size, layer.size, layer.stride, layer.stride, pad, pad)
    if geometry != expected:
        raise DlibFormatError(f"con layer {index}: geometry {geometry}, expected {expected}")
    filter_shape = r.alias_tensor()
    r.alias_tensor()  # biases
    for _ in range(4):
        r.float()  # learning-rate and weight-decay multipliers
    n_weights = math.prod(filter_shape)
    if params.size != n_weights + layer.filters:
        raise DlibFormatError(f"con layer {index}: {params.size} parameters for filters {filter_shape}")
    return {"w": params[:n_weights].reshape(filter_shape).copy(), "b": params[n_weights:].copy()}


def _read_affine(r: _Reader, layer: _Layer, index: int) -> dict[str, np.ndarray]:
    """affine_: params (gamma then beta), alias shapes, mode (0 = per channel)."""
    params = r.tensor().ravel()
    gamma_shape = r.alias_tensor()
    r.alias_tensor()  # beta
    mode = r.int()
    channels = math.prod(gamma_shape)
    if mode != 0 or params.size != 2 * channels:
        raise DlibFormatError(f"affine layer {index}: mode {mode}, {params.size} parameters")
    return {"g": params[:channels].copy(), "b": params[channels:].copy()}


def _read_pool(r: _Reader, layer: _Layer, index: int) -> dict[str, np.ndarray]:
    """max_pool_2 / avg_pool_2: window, stride and padding."""
    geometry = tuple(r.int() for _ in range(6))
    pad = 0 if layer.stride != 1 else layer.size // 2
    expected = (layer.size, layer.size, layer.stride, layer.stride, pad, pad)
    if geometry != expected:
        raise DlibFormatError(f"{layer.kind} layer {index}: geometry {geometry}, expected {expected}")
    return {}


def _read_fc(r: _Reader, layer: _Layer, index: int) -> dict[str, np.ndarray]:
    """fc_2: sizes, params (num_inputs, num_outputs), alias shapes, bias mode (1 = no bias), multipliers."""
    num_outputs, num_inputs = r.int(), r.int()
    params = r.tensor()
    r.alias_tensor()  # weights
    r.alias_tensor()  # biases
    bias_mode = r.int()
    for _ in range(4):
        r.float()
    if num_outputs != layer.filters or bias_mode != 1 or params.size != num_inputs * num_outputs:
        raise DlibFormatError(f"fc layer {index}: {num_inputs}→{num_outputs}, bias mode {bias_mode}")
    return {"w": params.reshape(num_inputs, num_outputs).copy()}


def _read_nothing(r: _Reader, layer: _Layer, index: int) -> dict[str, np.ndarray]:
    return {}


# layer kind → (the record's name in the file, its reader)
_DETAIL_READERS = {
    "con": ("con_4", _read_con),
    "affine": ("affine_", _read_affine),
    "relu": ("relu_", _read_nothing),
    "add_prev": ("add_prev_", _read_nothing),
    "max_pool": ("max_pool_2", _read_pool),
    "avg_pool": ("avg_pool_2", _read_pool),
    "fc": ("fc_2", _read_fc),
}


def _read_details(r: _Reader, layer: _Layer, index: int) -> dict[str, np.ndarray]:
    """Read one layer's details record; return its weights (empty for parameter-free layers)."""
    name, reader = _DETAIL_READERS[layer.kind]
    r.tag(name)
    return reader(r, layer, index)


def parse_dlib_resnet(path: Path) -> dict[str, np.ndarray]:
    """Weights of dlib_face_recognition_resnet_model_v1.dat as float32 arrays (names as in DlibResNet)."""
    r = _Reader(Path(path).read_bytes())
    layers = _forward_layers()
    # add_loss_layer: version, loss_metric_ details, then the network, outermost layer first.
    r.version((1,), "loss layer")
    r.tag("loss_metric_2")
    r.float(), r.float()  # margin, distance threshold (training only)
    # Each wrapper writes its version and then its subnetwork, so the versions come
    # outermost first; the details of each layer follow after the input layer, innermost first.
    versions = [0] * len(layers)
    for i in reversed(range(len(layers))):
        kind = layers[i].kind
        if kind in ("tag", "skip"):
            versions[i] = r.version((1,), kind)
        else:
            versions[i] = r.version((2, 3) if i == 0 else (1, 2), f"{kind} layer")
    r.tag("input_rgb_image_sized")
    avg = np.array([r.float(), r.float(), r.float()], dtype=np.float32)
    if (r.int(), r.int()) != (CHIP_SIZE, CHIP_SIZE):
        raise DlibFormatError(f"input size is not {CHIP_SIZE}x{CHIP_SIZE}")
    weights: dict[str, np.ndarray] = {"input_avg": avg}
    counts = {"con": 0, "affine": 0}
    for i, layer in enumerate(layers):
        if layer.kind in ("tag", "skip"):
            continue
        found = _read_details(r, layer, i)
        if layer.kind in counts:
            n = counts[layer.kind]
            for key, value in found.items():
                weights[f"{layer.kind}{n:02d}_{key}"] = value
            counts[layer.kind] += 1
        elif layer.kind == "fc":
            weights["fc_w"] = found["w"]
        for _ in range(3):
            r.bool()  # setup called, gradient stale, getters disabled
        r.tensor(), r.tensor()  # x_grad, cached_output
        if i == 0:  # the layer on the input: grad_final, then (v3) the sample expansion factor
            r.tensor()
            if versions[0] == 3:
                r.int()
        elif versions[i] == 2:
            r.tensor()  # params_grad
    if r.pos != len(r.data):
        raise DlibFormatError(f"{len(r.data) - r.pos} unexpected bytes at the end of the file")
    return weights


# ---------------------------------------------------------------------------------------
# Weight cache


def _expected_shapes() -> dict[str, tuple[int, ...]]:
    """Name → shape of every array parse_dlib_resnet returns."""
    shapes: dict[str, tuple[int, ...]] = {"input_avg": (3,)}
    channels, n = 3, 0
    for layer in _forward_layers():
        if layer.kind == "con":
            shapes[f"con{n:02d}_w"] = (layer.filters, channels, layer.size, layer.size)
            shapes[f"con{n:02d}_b"] = (layer.filters,)
            shapes[f"affine{n:02d}_g"] = (layer.filters,)
            shapes[f"affine{n:02d}_b"] = (layer.filters,)
            channels, n = layer.filters, n + 1
    shapes["fc_w"] = (channels, DESCRIPTOR_DIM)
    return shapes


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def weights_cache_path(dat_path: Path, cache_dir: Path | None = None) -> Path:
    """cache/models/<model>-<sha256 prefix of the .dat>-p<parser version>.npz."""
    folder = cache_dir if cache_dir is not None else cache_root() / "models"
    return folder / f"{Path(dat_path).stem}-{_file_digest(dat_path)}-p{PARSER_VERSION}.npz"


def _check_weights(weights: dict[str, np.ndarray]) -> None:
    expected = _expected_shapes()
    if set(weights) != set(expected):
        raise ValueError(f"weights have {len(weights)} arrays, expected {len(expected)}")
    for name, shape in expected.items():
        array = weights[name]
        if array.shape != shape or array.dtype != np.float32 or not np.isfinite(array).all():
            raise ValueError(f"weights[{name!r}] is {array.dtype}{array.shape}, expected float32{shape}")


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The cached weights, or None (with a warning) when the file is missing, damaged or stale."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            weights = {name: npz[name] for name in npz.files}
        _check_weights(weights)
        return weights
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        logger.warning("weights cache %s is unusable (%s): parsing the .dat again", path, exc)
        return None


def _write_cache(path: Path, weights: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **weights)
    write_bytes(path, buffer.getvalue())


def load_weights(dat_path: Path | None = None, cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Descriptor network weights: from the .npz cache, else parsed from the .dat and cached."""
    dat_path = Path(dat_path) if dat_path is not None else dlib_model_path()
    cache = weights_cache_path(dat_path, cache_dir)
    weights = _read_cache(cache)
    if weights is None:
        weights = parse_dlib_resnet(dat_path)
        _check_weights(weights)
        try:
            _write_cache(cache, weights)
        except OSError as exc:  # a read-only cache is not fatal: parsing takes well under a second
            logger.warning("could not write the weights cache %s: %s", cache, exc)
    return weights


# ---------------------------------------------------------------------------------------
# The network in torch


def _build_network(weights: dict[str, np.ndarray], fold_affine: bool = True):
    """A torch.nn.Module computing dlib's descriptor from (n, 3, 150, 150) float32 input in [0, 255]."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    def conv(n: int, stride: int) -> nn.Conv2d:
        w = torch.from_numpy(weights[f"con{n:02d}_w"].copy())
        b = torch.from_numpy(weights[f"con{n:02d}_b"].copy())
        g = torch.from_numpy(weights[f"affine{n:02d}_g"].copy())
        beta = torch.from_numpy(weights[f"affine{n:02d}_b"].copy())
        size = w.shape[-1]
        layer = nn.Conv2d(w.shape[1], w.shape[0], size, stride=stride, padding=0 if stride != 1 else size // 2)
        with torch.no_grad():
            if fold_affine:  # (conv(x) + b) * g + beta == conv_{w*g}(x) + (b*g + beta)
                layer.weight.copy_(w * g[:, None, None, None])
                layer.bias.copy_(b * g + beta)
                return layer
            layer.weight.copy_(w)
            layer.bias.copy_(b)
        return nn.Sequential(layer, _Affine(g, beta))

    class _Affine(nn.Module):
        """dlib's affine_ layer in conv mode: per-channel x * g + b."""

        def __init__(self, g, b):
            super().__init__()
            self.register_buffer("g", g[None, :, None, None])
            self.register_buffer("b", b[None, :, None, None])

        def forward(self, x):
            return x * self.g + self.b

    class _Residual(nn.Module):
        """dlib's ares / ares_down unit: relu(block(x) + x), x avg-pooled and zero-padded when downsampling."""

        def __init__(self, n: int, down: bool):
            super().__init__()
            self.down = down
            self.conv1 = conv(n, 2 if down else 1)
            self.conv2 = conv(n + 1, 1)

        def forward(self, x):
            y = self.conv2(F.relu(self.conv1(x)))
            if self.down:
                x = F.avg_pool2d(x, 2, 2)
                # dlib's add_prev adds tensors of different shapes as if both were zero-padded
                # (at the end of each axis) to the larger shape.
                c, h, w = (max(a, b) for a, b in zip(x.shape[1:], y.shape[1:]))
                x = F.pad(x, (0, w - x.shape[3], 0, h - x.shape[2], 0, c - x.shape[1]))
                y = F.pad(y, (0, w - y.shape[3], 0, h - y.shape[2], 0, c - y.shape[1]))
            return F.relu(y + x)

    class DlibResNet(nn.Module):
        def __init__(self):
            super().__init__()
            avg = torch.from_numpy(weights["input_avg"].copy())
            self.register_buffer("avg", avg[None, :, None, None])
            self.stem = conv(0, 2)
            self.units = nn.Sequential(*(_Residual(1 + 2 * i, down) for i, (_, down) in enumerate(RESIDUAL_UNITS)))
            self.register_buffer("fc", torch.from_numpy(weights["fc_w"].copy()))

        def forward(self, pixels):
            x = (pixels - self.avg) / 256.0
            x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
            x = self.units(x)
            return x.mean(dim=(2, 3)) @ self.fc

    return DlibResNet().eval()


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with torch using n intra-op threads (None: leave the setting alone)."""
    import torch

    before = torch.get_num_threads()
    if n is not None and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


class TorchFaceDescriptor:
    """dlib's face descriptor network run in torch on the CPU (same outputs as dlib within ~1e-6).

    Parameters: num_threads (torch intra-op threads while computing; None = torch's current
    setting), batch_size (chips per forward pass), fold_affine (fold dlib's affine layers into
    the convolutions: faster, differences stay at float rounding), model_path (the .dat; default
    the one in face_recognition_models), cache_dir (where the parsed weights are cached).
    """

    def __init__(
        self,
        num_threads: int | None = None,
        batch_size: int = 32,
        fold_affine: bool = True,
        model_path: Path | None = None,
        cache_dir: Path | None = None,
    ):
        self.num_threads = num_threads
        self.batch_size = batch_size
        self.fold_affine = fold_affine
        self.model_path = model_path
        self.cache_dir = cache_dir

    def load(self) -> TorchFaceDescriptor:
        """Read the weights (cached) and build the network; returns self."""
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        weights = load_weights(self.model_path, self.cache_dir)
        self.network_ = _build_network(weights, fold_affine=self.fold_affine)
        return self

    def compute(self, chips: np.ndarray) -> np.ndarray:
        """(n, 150, 150, 3) uint8 RGB aligned chips → (n, 128) float32 descriptors (n may be 0)."""
        import torch

        chips = np.asarray(chips)
        if chips.ndim == 3:
            chips = chips[None]
        if chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
            raise ValueError(f"chips must be (n, {CHIP_SIZE}, {CHIP_SIZE}, 3) RGB, got shape {chips.shape}")
        if not hasattr(self, "network_"):
            self.load()
        out = np.empty((len(chips), DESCRIPTOR_DIM), dtype=np.float32)
        with _torch_threads(self.num_threads), torch.inference_mode():
            for start in range(0, len(chips), self.batch_size):
                batch = chips[start : start + self.batch_size]
                x = torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32))
                out[start : start + len(batch)] = self.network_(x).numpy()
        return out
