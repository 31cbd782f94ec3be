"""Widgets and panels of the Face search page (layout only; the work is in core.faces.search)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core import cached
from core import format as fmt
from core.charts import faces as face_charts
from core.data.dataset import Dataset
from core.data.embeddings import Embeddings
from core.data.images import read_image_file
from core.errors import ImageError, ModelMissingError
from core.faces import calibration, search
from core.faces.calibration import DLIB_THRESHOLD, TARGET_PRECISION, SamePersonBasis, SamePersonRule
from core.faces.embed_job import MODEL
from ui import links, state
from ui.busy import one_heavy_query
from ui.gallery import image_grid
from ui.jobs import embeddings_prerequisite
from ui.tables import first_rows

SOURCES = ("Upload a photo", "Take a photo", "A dataset image")
SOURCE_URL = {"Upload a photo": None, "Take a photo": "camera", "A dataset image": "dataset"}
MAX_CHOICES = 500  # image ids offered at once in a selectbox
UPLOAD_NOTE = (
    "Your photo is processed in this server's memory to find faces and is never stored, logged or sent "
    "anywhere; it is gone when you close the page. It is never put in a link."
)


def pick_image_id(ds: Dataset, key: str, url: str, label: str = "Image") -> str | None:
    """Text filter + selectbox over the dataset's image ids; the chosen id lives in the URL under `url`."""
    shared = st.query_params.get(url)
    if shared and key not in st.session_state and ds.row_of(shared) is not None:
        st.session_state[state.image_id_filter(key)] = shared  # a shared link opens on that image
        st.session_state[key] = shared
    text = st.text_input("Image id contains", key=state.image_id_filter(key), placeholder="e.g. 000123")
    ids = ds.table["image_id"]
    if text:
        ids = ids.filter(ids.str.contains(text, literal=True))
    options = ids.head(MAX_CHOICES).to_list()
    if not options:
        st.warning("No image id matches that text.")
        links.forget(url)
        return None
    if st.session_state.get(key) not in options:
        st.session_state.pop(key, None)
    image_id = st.selectbox(label, options, key=key, help=f"The first {MAX_CHOICES} matching ids are listed.")
    links.remember(url, image_id)
    return image_id


def query_source_ui(ds: Dataset) -> tuple[bytes | None, str | None]:
    """The query image as bytes, and its image id when it comes from the dataset."""
    sources = SOURCES if ds.has_images else SOURCES[:2]
    if state.FS_SOURCE not in st.session_state:
        if ds.has_images and ds.row_of(st.query_params.get("image", "")) is not None:
            st.session_state[state.FS_SOURCE] = SOURCES[2]  # a shared link opens on that dataset image
        elif st.query_params.get("src") == "camera":
            st.session_state[state.FS_SOURCE] = SOURCES[1]
    source = st.radio("Query", sources, horizontal=True, key=state.FS_SOURCE)
    links.remember("src", SOURCE_URL[source] if source != SOURCES[2] else None)
    if source != SOURCES[2]:
        links.forget("image")
    if source == SOURCES[0]:
        upload = st.file_uploader(
            "A photo with a face", type=["jpg", "jpeg", "png", "webp"], key="fs-upload", help=UPLOAD_NOTE
        )
        st.caption(UPLOAD_NOTE)
        return (upload.getvalue() if upload else None), None
    if source == SOURCES[1]:
        shot = st.camera_input("Take a photo", key="fs-camera", help=UPLOAD_NOTE)
        st.caption(UPLOAD_NOTE)
        return (shot.getvalue() if shot else None), None
    image_id = pick_image_id(ds, state.FS_IMAGE, "image")
    path = ds.image_path(image_id) if image_id else None
    if path is None:
        if image_id:
            st.error(f"{image_id} is missing on disk.")
        return None, image_id
    try:
        return read_image_file(path), image_id
    except ImageError as exc:
        st.error(f"{exc} Pick another image.")
        return None, image_id


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
        links.forget("face")
        return 0
    return links.synced(
        "face",
        state.FS_FACE,
        0,
        lambda: int(
            st.radio("Face", list(range(n)), format_func=lambda i: f"face {i + 1}", horizontal=True, key=state.FS_FACE)
        ),
        int,
        links.one_of(range(n)),
    )


def search_options_ui() -> tuple[int, str]:
    k = links.synced(
        "k",
        state.FS_K,
        12,
        lambda: st.slider("How many look-alikes", 1, 48, 12, key=state.FS_K),
        int,
        links.between(1, 48),
    )
    metric = links.synced(
        "metric",
        state.FS_METRIC,
        "euclidean",
        lambda: st.selectbox(
            "Distance",
            ("euclidean", "cosine"),
            key=state.FS_METRIC,
            help="euclidean: the straight-line distance between two face descriptors (what dlib's same-person "
            "threshold is for); cosine: 1 - the cosine of the angle between them (ignores their length).",
        ),
        valid=links.one_of(("euclidean", "cosine")),
    )
    return k, metric


def rule_for_search(ds: Dataset, emb: Embeddings, metric: str, from_dataset: bool) -> SamePersonRule:
    """core's same-person rule for this search, calibrated (once per embedding set) on the dataset's identities."""
    return calibration.same_person_rule(
        ds, emb.model, metric, from_dataset, lambda: cached.same_person_calibration(ds, emb)
    )


def same_person_reason(ds: Dataset, rule: SamePersonRule) -> str:
    """The sentence under the distances saying which faces are called the same person, and why."""
    basis, measured = rule.basis, rule.calibration
    if basis == SamePersonBasis.NOT_EUCLIDEAN:
        return "Same-person distances are calibrated for euclidean distance only."
    if basis == SamePersonBasis.DRAWN_FACES:
        return (
            f"Your photo is not one of {ds.name}'s images (none of their faces is at distance 0.000 from it). The "
            "demo's people are drawn cartoons, so the person in your photo is none of them: no face here is called "
            "the same person, and the distances show resemblance only."
        )
    if basis == SamePersonBasis.TOO_FEW_PAIRS:
        return f"{ds.name} has too few faces per identity to calibrate a same-person distance."
    if basis == SamePersonBasis.NO_KNOWN_THRESHOLD:
        return "No identity labels to calibrate these embeddings on, so no face is called the same person."
    if basis == SamePersonBasis.DLIB_DEFAULT:
        return (
            f"{ds.name} has no identity labels to calibrate on: {fmt.decimal(DLIB_THRESHOLD, 3)} is dlib's own "
            "same-person threshold for this descriptor on photos of real people (set by dlib's author on the LFW "
            f"benchmark, where it reaches {fmt.percent(0.9938, digits=2)} accuracy). How often it is right on "
            f"{ds.name} cannot be measured without identity labels, and it does not apply to drawings or heavily "
            "edited images."
        )
    measured_text = (
        f"the median distance between two photos of one person is {fmt.decimal(measured.median_same, 2)}, between "
        f"two different people {fmt.decimal(measured.median_different, 2)} (ROC AUC {fmt.decimal(measured.auc)} over "
        f"{fmt.count(measured.same_pairs)} same-person and {fmt.count(measured.different_pairs)} different-person "
        "pairs)"
    )
    if basis == SamePersonBasis.CALIBRATED:
        cut = measured.same_person
        return (
            f"Same-person distance {fmt.decimal(cut.threshold, 3)}, measured on {ds.name}'s own identities with "
            f"{fmt.count(cut.queries)} of its faces as queries: {fmt.percent(cut.precision)} of the faces closer "
            f"than that to a query are the same person (the cut is the largest with at least "
            f"{fmt.percent(cut.target, 0)}), and they are {fmt.percent(cut.recall)} of the query's other photos. "
            f"On {ds.name}, {measured_text}."
        )
    return (
        f"No face is called the same person here: on {ds.name}'s own identities no distance finds the same person "
        f"with a precision of at least {fmt.percent(TARGET_PRECISION, 0)}; {measured_text}."
    )


def same_person_count(ds: Dataset, rule: SamePersonRule, closer: int, total: int) -> str:
    """'**117 of 5,999** faces are closer than 0.312: probably the same person (…how often that is right).'"""
    head = f"**{fmt.count(closer)} of {fmt.count(total)}** faces are closer than {fmt.decimal(rule.threshold, 3)}"
    if not closer:
        return f"{head}: none is likely the same person."
    cut = rule.calibration.same_person if rule.calibration is not None else None
    if cut is None:
        return f"{head}: probably the same person by dlib's threshold (not measured on {ds.name}, which has no identities)."
    return (
        f"{head}: probably the same person (measured on {ds.name}'s own identities, "
        f"{fmt.percent(cut.precision)} of the faces this close are that person)."
    )


def recognised_note(ds: Dataset, row: int) -> str:
    """What is known about an uploaded photo that is one of the dataset's images."""
    who = ds.table["identity"][row] if ds.has_identity else None
    of = f", labelled as identity {who}" if who is not None else ""
    return (
        f"Your photo is {ds.table['image_id'][row]} of {ds.name}{of}: its face is the one stored for that image "
        "(distance 0.000), so it is searched as that image, and it is listed first."
    )


def results_ui(
    ds: Dataset,
    index,
    query: np.ndarray,
    exclude: int | None,
    k: int,
    metric: str,
    rule: SamePersonRule,
    query_row: int | None = None,
) -> None:
    """The k nearest faces as a gallery, then every face by distance (table and histogram).

    exclude: a picked dataset image, left out of its own results; query_row: the dataset row the query is (picked,
    or an uploaded photo recognised as one), whose identity label the hits are compared with."""
    hits = search.nearest_faces(ds, index, query, k, metric, exclude)
    decided = calibration.same_person(hits["distance"].to_numpy(), rule.threshold)
    st.subheader(f"The {hits.height} nearest faces")
    captions = [
        f"{r['distance']:.{search.DISTANCE_DECIMALS}f} · {r['identity'] or 'no identity'}"
        + (" · same person" if same else "")
        for r, same in zip(hits.iter_rows(named=True), decided)
    ]
    image_grid(ds, hits["image_id"].to_list(), captions=captions)
    st.caption(
        f"Under each face: its {metric} distance to yours (smaller = more alike), then its identity label"
        + (", and 'same person' where it is closer than the same-person distance." if rule.threshold else ".")
    )
    who = ds.table["identity"][query_row] if query_row is not None and ds.has_identity else None
    if who is not None:  # a dataset image with a label: look-alikes and the same person can be told apart
        same = sum(1 for i in hits["identity"] if i == who)
        st.caption(f"{same} of the {hits.height} nearest faces are labelled with the query's identity ({who}).")
    st.subheader("Every face in the dataset by distance")
    ranked = search.all_distances(ds, index, query, metric)
    if exclude is not None:
        ranked = ranked.filter(ranked["row"] != exclude)
    if rule.threshold is not None:
        closer = int(calibration.same_person(ranked["distance"].to_numpy(), rule.threshold).sum())
        st.markdown(same_person_count(ds, rule, closer, ranked.height))
    st.caption(same_person_reason(ds, rule))
    st.altair_chart(face_charts.distance_histogram(ranked["distance"].to_numpy(), rule.threshold), width="stretch")
    listed = first_rows(ranked.drop("row"), "faces, nearest first", "the histogram counts all of them")
    st.dataframe(listed, hide_index=True, width="stretch")


def face_search_section(ds: Dataset) -> None:
    """Query photo -> boxed faces -> nearest dataset faces."""
    emb, index = cached.face_index(ds)
    if emb is None:
        embeddings_prerequisite(ds, "searching faces by look-alike", key="fs-embed")
        return
    st.caption(f"Searching {fmt.count(emb.n_valid)} faces ({emb.model} embeddings, {emb.dim} numbers each).")
    cached.face_models_warming()  # while the visitor picks a photo
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
        rule = rule_for_search(ds, emb, metric, from_dataset=True)
        results_ui(ds, index, np.asarray(emb.vectors[row]), row, k, metric, rule, row)
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
        found_text = "1 face found" if len(found.boxes) == 1 else f"{len(found.boxes)} faces found"
        st.image(search.draw_boxes(found.image, found.boxes, chosen), caption=found_text)
    query_row = row if row is not None else search.dataset_row_of_face(index, found.vectors[chosen])
    if row is None and query_row is not None:
        st.info(recognised_note(ds, query_row))
    rule = rule_for_search(ds, emb, metric, from_dataset=query_row is not None)
    results_ui(ds, index, found.vectors[chosen], row, k, metric, rule, query_row)


def attribute_search_section(ds: Dataset) -> None:
    """Attribute values (chosen or copied from an image) -> images with the nearest attribute vectors."""
    if not ds.attributes:
        st.info(f"{ds.name} has no attribute annotations, so there is nothing to compare.")
        return
    if state.FS_ATTRIBUTE_SOURCE not in st.session_state and ds.row_of(st.query_params.get("like", "")) is not None:
        st.session_state[state.FS_ATTRIBUTE_SOURCE] = "Copy from an image"
    how = st.radio(
        "Attribute values", ("Choose them", "Copy from an image"), horizontal=True, key=state.FS_ATTRIBUTE_SOURCE
    )
    matrix = cached.attribute_matrix(ds)
    exclude = None
    if how == "Choose them":
        links.forget("like")
        present = links.synced_multiselect(
            "has", state.FS_ATTRIBUTES_PRESENT, "Attributes present (all others absent)", ds.attributes
        )
        query = np.array([a in present for a in ds.attributes], np.uint8)
    else:
        links.forget("has")
        image_id = pick_image_id(ds, state.FS_ATTRIBUTE_IMAGE, "like")
        if image_id is None:
            return
        exclude = ds.row_of(image_id)
        query = matrix[exclude]
        shown = [a for a, v in zip(ds.attributes, query) if v]
        st.caption("Its attributes: " + (", ".join(shown) or "none"))
    k = links.synced(
        "n",
        state.FS_ATTRIBUTE_K,
        12,
        lambda: st.slider("How many images", 1, 48, 12, key=state.FS_ATTRIBUTE_K),
        int,
        links.between(1, 48),
    )
    hits = search.nearest_attribute_rows(ds, query, k, exclude, matrix)
    st.subheader(f"The {hits.height} images with the most similar attributes")
    image_grid(ds, hits["image_id"].to_list(), captions=[f"{int(d)} differ" for d in hits["distance"]])
    st.dataframe(hits.drop("row"), hide_index=True, width="stretch")
