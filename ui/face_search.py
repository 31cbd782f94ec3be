"""Widgets and panels of the Face search page (layout only; the work is in core.faces.search)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from core import cached
from core.charts import faces as face_charts
from core.cli.embed import job_spec as embed_job_spec
from core.data.dataset import Dataset
from core.errors import ImageError, ModelMissingError
from core.faces import search
from core.faces.embed_job import MODEL
from core.jobs import job_status
from ui.busy import one_heavy_query
from ui.gallery import image_grid
from ui.jobs import job_launcher

SOURCES = ("Upload a photo", "Take a photo", "A dataset image")
MAX_CHOICES = 500  # image ids offered at once in a selectbox
SAME_PERSON = 0.6  # euclidean distance below which dlib descriptors usually mean the same person


def embeddings_missing_panel(ds: Dataset) -> None:
    """Explain that face search needs embeddings, and start / follow the embedding job."""
    job = embed_job_spec(ds)
    status = job_status(job.job_id)
    if status is None or status.finished:
        st.info(
            f"**{ds.name} has no face embeddings yet.** Face search compares 128-number face descriptors "
            f"(dlib's ResNet). Computing them takes about a quarter of a second per image on one core "
            f"({ds.n_images:,} images); the job runs in the background, survives page changes, can be "
            "cancelled and resumes where it stopped."
        )
    job_launcher(
        job, "Computing face embeddings", "Compute face embeddings", key="fs-embed", disabled=not ds.has_images
    )


def pick_image_id(ds: Dataset, key: str, label: str = "Image") -> str | None:
    """Text filter + selectbox over the dataset's image ids."""
    text = st.text_input("Image id contains", key=f"{key}-filter", placeholder="e.g. 000123")
    ids = ds.table["image_id"]
    if text:
        ids = ids.filter(ids.str.contains(text, literal=True))
    options = ids.head(MAX_CHOICES).to_list()
    if not options:
        st.warning("No image id matches that text.")
        return None
    return st.selectbox(label, options, key=key, help=f"The first {MAX_CHOICES} matching ids are listed.")


def query_source_ui(ds: Dataset) -> tuple[bytes | None, str | None]:
    """The query image as bytes, and its image id when it comes from the dataset."""
    sources = SOURCES if ds.has_images else SOURCES[:2]
    shared = st.query_params.get("image")
    if shared and "fs-source" not in st.session_state and ds.has_images and ds.row_of(shared) is not None:
        st.session_state["fs-source"] = SOURCES[2]  # a shared link opens on that dataset image
        st.session_state["fs-image-filter"] = shared
    source = st.radio("Query", sources, horizontal=True, key="fs-source")
    if source != SOURCES[2]:
        st.query_params.pop("image", None)
    if source == SOURCES[0]:
        upload = st.file_uploader("A photo with a face", type=["jpg", "jpeg", "png", "webp"], key="fs-upload")
        return (upload.getvalue() if upload else None), None
    if source == SOURCES[1]:
        shot = st.camera_input("Take a photo", key="fs-camera")
        return (shot.getvalue() if shot else None), None
    image_id = pick_image_id(ds, "fs-image")
    if image_id:
        st.query_params["image"] = image_id
    path = ds.image_path(image_id) if image_id else None
    if path is None or not path.is_file():
        if image_id:
            st.error(f"{image_id} is missing on disk.")
        return None, image_id
    return Path(path).read_bytes(), image_id


def find_query_faces(data: bytes, dataset_aligned: bool):
    """Faces of the query bytes, or None after showing what went wrong."""
    try:
        with one_heavy_query("photo"):
            return cached.query_faces(data, dataset_aligned)
    except ImageError as exc:
        st.error(f"{exc} Try another file.")
    except ModelMissingError as exc:
        st.error(str(exc))
    return None


def choose_face_ui(found) -> int:
    """Which face to search with, when the photo has several."""
    n = len(found.boxes)
    if n == 1:
        return 0
    return int(st.radio("Face", list(range(n)), format_func=lambda i: f"face {i + 1}", horizontal=True, key="fs-face"))


def search_options_ui() -> tuple[int, str]:
    k = st.slider("How many look-alikes", 1, 48, 12, key="fs-k")
    metric = st.selectbox("Distance", ("euclidean", "cosine"), key="fs-metric")
    return k, metric


def results_ui(ds: Dataset, index, query: np.ndarray, exclude: int | None, k: int, metric: str) -> None:
    """The k nearest faces as a gallery, then every face by distance (table and histogram)."""
    hits = search.nearest_faces(ds, index, query, k, metric, exclude)
    st.subheader(f"The {hits.height} nearest faces")
    captions = [f"{r['distance']:.3f} · {r['identity'] or '–'}" for r in hits.iter_rows(named=True)]
    image_grid(ds, hits["image_id"].to_list(), captions=captions)
    st.subheader("Every face in the dataset by distance")
    ranked = search.all_distances(ds, index, query, metric)
    if exclude is not None:
        ranked = ranked.filter(ranked["row"] != exclude)
    if metric == "euclidean":
        same = int((ranked["distance"] < SAME_PERSON).sum())
        st.caption(f"{same:,} of {ranked.height:,} faces are closer than {SAME_PERSON} (usually the same person).")
    st.altair_chart(
        face_charts.distance_histogram(ranked, SAME_PERSON if metric == "euclidean" else None), width="stretch"
    )
    st.dataframe(ranked.drop("row").head(5000), hide_index=True, width="stretch")


def face_search_section(ds: Dataset) -> None:
    """Query photo -> boxed faces -> nearest dataset faces."""
    emb, index = cached.face_index(ds)
    if emb is None:
        embeddings_missing_panel(ds)
        return
    st.caption(f"Searching {emb.n_valid:,} faces ({emb.model} embeddings, {emb.dim} numbers each).")
    data, image_id = query_source_ui(ds)
    row = ds.row_of(image_id) if image_id else None
    if emb.model != MODEL:
        if row is None:
            st.info(
                "These embeddings came with the dataset's CSV; photos can only be compared with dlib "
                "embeddings. Pick a dataset image instead."
            )
            return
        if not emb.has_face[row]:
            st.warning(f"{image_id} has no embedding in the CSV.")
            return
        k, metric = search_options_ui()
        results_ui(ds, index, np.asarray(emb.vectors[row]), row, k, metric)
        return
    if data is None:
        st.caption("Choose a photo to search with.")
        return
    found = find_query_faces(data, ds.aligned)
    if found is None:
        return
    if not found.boxes:
        st.warning("No face was found in this image. Try a photo where a face is clearly visible and upright.")
        return
    picture, options = st.columns([1, 2])
    with options:
        chosen = choose_face_ui(found)
        k, metric = search_options_ui()
    with picture:
        st.image(search.draw_boxes(found.image, found.boxes, chosen), caption=f"{len(found.boxes)} face(s) found")
    results_ui(ds, index, found.vectors[chosen], row, k, metric)


def attribute_search_section(ds: Dataset) -> None:
    """Attribute values (chosen or copied from an image) -> images with the nearest attribute vectors."""
    if not ds.attributes:
        st.info(f"{ds.name} has no attribute annotations, so there is nothing to compare.")
        return
    how = st.radio("Attribute values", ("Choose them", "Copy from an image"), horizontal=True, key="fs-attr-source")
    matrix = cached.attribute_matrix(ds.key, ds)
    exclude = None
    if how == "Choose them":
        present = st.multiselect("Attributes present (all others absent)", ds.attributes, key="fs-attr-present")
        query = np.array([a in present for a in ds.attributes], np.uint8)
    else:
        image_id = pick_image_id(ds, "fs-attr-image")
        if image_id is None:
            return
        exclude = ds.row_of(image_id)
        query = matrix[exclude]
        shown = [a for a, v in zip(ds.attributes, query) if v]
        st.caption("Its attributes: " + (", ".join(shown) or "none"))
    k = st.slider("How many images", 1, 48, 12, key="fs-attr-k")
    hits = search.nearest_attribute_rows(ds, query, k, exclude, matrix)
    st.subheader(f"The {hits.height} images with the most similar attributes")
    image_grid(ds, hits["image_id"].to_list(), captions=[f"{int(d)} differ" for d in hits["distance"]])
    st.dataframe(hits.drop("row"), hide_index=True, width="stretch")
