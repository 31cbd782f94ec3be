"""Several sessions detecting faces at once (Streamlit runs each session in a thread): no crash, same answers.

dlib's models are not thread-safe; before every use took the model's lock, 2-4 threads detecting on 1024x1024
arrays crashed the process (SIGSEGV) in about half the runs. The hammering runs in a child process, so a
crash fails this test instead of killing pytest.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import PROJECT

HAMMER = r"""
import sys, threading
import numpy as np
from PIL import Image
from core.data.paths import PROJECT_ROOT
from core.demo.draw import FaceSpec, draw_face
from core.faces import pipeline as faces

rng = np.random.default_rng(0)
face = np.asarray(draw_face(FaceSpec(attrs=frozenset({"Smiling"}), seed=3)).resize((356, 436)))
canvas = (rng.random((1024, 1024, 3)) * 60 + 100).astype(np.uint8)
canvas[200:636, 300:656] = face  # one drawn face on a large photo
arrays = [
    canvas,
    (rng.random((1024, 1024, 3)) * 255).astype(np.uint8),  # no face: falls through to the (bounded) CNN
    (rng.random((600, 640, 3)) * 255).astype(np.uint8),  # no face, small: HOG at upsample 2
    np.ascontiguousarray(canvas[::2, ::2]),
]
expected = [faces.detect_faces(a) for a in arrays]
assert expected[0], "the drawn face was not found"
errors = []

def work(k):
    try:
        for round_ in range(2):
            a = arrays[(k + round_) % len(arrays)]
            got = faces.detect_faces(a)
            assert got == expected[(k + round_) % len(arrays)], (k, round_, got)
            if got:
                chip = faces.face_chip(a, faces.landmarks(a, got[0]))
                faces.describe_chips(chip[None])
    except Exception as exc:  # noqa: BLE001
        errors.append(repr(exc))

threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("errors:", errors)
sys.exit(1 if errors else 0)
"""


@pytest.mark.slow
def test_four_threads_detecting_at_once_neither_crash_nor_disagree():
    proc = subprocess.run([sys.executable, "-c", HAMMER], cwd=PROJECT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.returncode, proc.stdout[-2000:], proc.stderr[-3000:])
    assert "errors: []" in proc.stdout


def test_the_cnn_rescue_never_sees_more_than_its_pixel_budget(monkeypatch):
    """A big face-less photo falls through to the CNN detector; it gets a bounded copy, boxes scaled back."""
    import numpy as np

    from core.faces import pipeline as faces

    seen = []

    class Rect:
        def __init__(self, box):
            self.rect = type("R", (), {"left": lambda s: box[0], "top": lambda s: box[1],
                                       "right": lambda s: box[2], "bottom": lambda s: box[3]})()  # fmt: skip

    def fake_cnn(arr, upsample):
        seen.append((arr.shape, upsample))
        h, w = arr.shape[:2]
        return [Rect((w // 4, h // 4, w // 2, h // 2))]

    real = faces.load_dlib_model
    monkeypatch.setattr(faces, "load_dlib_model", lambda name: fake_cnn if name == "cnn" else real(name))
    big = np.zeros((1024, 1024, 3), np.uint8)
    boxes = faces.detect_faces(big)
    ((shape, upsample),) = seen
    assert shape[0] * shape[1] * (4 if upsample else 1) <= faces.CNN_MAX_PIXELS
    assert abs(boxes[0][0] - 256) <= 2 and abs(boxes[0][2] - 512) <= 2  # in the photo's own pixels


def test_a_photo_is_predicted_once_however_often_the_page_reruns(monkeypatch, demo_home):
    """Try-it results are cached by the photo's content: reruns after an upload cost nothing."""
    from core import cached

    calls = []
    monkeypatch.setattr(cached, "predict_photo", lambda model, data: calls.append(len(data)) or "result")
    monkeypatch.setattr(cached, "stored_model", lambda model_id, created: object())
    monkeypatch.setattr(cached, "face_models", lambda: True)
    cached.photo_prediction.clear()
    first = cached.photo_prediction("m", "t", b"the same photo")
    again = cached.photo_prediction("m", "t", b"the same photo")
    other = cached.photo_prediction("m", "t", b"another photo")
    assert first == again == other == "result" and calls == [14, 13]
