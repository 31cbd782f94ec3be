"""The Clustering page's steps that may be slow: the reduction before clustering, the clustering and the 2-D map.

Each goes through one mechanism (`inline_or_background`): computed in the page when its estimate is short, else the
result a background job stored, else that job is started (without a click) and the page says it waits for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import streamlit as st

from core import cached
from core import format as fmt
from core.cli.cluster import labels_job_spec, map_job_spec, reduction_job_spec
from core.cluster.algorithms import ALGORITHMS, Clustering
from core.cluster.costs import (
    JOB_START_SECONDS,
    MAX_POINTS,
    clustering_seconds,
    map_seconds,
    reduction_seconds,
    runs_inline,
)
from core.cluster.features import FeatureMatrix
from core.cluster.reduce import TSNE_MAX_POINTS, Reduction
from core.cluster.store import (
    ClusteringKey,
    clustering_dir,
    labels_key,
    load_clustering,
    load_map,
    map_key,
    reduction_key,
)
from core.data.dataset import Dataset
from core.jobs import JobSpec
from ui import state as keys
from ui.jobs import embeddings_prerequisite, job_launcher

T = TypeVar("T")


@dataclass(frozen=True)
class SlowStep(Generic[T]):
    """A step that may be too slow for the page: how long it should take, the job that computes and stores it, and
    how to read what that job stored."""

    label: str  # what the job's panel says: "UMAP of 5,000 points"
    again: str  # the button that runs it again after a failure
    button_key: str
    seconds: float  # expected in the page
    job: JobSpec
    stored: Callable[[], T | None]  # what the job stored for exactly these points, else None


def inline_or_background(step: SlowStep[T], compute: Callable[[], T]) -> T | None:
    """The step's result: computed here when quick, else what its job stored, else None while the job (started now,
    without a click, when it never ran) works beside its progress panel."""
    if runs_inline(step.seconds):
        return compute()
    stored = step.stored()
    if stored is not None:
        return stored
    job_launcher(
        step.job,
        step.label,
        step.again,
        key=step.button_key,
        expected=JOB_START_SECONDS + step.seconds,
        auto_start=True,
    )
    return None


def reduced_features(ds: Dataset, fm: FeatureMatrix, key: ClusteringKey) -> Reduction | None:
    """The reduction before clustering (None while its job runs)."""
    spec = key.reduction
    name = spec.method.upper()

    def stored() -> Reduction | None:
        coords = load_map(clustering_dir(ds), reduction_key(key.features, spec), fm.rows)
        return (
            None
            if coords is None
            else Reduction(coords, spec.method, coords.shape[1], f"{name} to {coords.shape[1]}-D.")
        )

    step = SlowStep(
        f"{name} of {fmt.count(fm.n)} points",
        f"Compute the {name} reduction again",
        keys.CL_REDUCE_JOB,
        reduction_seconds(spec, fm.n),
        reduction_job_spec(ds, key.features, spec),
        stored,
    )
    return inline_or_background(step, lambda: cached.cluster_reduction(key.features, spec, fm.X))


def clustering_result(ds: Dataset, fm: FeatureMatrix, key: ClusteringKey, reduced: Reduction) -> Clustering | None:
    """The clustering (None while its job runs)."""
    spec = key.clustering
    label = ALGORITHMS[spec.algorithm].label
    limit = MAX_POINTS.get(spec.algorithm)
    if limit and fm.n > limit:
        raise ValueError(
            f"{label} is limited to {fmt.count(limit)} points and these choices give {fmt.count(fm.n)}: lower the "
            "maximum number of points or pick another algorithm."
        )
    step = SlowStep(
        f"Clustering {fmt.count(fm.n)} points: {label}",
        "Run this clustering again",
        keys.CL_LABELS_JOB,
        clustering_seconds(spec, fm.n, reduced.coords.shape[1]),
        labels_job_spec(ds, key),
        lambda: load_clustering(clustering_dir(ds), labels_key(key), fm.rows),
    )
    return inline_or_background(step, lambda: cached.clustering(key, reduced.coords))


def map_coords(ds: Dataset, fm: FeatureMatrix, key: ClusteringKey, method: str) -> Reduction:
    """The 2-D map: PCA in the page at any size (2 s for 202,599 x 128 on 2 busy cores, once per server); UMAP and
    t-SNE as slow steps, PCA shown until their job is done."""
    if method == "tsne" and fm.n > TSNE_MAX_POINTS:
        st.info(
            f"t-SNE maps are limited to {fmt.count(TSNE_MAX_POINTS)} points: showing PCA instead. Lower the maximum "
            "number of points for t-SNE."
        )
        method = "pca"
    if method != "pca":
        name = method.upper()

        def stored() -> Reduction | None:
            coords = load_map(clustering_dir(ds), map_key(key.features, method), fm.rows)
            return None if coords is None else Reduction(coords, method, 2, f"{name} map computed in the background.")

        step = SlowStep(
            f"{name} map of {fmt.count(fm.n)} points",
            f"Compute the {name} map again",
            keys.cl_map_job(method),
            map_seconds(method, fm.n),
            map_job_spec(ds, key.features, method),
            stored,
        )
        projection = inline_or_background(step, lambda: cached.cluster_map(key.features, method, fm.X))
        if projection is not None:
            return projection
        st.caption(f"The map below is PCA until the {name} map is ready (it then replaces it by itself).")
    return cached.cluster_map(key.features, "pca", fm.X)


def embeddings_note(ds: Dataset, spaces: tuple[str, ...]) -> None:
    """Without embeddings: what they unlock here and the button that computes them; without anything: say so."""
    if "embeddings" in spaces:
        return
    if not spaces:
        st.info(f"{ds.name} has neither attribute annotations nor face embeddings, so there is nothing to cluster yet.")
    if ds.has_images or not spaces:
        embeddings_prerequisite(ds, "clustering faces by who they are (identity clusters)", key=keys.CL_EMBED)


def waiting_note(what: str) -> None:
    """Below a running job's panel: what appears when it ends, and that the page stays usable meanwhile."""
    st.caption(
        f"{what} runs in the background (it keeps running if you leave this page). The results appear here by "
        "themselves when it is done; smaller choices in the sidebar (fewer points, k-means) answer at once."
    )
