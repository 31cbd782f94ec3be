"""Several sessions detecting faces at once (Streamlit runs each session in a thread): no crash, same answers.

dlib's models are not thread-safe; before every use took the model's lock, 2-4 threads detecting on 1024x1024
arrays crashed the process (SIGSEGV) in about half the runs. The hammering runs in a child process, so a
crash fails this test instead of killing pytest.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import PROJECT

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


def test_four_threads_detecting_at_once_neither_crash_nor_disagree():
    proc = subprocess.run([sys.executable, "-c", HAMMER], cwd=PROJECT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.returncode, proc.stdout[-2000:], proc.stderr[-3000:])
    assert "errors: []" in proc.stdout
