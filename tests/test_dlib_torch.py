"""The torch port of dlib's face descriptor gives dlib's descriptors; its weight cache is safe."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.images import open_rgb
from core.errors import DlibFormatError
from core.faces import dlib_torch
from core.faces.dlib_torch import TorchFaceDescriptor, _Reader, dlib_model_path, load_weights
from tests.support import WILD_SAMPLE, needs

dlib = pytest.importorskip("dlib")

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def descriptor(weights_dir):
    return TorchFaceDescriptor(num_threads=1, batch_size=4, cache_dir=weights_dir).load()


@pytest.fixture(scope="module")
def facerec():
    return dlib.face_recognition_model_v1(str(dlib_model_path()))


def dlib_descriptors(facerec, chips: np.ndarray) -> np.ndarray:
    return np.array([facerec.compute_face_descriptor(chip) for chip in chips], dtype=np.float32)


def synthetic_chips() -> np.ndarray:
    """Two 150x150 RGB arrays that are not faces: a smooth colour ramp with noise, and pure noise."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:150, 0:150]
    ramp = np.stack([xx * 1.7, yy * 1.7, (xx + yy) * 0.85], axis=-1) + rng.normal(0, 12, (150, 150, 3))
    noise = rng.integers(0, 256, (150, 150, 3))
    return np.stack([ramp, noise]).clip(0, 255).astype(np.uint8)


def test_dlib_integer_and_float_encoding():
    # control byte: 0x80 = negative, low nibble = number of little-endian bytes that follow
    r = _Reader(bytes([0x01, 0x02, 0x81, 0x1C, 0x02, 0x34, 0x12]))
    assert (r.int(), r.int(), r.int()) == (2, -28, 0x1234)
    # 0.04f is 0xa3d70a * 2**-28: mantissa 3 bytes, exponent -28
    r = _Reader(bytes([0x03, 0x0A, 0xD7, 0xA3, 0x81, 0x1C]))
    assert np.float32(r.float()) == np.float32(0.04)
    with pytest.raises(DlibFormatError, match="ends early"):
        _Reader(bytes([0x02, 0x01])).int()


def test_matches_dlib_on_any_chip(descriptor, facerec):
    chips = synthetic_chips()
    ours = descriptor.compute(chips)
    theirs = dlib_descriptors(facerec, chips)
    assert ours.shape == (2, 128) and ours.dtype == np.float32
    assert np.abs(theirs).max() > 0.05  # non-trivial descriptors
    assert np.abs(ours - theirs).max() < TOLERANCE
    # and the two chips are told apart as dlib tells them apart
    assert abs(np.linalg.norm(ours[0] - ours[1]) - np.linalg.norm(theirs[0] - theirs[1])) < TOLERANCE


def test_unfolded_affine_layers_match_too(weights_dir, facerec):
    chips = synthetic_chips()[:1]
    ours = TorchFaceDescriptor(fold_affine=False, cache_dir=weights_dir).compute(chips)
    assert np.abs(ours - dlib_descriptors(facerec, chips)).max() < TOLERANCE


@needs(WILD_SAMPLE)
def test_matches_dlib_on_real_face_chips(descriptor, facerec):
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(dlib_model_path("shape_predictor_5_face_landmarks.dat")))
    chips = []
    for path in sorted(WILD_SAMPLE.glob("*.jpg"))[:8]:
        img = np.asarray(open_rgb(path))
        for face in detector(img, 0)[:1]:
            chips.append(dlib.get_face_chip(img, predictor(img, face), size=150, padding=0.25))
    assert len(chips) >= 4
    chips = np.stack(chips)
    ours, theirs = descriptor.compute(chips), dlib_descriptors(facerec, chips)
    assert np.abs(ours - theirs).max() < TOLERANCE
    # batching does not change a chip's descriptor
    assert np.abs(descriptor.compute(chips[:1]) - ours[:1]).max() < 1e-5


def test_cached_weights_give_identical_outputs(tmp_path, monkeypatch):
    parsed = dlib_torch.parse_dlib_resnet(dlib_model_path())
    first = load_weights(cache_dir=tmp_path)  # parses and writes the cache
    assert len(list(tmp_path.glob("*.npz"))) == 1

    def no_parsing(path):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(dlib_torch, "parse_dlib_resnet", no_parsing)
    cached = load_weights(cache_dir=tmp_path)
    assert cached.keys() == parsed.keys() == first.keys()
    for name in parsed:
        np.testing.assert_array_equal(cached[name], parsed[name])
    chips = synthetic_chips()
    from_cache = TorchFaceDescriptor(num_threads=1, cache_dir=tmp_path).compute(chips)
    monkeypatch.undo()
    fresh_dir = tmp_path / "fresh"
    from_parse = TorchFaceDescriptor(num_threads=1, cache_dir=fresh_dir).compute(chips)
    np.testing.assert_array_equal(from_cache, from_parse)


@pytest.mark.parametrize("damage", ["truncate", "flip_bytes", "wrong_arrays", "empty"])
def test_damaged_cache_is_parsed_again(tmp_path, damage):
    parsed = load_weights(cache_dir=tmp_path)
    (cache,) = tmp_path.glob("*.npz")
    data = cache.read_bytes()
    if damage == "truncate":
        cache.write_bytes(data[: len(data) // 2])
    elif damage == "flip_bytes":
        middle = len(data) // 2
        cache.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64]) + data[middle + 64 :])
    elif damage == "wrong_arrays":
        np.savez(cache, con00_w=np.zeros((2, 2), np.float32))
    else:
        cache.write_bytes(b"")
    again = load_weights(cache_dir=tmp_path)
    for name in parsed:
        np.testing.assert_array_equal(again[name], parsed[name])
    # the cache was rewritten whole
    with np.load(cache, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(parsed)


def test_truncated_model_file_is_reported(tmp_path):
    broken = tmp_path / "model.dat"
    broken.write_bytes(dlib_model_path().read_bytes()[:5_000_000])
    with pytest.raises(DlibFormatError, match="ends early"):
        dlib_torch.parse_dlib_resnet(broken)
    with pytest.raises(DlibFormatError):
        load_weights(broken, cache_dir=tmp_path)
    assert not list(tmp_path.glob("*.npz"))


def test_other_dlib_network_is_rejected(tmp_path):
    with pytest.raises(DlibFormatError):
        dlib_torch.parse_dlib_resnet(dlib_model_path("mmod_human_face_detector.dat"))


def test_input_shapes(descriptor):
    assert descriptor.compute(np.zeros((0, 150, 150, 3), np.uint8)).shape == (0, 128)
    one = descriptor.compute(synthetic_chips()[0])  # a single chip without the batch axis
    assert one.shape == (1, 128)
    with pytest.raises(ValueError, match="150, 150, 3"):
        descriptor.compute(np.zeros((2, 112, 112, 3), np.uint8))


def test_thread_setting_is_restored(weights_dir):
    import torch

    before = torch.get_num_threads()
    TorchFaceDescriptor(num_threads=1 if before != 1 else 2, cache_dir=weights_dir).compute(synthetic_chips()[:1])
    assert torch.get_num_threads() == before
