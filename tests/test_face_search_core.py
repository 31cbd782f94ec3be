"""core.faces.search pieces that need no real faces: bad uploads, huge images, box drawing."""

import io

import pytest
from PIL import Image

from core.errors import ImageError
from core.faces import search


def _png(size, mode="L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, format="PNG")
    return buf.getvalue()


def test_huge_image_is_refused_with_a_message():
    with pytest.raises(ImageError, match=r"too large|megapixels"):
        search.faces_in_bytes(_png((8000, 6000)))


def test_empty_and_non_image_uploads_are_refused():
    with pytest.raises(ImageError, match="empty"):
        search.faces_in_bytes(b"")
    with pytest.raises(ImageError, match="not an image"):
        search.faces_in_bytes(b"%PDF-1.4 not a photo")


def test_faceless_photo_has_no_boxes():
    found = search.faces_in_bytes(_png((300, 200), "RGB"))
    assert found.boxes == [] and found.vectors.shape == (0, 128)


def test_draw_boxes_scales_boxes_with_the_picture():
    img = Image.new("RGB", (1000, 500), "white")
    out = search.draw_boxes(img, [(100, 100, 300, 300)], chosen=0, max_side=500)
    assert out.size == (500, 250)
    assert out.getpixel((50, 50)) != (255, 255, 255)  # the box's corner, at half scale
    assert out.getpixel((100, 100)) == (255, 255, 255)  # inside the box stays untouched
    assert img.getpixel((100, 100)) == (255, 255, 255)  # the original is not drawn on
