"""Thumbnail grids for any list of dataset images."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core import cached
from core.data.dataset import Dataset
from ui.demo_drawing import images_missing_text


def image_grid(
    ds: Dataset,
    image_ids: Sequence[str],
    captions: Sequence[str] | None = None,
    columns: int = 6,
    size: int = 128,
) -> None:
    """Show images in a grid of `columns`; unreadable or missing files show a short note instead."""
    if not ds.has_images:
        st.caption(images_missing_text(ds))
        return
    if not len(image_ids):
        st.caption("No images to show.")
        return
    cols = st.columns(columns)
    for i, image_id in enumerate(image_ids):
        caption = captions[i] if captions is not None else image_id
        with cols[i % columns]:
            data = cached.thumbnail(ds, image_id, size)
            if data is None:
                st.caption(f"{image_id}: image unavailable")
            else:
                st.image(data, caption=caption, width="stretch", output_format="JPEG")  # as made: not decoded again
