"""Names for the large clusters on the map: the attributes that most distinguish each (by lift against the whole
set) and, where identities are known, its majority identity and how pure it is."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core import format as fmt

LABELS_MAX = 24  # the largest clusters get a name on the map
MIN_SIZE = 10  # ... if they hold at least this many points
MIN_SHARE = 0.5  # an attribute names a cluster only if most of it has the attribute
MIN_LIFT = 1.25  # ... and it is this much more common there than in the whole set
NAMED_BY = 3  # attributes in a name


@dataclass(frozen=True)
class ClusterLabel:
    """One cluster's name on the map and where it sits."""

    cluster: int
    size: int
    x: float  # the member nearest the cluster's median position: inside the cluster, whatever its shape
    y: float
    attributes: tuple[str, ...]  # most distinctive first
    lifts: tuple[float, ...]  # share in the cluster over share in the whole set, per attribute
    identity: str | None = None  # the identity most of its faces have
    purity: float | None = None  # share of the cluster's faces with that identity

    @property
    def text(self) -> str:
        """'Male · Eyeglasses · Black_Hair', 'identity 2880 (94.0%)', both, or 'cluster 3'."""
        parts = [" · ".join(self.attributes)] if self.attributes else []
        if self.identity is not None:
            parts.append(f"identity {self.identity} ({fmt.percent(self.purity)})")
        return " · ".join(parts) or f"cluster {self.cluster}"


def distinctive_attributes(
    inside: np.ndarray, overall: np.ndarray, names: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The NAMED_BY attributes with the highest lift (share inside / share overall) among those present in at least
    MIN_SHARE of the cluster with lift >= MIN_LIFT; ties by share inside, then by name order."""
    inside, overall = np.asarray(inside, np.float64), np.asarray(overall, np.float64)
    lift = np.divide(inside, overall, out=np.zeros_like(inside), where=overall > 0)
    eligible = np.flatnonzero((inside >= MIN_SHARE) & (lift >= MIN_LIFT))
    ranked = eligible[np.lexsort((eligible, -inside[eligible], -lift[eligible]))][:NAMED_BY]
    return tuple(names[j] for j in ranked), tuple(float(lift[j]) for j in ranked)


def cluster_labels(
    coords: np.ndarray,
    labels: np.ndarray,
    attributes: np.ndarray,
    names: tuple[str, ...],
    identities: np.ndarray | None = None,
    largest: int = LABELS_MAX,
) -> list[ClusterLabel]:
    """A ClusterLabel for each of the `largest` clusters of at least MIN_SIZE points, largest first (ties by number).

    coords (n, 2); labels (n,) int (-1 noise, never named); attributes (n, A) 0/1; identities (n,) str or None
    (None or missing entries: no identity).
    """
    labels = np.asarray(labels)
    clusters, sizes = np.unique(labels[labels >= 0], return_counts=True)
    order = np.lexsort((clusters, -sizes))
    picked = [(int(clusters[i]), int(sizes[i])) for i in order if sizes[i] >= MIN_SIZE][:largest]
    if not picked:
        return []
    matrix = np.asarray(attributes, np.float64).reshape(len(labels), -1)
    overall = matrix.mean(axis=0) if len(matrix) else np.zeros(len(names))
    xy = np.asarray(coords, np.float64)
    out = []
    for cluster, size in picked:
        members = np.flatnonzero(labels == cluster)
        named, lifts = distinctive_attributes(matrix[members].mean(axis=0), overall, names)
        centre = np.median(xy[members], axis=0)
        at = members[np.argmin(((xy[members] - centre) ** 2).sum(axis=1))]
        identity, purity = _majority(identities, members)
        out.append(ClusterLabel(cluster, size, float(xy[at, 0]), float(xy[at, 1]), named, lifts, identity, purity))
    return out


def _majority(identities: np.ndarray | None, members: np.ndarray) -> tuple[str | None, float | None]:
    """(the identity most members have, its share of all members); ties: the smallest name. (None, None) without."""
    if identities is None:
        return None, None
    known = pd.Series(np.asarray(identities, object)[members]).dropna()
    if known.empty:
        return None, None
    counts = known.astype(str).value_counts()
    top = counts.max()
    identity = min(counts.index[counts == top])
    return str(identity), float(top / len(members))
