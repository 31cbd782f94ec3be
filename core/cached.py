"""The only bridge between core/ and Streamlit's caches.

Data (small, copyable results) goes through st.cache_data; shared objects that
must be loaded once per server and never mutated (datasets, models, embedding
matrices) through st.cache_resource. Arguments are small hashables: dataset
names/keys, tuples, ints. Pages import what they need from here.
"""

from __future__ import annotations

import streamlit as st

from core.data import ingest
from core.data.dataset import Dataset
from core.data.images import thumbnail_bytes
from core.errors import DatasetError
from core.faces.store import Embeddings, default_embedding_model, list_embeddings, load_embeddings


@st.cache_data(ttl=20, show_spinner=False)
def dataset_refs() -> list[ingest.DatasetRef]:
    """Datasets under the data roots (re-scanned every 20 s so new folders appear)."""
    return ingest.discover()


def dataset(name: str) -> Dataset:
    """The named dataset, ingested once per server and re-read when its sources change."""
    ref = next((r for r in dataset_refs() if r.name == name), None)
    if ref is None:
        raise DatasetError(f"No dataset called {name!r} under data/.")
    return _dataset(str(ref.path), ref.name, ingest.stat_signature(ref.path, ref.layout))


@st.cache_resource(show_spinner="Loading dataset…", max_entries=8)
def _dataset(path: str, name: str, signature: tuple) -> Dataset:
    from pathlib import Path

    return ingest.ingest(Path(path), name)


@st.cache_resource(show_spinner="Loading embeddings…", max_entries=8)
def embeddings(ds_key: str, model: str, _ds: Dataset, created: str = "") -> Embeddings | None:
    """Embedding matrix of a dataset (memory-mapped, shared by all sessions)."""
    return load_embeddings(_ds.cache_dir, model)


def current_embeddings(ds: Dataset, model: str | None = None) -> Embeddings | None:
    """The dataset's embeddings, reloaded when a job rewrites them (keyed on their creation time)."""
    models = list_embeddings(ds.cache_dir)
    if not models:
        return None
    model = model or default_embedding_model(models)
    meta_path = ds.cache_dir / "embeddings" / model / "meta.json"
    created = str(meta_path.stat().st_mtime_ns) if meta_path.exists() else ""
    return embeddings(ds.key, model, ds, created)


@st.cache_data(max_entries=20_000, show_spinner=False)
def thumbnail(ds_key: str, image_id: str, size: int, _ds: Dataset) -> bytes | None:
    path = _ds.image_path(image_id)
    return thumbnail_bytes(path, size) if path is not None else None


# ---- faces ----


@st.cache_resource(show_spinner="Loading the face models…")
def face_models() -> bool:
    """Load dlib's detector, landmark and descriptor models once per server (raises ModelMissingError)."""
    from core.faces import pipeline as faces

    for name in ("hog", "landmarks5", "descriptor"):
        faces.load_dlib_model(name)
    return True


@st.cache_data(max_entries=32, show_spinner="Finding faces…")
def query_faces(data: bytes, aligned: bool = False):
    """Every face in an uploaded/picked image with its descriptor (core.search.QueryFaces)."""
    from core.faces import search

    face_models()
    img = search.open_rgb(data)
    return search.faces_in_image(img, aligned=aligned)


@st.cache_resource(max_entries=4, show_spinner="Indexing embeddings…")
def _face_index(ds_key: str, model: str, created: str, _emb: Embeddings):
    from core.faces.search import index_for

    return index_for(_emb)


def face_index(ds: Dataset, model: str | None = None):
    """(Embeddings, EmbeddingIndex) of a dataset's face embeddings, or (None, None) when not computed."""
    emb = current_embeddings(ds, model)
    if emb is None:
        return None, None
    return emb, _face_index(ds.key, emb.model, str(emb.meta.get("created", "")), emb)


# ---- stats ----
# Attribute statistics per (dataset key, Subset); Subset is a frozen, hashable dataclass.


@st.cache_resource(max_entries=8, show_spinner=False)
def attribute_matrix(ds_key: str, _ds: Dataset):
    """(N, A) uint8 attribute matrix of the whole dataset, shared read-only by all sessions."""
    matrix = _ds.attribute_matrix()
    matrix.flags.writeable = False
    return matrix


@st.cache_data(max_entries=256, show_spinner=False)
def subset_rows(ds_key: str, subset, _ds: Dataset):
    """Row indices (int64, ascending) of the dataset's rows in `subset`."""
    import numpy as np

    from core.data.subset import subset_rows as rows_of

    if subset.is_everything:
        return np.arange(_ds.n_images)
    return rows_of(_ds, subset)


def subset_matrix(ds: Dataset, subset):
    """(n, A) uint8 attribute matrix of the subset's rows (not cached itself: the pieces are)."""
    return attribute_matrix(ds.key, ds)[subset_rows(ds.key, subset, ds)]


@st.cache_data(max_entries=128, show_spinner=False)
def relation_stats(ds_key: str, subset, _ds: Dataset):
    """core.stats.RelationStats (prevalence, co-occurrence, P(A|B), phi, lift) of the subset."""
    from core.stats import relations as stats

    return stats.relation_stats(subset_matrix(_ds, subset), _ds.attributes)


@st.cache_data(max_entries=128, show_spinner=False)
def cluster_order(ds_key: str, subset, measure: str, _ds: Dataset) -> list[str]:
    """Attributes ordered by hierarchical clustering of the subset's `measure` matrix."""
    from core.stats import relations as stats

    rel = relation_stats(ds_key, subset, _ds)
    return stats.cluster_order(rel.measure(measure), _ds.attributes)


@st.cache_data(max_entries=32, show_spinner=False)
def prevalence_frame(ds_key: str, split_by: str | None, _ds: Dataset):
    """Long prevalence table, optionally split by "partition" or by an attribute's value."""
    from core.stats import relations as stats

    matrix = attribute_matrix(ds_key, _ds)
    groups = None
    if split_by == "partition":
        groups = _ds.table["partition"].to_numpy()
    elif split_by:
        values = _ds.table[split_by].to_numpy()
        groups = _as_object(values, {1: f"{split_by}=1", 0: f"{split_by}=0"})
    return stats.prevalence_frame(matrix, _ds.attributes, groups, group_name=split_by or "group")


def _as_object(values, labels: dict):
    import numpy as np

    out = np.empty(len(values), dtype=object)
    for value, label in labels.items():
        out[values == value] = label
    return out


@st.cache_data(max_entries=16, show_spinner=False)
def identity_counts(ds_key: str, _ds: Dataset):
    """(identity, images) per identity, most images first."""
    from core.stats import relations as stats

    return stats.images_per_identity(_ds.table)


@st.cache_data(max_entries=64, show_spinner=False)
def _model_split(ds_key: str, subset, _ds: Dataset):
    from core.stats import relations as stats

    rows = subset_rows(ds_key, subset, _ds)
    partition = _ds.table["partition"].to_numpy()[rows]
    identity = _ds.table["identity"].to_numpy()[rows]
    return stats.model_split(partition, identity, seed=0)


@st.cache_data(max_entries=256, show_spinner=False)
def attribute_model(ds_key: str, subset, target: str, _ds: Dataset) -> dict:
    """Logistic regression of `target` on the other attributes within the subset (see core.stats.relations)."""
    from core.stats import relations as stats

    return stats.predict_attribute(
        subset_matrix(_ds, subset), _ds.attributes, target, _model_split(ds_key, subset, _ds)
    )


@st.cache_data(max_entries=32, show_spinner="Fitting one model per attribute…")
def all_attribute_models(ds_key: str, subset, _ds: Dataset):
    """One row per attribute: how well the others predict it (test metrics beside the majority baseline)."""
    from core.stats import relations as stats

    return stats.predict_all_attributes(subset_matrix(_ds, subset), _ds.attributes, _model_split(ds_key, subset, _ds))


# ---- classifiers ----


@st.cache_data(ttl=3, show_spinner=False)
def saved_models(ds_key: str) -> list[dict]:
    """meta.json of the stored attribute models of a dataset, newest first (re-read every few seconds)."""
    from core.classify.store import list_models

    return list_models(ds_key)


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def stored_model(model_id: str, created: str):
    """A stored attribute model ready to predict (shared, never mutated); `created` keys a retrained id."""
    from core.classify.store import load_classifier

    return load_classifier(model_id)


@st.cache_data(show_spinner=False, max_entries=16)
def test_predictions(model_id: str, created: str) -> dict:
    """{'rows', 'labels', 'probs'} of a stored model on its test split."""
    from core.classify.store import load_test_predictions

    return load_test_predictions(model_id)


# ---- clustering ----
from core.cluster import algorithms as _cluster  # noqa: E402
from core.cluster import features as _features  # noqa: E402
from core.cluster import metrics as _cluster_metrics  # noqa: E402
from core.cluster import reduce as _reduce  # noqa: E402
from core.cluster.store import load_map as _load_map  # noqa: E402
from core.cluster.store import map_key as _map_key  # noqa: E402
from core.data.subset import Subset as _Subset  # noqa: E402


def features_key(ds: Dataset, spec: _features.FeatureSpec, subset: _Subset, max_points: int, seed: int) -> tuple:
    """Hashable key of a feature matrix: dataset, spec, subset, cap, seed and the embeddings' creation time."""
    created = ""
    if spec.space == "embeddings":
        emb = current_embeddings(ds, spec.model)
        created = str(emb.meta.get("created", "")) if emb is not None else ""
    return (ds.key, spec, subset, int(max_points), int(seed), created)


def cluster_features(ds: Dataset, spec: _features.FeatureSpec, subset: _Subset, max_points: int, seed: int = 0):
    """FeatureMatrix for the page (cached per key; raises DatasetError when the space is unavailable)."""
    return _cluster_features(features_key(ds, spec, subset, max_points, seed), ds)


@st.cache_resource(show_spinner="Building the feature matrix…", max_entries=16)
def _cluster_features(fkey: tuple, _ds: Dataset):
    _, spec, subset, max_points, seed, _ = fkey
    emb = current_embeddings(_ds, spec.model) if spec.space == "embeddings" else None
    probs = _features.load_predicted(_ds.cache_dir) if spec.space == "predicted" else None
    return _features.build_features(_ds, spec, subset, max_points, seed, embeddings=emb, probabilities=probs)


@st.cache_resource(show_spinner="Reducing dimensions…", max_entries=16)
def cluster_reduction(fkey: tuple, reduction: tuple, _X):
    """Reduction (method, n_components, params tuple) of the feature matrix named by fkey."""
    method, n_components, params = reduction
    return _reduce.reduce(_X, method, n_components, seed=fkey[4], **dict(params))


@st.cache_resource(show_spinner="Computing the 2-D map…", max_entries=16)
def cluster_map(fkey: tuple, method: str, _X, _ds: Dataset, _rows):
    """2-D map of the feature matrix (once per feature space); a UMAP stored by a background job is loaded."""
    if method == "umap":
        stored = _load_map(_ds.cache_dir, _map_key(*fkey, "umap"), _rows)
        if stored is not None:
            return _reduce.Reduction(stored, "umap", 2, "UMAP map computed in the background.")
    return _reduce.map_2d(_X, method, seed=fkey[4])


@st.cache_resource(show_spinner="Clustering…", max_entries=32)
def clustering(fkey: tuple, reduction: tuple, algorithm: str, params: tuple, _X):
    """Clustering of the (reduced) feature matrix; params is a sorted tuple of (name, value)."""
    return _cluster.cluster(_X, algorithm, seed=fkey[4], **dict(params))


@st.cache_data(show_spinner="Scoring…", max_entries=32)
def cluster_scores(fkey: tuple, reduction: tuple, algorithm: str, params: tuple, _X, _labels, _truth) -> dict:
    """Internal metrics and (with identities) external ones."""
    out = {"internal": _cluster_metrics.internal_metrics(_X, _labels, seed=fkey[4])}
    if _truth is not None:
        out["external"] = _cluster_metrics.external_metrics(_truth, _labels)
    return out


@st.cache_data(show_spinner="Summarising the clusters…", max_entries=32)
def cluster_attribute_shares(
    fkey: tuple, reduction: tuple, algorithm: str, params: tuple, _ds: Dataset, _rows, _labels
) -> tuple:
    """(clusters, cluster x attribute shares) of one clustering of the rows named by fkey."""
    from core.cluster.summary import attribute_shares

    return attribute_shares(_labels, _ds.attribute_matrix(_rows), _ds.attributes)


@st.cache_data(show_spinner="Measuring centroid distances…", max_entries=32)
def cluster_centroid_distances(
    fkey: tuple, reduction: tuple, algorithm: str, params: tuple, largest: int, _X, _labels
) -> tuple:
    """(clusters, distances) between the centroids of the `largest` biggest clusters of one clustering."""
    from core.cluster.summary import centroid_distances

    return centroid_distances(_X, _labels, largest)


@st.cache_data(show_spinner="Computing the k-distance curve…", max_entries=16)
def k_distance_curve(fkey: tuple, reduction: tuple, k: int, _X) -> tuple:
    """(sorted k-distances, suggested eps) for the DBSCAN helper."""
    curve = _cluster_metrics.k_distances(_X, k, seed=fkey[4])
    return curve, _cluster_metrics.suggest_eps(_X, k + 1, seed=fkey[4])


@st.cache_data(show_spinner="Averaging faces…", max_entries=64)
def cluster_faces(ds_key: str, image_ids: tuple[str, ...], _ds: Dataset) -> tuple:
    """(mean face, first eigenface, its variance share) of these images (grayscale thumbnails)."""
    from core.cluster.summary import gray_faces, mean_and_eigenface

    return mean_and_eigenface(gray_faces([_ds.image_path(i) for i in image_ids]))
