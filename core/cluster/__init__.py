"""Clustering: feature spaces, reductions, algorithms by name, metrics, summaries, sweeps and stored maps.

Front door: `build_features(ds, FeatureSpec(...))` -> `FeatureMatrix`; `reduce_by(X, ReductionSpec(...))`;
`cluster_by(X, ClusterSpec.of("kmeans", k=8))` -> `Clustering`; `internal_metrics` / `external_metrics` score it.
The Clustering page's choices and its URL contract: `core.cluster.view.View`; the key of one clustering (and of what
is stored from it): `core.cluster.store.ClusteringKey`.
"""

from core.cluster.algorithms import ALGORITHMS, Clustering, ClusterSpec, cluster, cluster_by
from core.cluster.features import FeatureKey, FeatureMatrix, FeatureSpec, build_features, feature_key
from core.cluster.metrics import external_metrics, internal_metrics
from core.cluster.reduce import Reduction, ReductionSpec, map_2d, reduce_by

__all__ = [
    "ALGORITHMS",
    "ClusterSpec",
    "Clustering",
    "FeatureKey",
    "FeatureMatrix",
    "FeatureSpec",
    "Reduction",
    "ReductionSpec",
    "build_features",
    "cluster",
    "cluster_by",
    "external_metrics",
    "feature_key",
    "internal_metrics",
    "map_2d",
    "reduce_by",
]
