"""The only bridge between core/ and Streamlit's caches.

Data (small, copyable results) goes through st.cache_data; shared objects that
must be loaded once per server and never mutated (datasets, models, embedding
matrices) through st.cache_resource. Arguments are small hashables (names,
tuples, ints, frozen specs) and the dataset itself, hashed by its key
(DATASET_HASH). Pages import what they need from here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st

from core.classify import train as training
from core.classify.store import (
    ClassifierMeta,
    list_models,
    load_classifier,
    load_predictions,
    load_test_predictions,
)
from core.classify.train import EvaluationCounts
from core.classify.tryit import FaceDomain, PhotoPrediction, predict_photo
from core.classify.tryit import face_domain as measure_face_domain
from core.cluster.algorithms import Clustering, cluster_by
from core.cluster.features import FeatureKey, FeatureMatrix, build_features, feature_key
from core.cluster.lod import FaceTiles, face_tiles
from core.cluster.metrics import external_metrics, internal_metrics, k_distances, suggest_eps
from core.cluster.reduce import Reduction, ReductionSpec, map_2d, reduce_by
from core.cluster.store import ClusteringKey
from core.cluster.summary import attribute_shares, centroid_distances, gray_faces, mean_and_eigenface
from core.cluster.view import View
from core.data import ingest
from core.data.dataset import Dataset
from core.data.embeddings import (
    DLIB_MODEL,
    Embeddings,
    default_embedding_model,
    embeddings_version,
    list_embeddings,
    load_embeddings,
)
from core.data.images import thumbnail_bytes
from core.data.sprites import SpriteAtlas, atlas_version, load_atlas
from core.data.subset import subset_rows as rows_of
from core.errors import DatasetError
from core.faces import pipeline as faces
from core.faces import search
from core.faces.calibration import Calibration, calibrate_embeddings
from core.faces.search import index_for
from core.generate.audit import load_audit
from core.generate.store import (
    GeneratorMeta,
    generator_folder,
    list_generators,
    load_generator,
    load_grids,
    load_rows,
    load_steps,
)
from core.lessons.catalogue import lesson_by_id
from core.lessons.data import LessonData
from core.quality.audit import CHECKS, AuditInputs, check_token, missing
from core.quality.store import StoredResult, load_result, quality_dir
from core.stats import relations as stats

log = logging.getLogger(__name__)


def _dataset_token(ds: Dataset) -> str:
    return f"{ds.key}|{ds.images_key}"


def _embeddings_token(emb: Embeddings) -> tuple:
    return emb.model, str(emb.meta.get("created", "")), emb.vectors.shape


def _lesson_data_token(data: LessonData) -> str:
    return data.ds.key


# Cached functions take the dataset itself, once: Streamlit hashes it by its key (name + content fingerprint) and its
# images key, so a changed folder or a replaced photo is a new key and nothing else of the (large) object is hashed. The same holds for what carries one
# dataset's data: its embeddings (model and creation time) and a lesson's view of it.
DATASET_HASH = {Dataset: _dataset_token, Embeddings: _embeddings_token, LessonData: _lesson_data_token}


@st.cache_data(ttl=20, show_spinner=False)
def dataset_refs() -> list[ingest.DatasetRef]:
    """Datasets under the data roots (re-scanned every 20 s so new folders appear)."""
    return ingest.discover()


CONTENT_CHECK_S = 60  # how often a dataset's image files are looked at for a photo replaced in place


def dataset(name: str) -> Dataset:
    """The named dataset, ingested once per server and re-read when its sources change (a photo replaced in place,
    which changes no folder date, within CONTENT_CHECK_S)."""
    ref = next((r for r in dataset_refs() if r.name == name), None)
    if ref is None:
        raise DatasetError(f"No dataset called {name!r} under data/.")
    ds = _dataset(str(ref.path), ref.name, ingest.stat_signature(ref.path, ref.layout))
    if ds.image_dir is not None and _images_key_now(ds) != ds.images_key:  # the check rewrote the source marker
        ds = _dataset(str(ref.path), ref.name, ingest.stat_signature(ref.path, ref.layout))
    return ds


@st.cache_data(ttl=CONTENT_CHECK_S, show_spinner="Checking the image files for changes…", hash_funcs=DATASET_HASH)
def _images_key_now(ds: Dataset) -> str:
    """The images key of the dataset's files now: a stat per file (about a second at CelebA's size), once a minute."""
    return ingest.current_images_key(ds)


# Measured on a 202,599-image CelebA-shaped set: 42 s the first time (parsing, a content digest per file), then cached.
@st.cache_resource(
    show_spinner="Reading the dataset once: its annotations and a fingerprint of every image file (about 20 s per "
    "100,000 images; later visits are instant)…",
    max_entries=8,
)
def _dataset(path: str, name: str, signature: tuple) -> Dataset:
    return ingest.ingest(Path(path), name)


@st.cache_resource(show_spinner="Loading embeddings…", max_entries=8, hash_funcs=DATASET_HASH)
def embeddings(ds: Dataset, model: str, version: str = "") -> Embeddings | None:
    """Embedding matrix of a dataset (shared by all sessions); `version` (embeddings_version) keys a rewrite."""
    return load_embeddings(ds, model)


def current_embeddings(ds: Dataset, model: str | None = None) -> Embeddings | None:
    """The dataset's embeddings, reloaded when a job rewrites them (keyed on their creation time)."""
    models = list_embeddings(ds)
    if not models:
        return None
    model = model or default_embedding_model(models)
    return embeddings(ds, model, embeddings_version(ds, model))


@st.cache_data(max_entries=20_000, show_spinner=False, hash_funcs=DATASET_HASH)
def thumbnail(ds: Dataset, image_id: str, size: int) -> bytes | None:
    path = ds.image_path(image_id)
    return thumbnail_bytes(path, size) if path is not None else None


# ---- faces ----


@st.cache_resource(show_spinner="Loading the face models…")
def face_models() -> bool:
    """Load dlib's detector, landmark and descriptor models and the descriptor backend once per server (raises
    ModelMissingError)."""
    faces.warm_up()
    return True


@st.cache_resource(show_spinner=False)
def face_models_warming() -> threading.Thread:
    """Start loading the face models in a background thread, once per server: a page where a photo may come next
    calls it when shown, so the photo chosen seconds later does not wait for them (face_models then finds them
    loaded). A failure is left to face_models, which says what to do."""
    worker = threading.Thread(target=_warm_quietly, name="face-models-warm-up", daemon=True)
    worker.start()
    return worker


def _warm_quietly() -> None:
    try:
        faces.warm_up()
    except Exception:  # face_models raises it again, where a page can say what to do
        log.info("warming up the face models failed; the first photo will say why", exc_info=True)


@st.cache_data(max_entries=16, show_spinner="Finding faces…")
def query_faces(data: bytes, dataset_aligned: bool = False):
    """Every face in an uploaded/picked photo with its descriptor (core.faces.search.QueryFaces), found as the
    dataset's own faces were (see faces_in_bytes); keyed by the photo's content."""
    face_models()
    return search.faces_in_bytes(data, dataset_aligned)


@st.cache_resource(max_entries=4, show_spinner="Indexing embeddings…", hash_funcs=DATASET_HASH)
def _face_index(ds: Dataset, emb: Embeddings):
    return index_for(emb)


def face_index(ds: Dataset, model: str | None = None):
    """(Embeddings, EmbeddingIndex) of a dataset's face embeddings, or (None, None) when not computed."""
    emb = current_embeddings(ds, model)
    if emb is None:
        return None, None
    return emb, _face_index(ds, emb)


@st.cache_data(
    max_entries=8,
    show_spinner="Measuring the same-person distance on this dataset's identities (a few seconds at most)…",
    hash_funcs=DATASET_HASH,
)
def same_person_calibration(ds: Dataset, emb: Embeddings) -> Calibration | None:
    """The dataset's same-person distance measured on its own identity pairs (None without identities or pairs)."""
    return calibrate_embeddings(ds, emb)


# ---- stats ----
# Attribute statistics per (dataset, Subset); Subset is a frozen, hashable dataclass.


@st.cache_resource(max_entries=8, show_spinner=False, hash_funcs=DATASET_HASH)
def attribute_matrix(ds: Dataset):
    """(N, A) uint8 attribute matrix of the whole dataset, shared read-only by all sessions."""
    matrix = ds.attribute_matrix()
    matrix.flags.writeable = False
    return matrix


@st.cache_data(max_entries=256, show_spinner=False, hash_funcs=DATASET_HASH)
def subset_rows(ds: Dataset, subset):
    """Row indices (int64, ascending) of the dataset's rows in `subset`."""
    if subset.is_everything:
        return np.arange(ds.n_images)
    return rows_of(ds, subset)


def subset_matrix(ds: Dataset, subset):
    """(n, A) uint8 attribute matrix of the subset's rows (not cached itself: the pieces are)."""
    return attribute_matrix(ds)[subset_rows(ds, subset)]


@st.cache_data(max_entries=128, show_spinner=False, hash_funcs=DATASET_HASH)
def relation_stats(ds: Dataset, subset):
    """core.stats.RelationStats (prevalence, co-occurrence, P(A|B), phi, lift) of the subset."""
    return stats.relation_stats(subset_matrix(ds, subset), ds.attributes)


@st.cache_data(max_entries=128, show_spinner=False, hash_funcs=DATASET_HASH)
def cluster_order(ds: Dataset, subset, measure: str) -> list[str]:
    """Attributes ordered by hierarchical clustering of the subset's `measure` matrix."""
    rel = relation_stats(ds, subset)
    return stats.cluster_order(rel.measure(measure), ds.attributes)


@st.cache_data(max_entries=32, show_spinner=False, hash_funcs=DATASET_HASH)
def prevalence_frame(ds: Dataset, split_by: str | None):
    """Long prevalence table, optionally split by "partition" or by an attribute's value."""
    matrix = attribute_matrix(ds)
    groups = None
    if split_by == "partition":
        groups = ds.table["partition"].to_numpy()
    elif split_by:
        values = ds.table[split_by].to_numpy()
        groups = _as_object(values, {1: f"{split_by}: yes", 0: f"{split_by}: no"})
    return stats.prevalence_frame(matrix, ds.attributes, groups, group_name=split_by or "group")


def _as_object(values, labels: dict):
    out = np.empty(len(values), dtype=object)
    for value, label in labels.items():
        out[values == value] = label
    return out


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs=DATASET_HASH)
def identity_counts(ds: Dataset):
    """(identity, images) per identity, most images first."""
    return stats.images_per_identity(ds.table)


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs=DATASET_HASH)
def _model_split(ds: Dataset, subset):
    rows = subset_rows(ds, subset)
    partition = ds.table["partition"].to_numpy()[rows]
    identity = ds.table["identity"].to_numpy()[rows]
    return stats.model_split(partition, identity, seed=0)


@st.cache_data(max_entries=256, show_spinner=False, hash_funcs=DATASET_HASH)
def attribute_model(ds: Dataset, subset, target: str) -> dict:
    """Logistic regression of `target` on the other attributes within the subset (see core.stats.relations)."""
    return stats.predict_attribute(subset_matrix(ds, subset), ds.attributes, target, _model_split(ds, subset))


@st.cache_data(max_entries=32, show_spinner="Fitting one model per attribute…", hash_funcs=DATASET_HASH)
def all_attribute_models(ds: Dataset, subset):
    """One row per attribute: how well the others predict it (test metrics beside the majority baseline)."""
    return stats.predict_all_attributes(subset_matrix(ds, subset), ds.attributes, _model_split(ds, subset))


# ---- classifiers ----


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs=DATASET_HASH)
def evaluation_counts(ds: Dataset) -> dict[str, EvaluationCounts]:
    """Positive and negative test images per attribute in the split a new classifier is measured on."""
    return training.evaluation_counts(ds)


@st.cache_data(ttl=3, show_spinner=False, hash_funcs=DATASET_HASH)
def saved_models(ds: Dataset) -> list[ClassifierMeta]:
    """The stored attribute models of a dataset (its key or the same labels), newest first (re-read every few s)."""
    return list_models(ds.key, ds.labels_key)


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def stored_model(model_id: str, created: str):
    """A stored attribute model ready to predict (shared, never mutated); `created` keys a retrained id."""
    return load_classifier(model_id)


@st.cache_data(max_entries=16, show_spinner="Finding faces and predicting their attributes…")
def photo_prediction(model_id: str, created: str, data: bytes) -> PhotoPrediction:
    """A stored model's attribute probabilities for the faces of an uploaded photo, keyed by the photo's content."""
    face_models()
    return predict_photo(stored_model(model_id, created), data)


@st.cache_resource(
    max_entries=4,
    show_spinner="Measuring how far this dataset's faces lie from each other (seconds)…",
    hash_funcs=DATASET_HASH,
)
def _face_domain(ds: Dataset, emb: Embeddings) -> FaceDomain | None:
    identity = ds.table["identity"].to_numpy() if ds.has_identity else None
    return measure_face_domain(emb.vectors, emb.has_face, identity)


def face_domain(ds: Dataset) -> FaceDomain | None:
    """The dataset's faces as a try-it photo is compared with them (dlib descriptors), or None without them."""
    if DLIB_MODEL not in list_embeddings(ds):
        return None
    emb = current_embeddings(ds, DLIB_MODEL)
    return None if emb is None else _face_domain(ds, emb)


@st.cache_data(show_spinner=False, max_entries=16)
def test_predictions(model_id: str, created: str) -> dict:
    """{'rows', 'labels', 'probs'} of a stored model on its test split."""
    return load_test_predictions(model_id)


# ---- clustering ----
# Every result is keyed by the ClusteringKey of its clustering (or the FeatureKey of its feature matrix); the dataset
# is passed once (hashed by its key); the arrays themselves are passed unhashed (leading underscore).


def clustering_key(ds: Dataset, view: View) -> ClusteringKey:
    """The key of a view's clustering, its features versioned by the current embeddings or predictions."""
    spec = view.features
    emb = current_embeddings(ds, spec.model) if spec.space == "embeddings" else None
    predictions = load_predictions(ds.cache_dir, spec.model) if spec.space == "predicted" else None
    features = feature_key(ds, spec, view.subset, view.point_limit, view.seed, emb, predictions)
    return ClusteringKey(features, view.reduction, view.clustering)


@st.cache_resource(show_spinner="Building the feature matrix…", max_entries=16, hash_funcs=DATASET_HASH)
def cluster_features(ds: Dataset, features: FeatureKey) -> FeatureMatrix:
    """The feature matrix `features` names (raises DatasetError when its space is unavailable)."""
    spec = features.spec
    emb = current_embeddings(ds, spec.model) if spec.space == "embeddings" else None
    predictions = load_predictions(ds.cache_dir, features.source_version or None) if spec.space == "predicted" else None
    return build_features(
        ds, spec, features.subset, features.max_points, features.seed, embeddings=emb, predictions=predictions
    )


@st.cache_resource(show_spinner="Reducing dimensions…", max_entries=16)
def cluster_reduction(features: FeatureKey, reduction: ReductionSpec, _X) -> Reduction:
    """The reduction of the feature matrix `features` names (the first two parts of a ClusteringKey: a new
    clustering of the same reduction reuses it)."""
    return reduce_by(_X, reduction, seed=features.seed)


@st.cache_resource(show_spinner="Computing the 2-D map…", max_entries=16)
def cluster_map(features: FeatureKey, method: str, _X) -> Reduction:
    """2-D map of the feature matrix (once per feature space)."""
    return map_2d(_X, method, seed=features.seed)


@st.cache_resource(show_spinner="Clustering…", max_entries=32)
def clustering(key: ClusteringKey, _X) -> Clustering:
    """The clustering the key names, of the (reduced) feature matrix X."""
    return cluster_by(_X, key.clustering, seed=key.features.seed)


@st.cache_resource(show_spinner=False, max_entries=8)
def webgl_map(key: ClusteringKey, map_version: str, colour_by: str, mode: str, _build: Callable[[], bytes]) -> bytes:
    """The WebGL map's blob of one clustering on one map, coloured one way (2.8 MB at CelebA's size, 0.4-1 s to build):
    once, not on every rerun a selection makes."""
    return _build()


@st.cache_resource(show_spinner=False, max_entries=8)
def map_face_tiles(map_version: str, _coords) -> FaceTiles:
    """The level of detail of one map's points (which faces show at which zoom, in which tile): 3 s at CelebA's size,
    once per map."""
    return face_tiles(_coords)


def sprite_atlas(ds: Dataset, size: int) -> SpriteAtlas | None:
    """The dataset's face thumbnails of `size` px (memory-mapped, shared by every session), None until built."""
    version = atlas_version(ds, size)
    return _sprite_atlas(ds, size, version) if version else None


@st.cache_resource(show_spinner=False, max_entries=8, hash_funcs=DATASET_HASH)
def _sprite_atlas(ds: Dataset, size: int, version: str) -> SpriteAtlas | None:
    return load_atlas(ds, size)


@st.cache_data(show_spinner="Scoring…", max_entries=32)
def cluster_scores(key: ClusteringKey, _X, _labels, _truth) -> dict:
    """Internal metrics and (with identities) external ones."""
    out = {"internal": internal_metrics(_X, _labels, seed=key.features.seed)}
    if _truth is not None:
        out["external"] = external_metrics(_truth, _labels)
    return out


@st.cache_data(show_spinner="Summarising the clusters…", max_entries=32, hash_funcs=DATASET_HASH)
def cluster_attribute_shares(ds: Dataset, key: ClusteringKey, _rows, _labels) -> tuple:
    """(clusters, cluster x attribute shares) of one clustering of the rows its features name."""
    return attribute_shares(_labels, ds.attribute_matrix(_rows), ds.attributes)


@st.cache_data(show_spinner="Measuring centroid distances…", max_entries=32)
def cluster_centroid_distances(key: ClusteringKey, largest: int, _X, _labels) -> tuple:
    """(clusters, distances) between the centroids of the `largest` biggest clusters of one clustering."""
    return centroid_distances(_X, _labels, largest)


@st.cache_data(show_spinner="Computing the k-distance curve…", max_entries=16)
def k_distance_curve(features: FeatureKey, reduction: ReductionSpec, k: int, _X) -> tuple:
    """(sorted k-distances, suggested eps) for the DBSCAN helper, on the reduced matrix `features` and `reduction`
    name."""
    return k_distances(_X, k, seed=features.seed), suggest_eps(_X, k + 1, seed=features.seed)


@st.cache_data(show_spinner="Averaging faces…", max_entries=64, hash_funcs=DATASET_HASH)
def cluster_faces(ds: Dataset, image_ids: tuple[str, ...]) -> tuple:
    """(mean face, first eigenface, its variance share) of these images (grayscale thumbnails)."""
    return mean_and_eigenface(gray_faces([ds.image_path(i) for i in image_ids]))


# ---- lessons ----
# A step's answer and view depend on the dataset and on what is stored beside it (embeddings, classifiers):
# `version` (core.lessons.data.data_version) changes when those do, so an answer never outlives its inputs.


@st.cache_data(
    max_entries=512, show_spinner="Computing the answer from this dataset (a few seconds)…", hash_funcs=DATASET_HASH
)
def lesson_answer(data: LessonData, lesson_id: str, step: int, version: str):
    """core.lessons Answer of one step (0-based) of a lesson on the dataset `data` holds."""
    return lesson_by_id(lesson_id).steps[step].answer(data)


@st.cache_data(max_entries=512, show_spinner=False, hash_funcs=DATASET_HASH)
def lesson_view(data: LessonData, lesson_id: str, step: int, version: str) -> dict[str, str]:
    """The URL parameters of the view one lesson step opens on the dataset `data` holds."""
    return lesson_by_id(lesson_id).steps[step].params(data)


# ---- data quality ----
# Stored audit results, keyed by the dataset, the check and the token of the inputs they were computed from
# (core.quality.audit.check_token): a new embedding run or a changed folder gives a new token, so a stale result
# is never shown.


@st.cache_resource(max_entries=32, show_spinner="Loading the audit results…", hash_funcs=DATASET_HASH)
def _quality_result(ds: Dataset, check: str, token: str) -> StoredResult | None:
    return load_result(quality_dir(ds), check, token)


@st.cache_resource(max_entries=8, show_spinner=False, hash_funcs=DATASET_HASH)
def _audit_inputs(ds: Dataset, versions: tuple) -> AuditInputs:
    return AuditInputs.of(ds, current_embeddings)


def audit_inputs(ds: Dataset) -> AuditInputs:
    """What the checks read (the shared embedding matrix and the dlib run's records), read once per embedding run:
    at CelebA's size reading and checking them takes seconds, which every rerun of the page used to pay twice."""
    return _audit_inputs(ds, tuple((m, embeddings_version(ds, m)) for m in list_embeddings(ds)))


def quality_results(ds: Dataset) -> dict[str, StoredResult | None]:
    """{check: its stored result, or None when it has not run on the current data} for every check."""
    inputs = audit_inputs(ds)
    out = {}
    for check in CHECKS:
        token = check_token(ds, check, inputs)
        result = _quality_result(ds, check, token)
        if result is None:
            _quality_result.clear(ds, check, token)  # not computed yet: look again on the next run
        out[check] = result
    return out


def quality_missing(ds: Dataset) -> dict[str, str | None]:
    """{check: why it cannot run on this dataset, or None}."""
    inputs = audit_inputs(ds)
    return {check: missing(ds, check, inputs) for check in CHECKS}


# ---- generated faces ----
# A stored generator is keyed by its id and `updated` (rewritten at every epoch), its audit by its creation time.


@st.cache_data(ttl=3, show_spinner=False, hash_funcs=DATASET_HASH)
def generators(ds: Dataset) -> list[GeneratorMeta]:
    """The dataset's stored face generators, most recently trained first (re-read every few seconds)."""
    return list_generators(ds)


@st.cache_resource(max_entries=4, show_spinner="Loading the generator…")
def _generator_net(generator_id: str, updated: str, _meta: GeneratorMeta):
    return load_generator(_meta)


def generator_net(meta: GeneratorMeta):
    """The stored generator (shared by every session, never trained further in the server)."""
    return _generator_net(meta.generator_id, meta.updated, meta)


@st.cache_data(max_entries=8, show_spinner=False)
def _generator_arrays(generator_id: str, updated: str, _meta: GeneratorMeta) -> tuple[np.ndarray, np.ndarray]:
    return load_grids(_meta), load_steps(_meta)


def generator_history(meta: GeneratorMeta) -> tuple[np.ndarray, np.ndarray]:
    """(grids (epochs + 1, 64, S, S, 3) uint8, steps (n, 5) float32) of a stored generator."""
    return _generator_arrays(meta.generator_id, meta.updated, meta)


@st.cache_data(max_entries=8, show_spinner=False, hash_funcs=DATASET_HASH)
def generator_labels(ds: Dataset, generator_id: str, updated: str, _meta: GeneratorMeta) -> np.ndarray:
    """(faces, k) uint8 labels of the attributes a conditional generator was trained on, for its training faces."""
    columns = [ds.attributes.index(a) for a in _meta.config.attributes]
    return ds.attribute_matrix(load_rows(_meta))[:, columns]


@st.cache_resource(max_entries=4, show_spinner="Loading the generator's audit…")
def _generator_audit(generator_id: str, stamp: int, _meta: GeneratorMeta):
    return load_audit(_meta)


def generator_audit(meta: GeneratorMeta):
    """(GeneratorAudit, its arrays) as stored, or None before the first audit."""
    path = generator_folder(meta.generator_id) / "audit.json"
    return _generator_audit(meta.generator_id, path.stat().st_mtime_ns if path.exists() else 0, meta)
