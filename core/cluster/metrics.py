"""How good a clustering is: internal metrics, metrics against known identities, helpers to choose eps/thresholds, sweeps.

Noise convention for the external metrics: every noise point (label -1) counts as
a cluster of its own. Noise therefore never creates a false pair (precision is not
hurt) but loses all of that point's true pairs (recall is). The same convention is
used for ARI, NMI, homogeneity, completeness, pairwise and BCubed scores, so they
are comparable across algorithms with and without noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

# Lazy imports: scikit-learn are imported inside the functions that use them, so pages and commands that never call
# them do not pay their import time and memory on a shared server.

SILHOUETTE_SAMPLE = 2_000  # a seeded sample beyond: 5,000 points took 2.8 s of a widget change, 2,000 take 0.5 s
NEIGHBOUR_SAMPLE = 20_000


def noise_as_singletons(labels: np.ndarray) -> np.ndarray:
    """Labels where each -1 becomes a new cluster id of its own."""
    labels = np.asarray(labels, np.int64).copy()
    noise = labels < 0
    start = labels.max() + 1 if (~noise).any() else 0
    labels[noise] = np.arange(start, start + noise.sum())
    return labels


def contingency(truth: Sequence, labels: np.ndarray) -> sparse.csr_matrix:
    """Sparse (clusters x classes) count matrix; noise points are singleton clusters."""
    _, t = np.unique(np.asarray(truth), return_inverse=True)
    _, c = np.unique(noise_as_singletons(labels), return_inverse=True)
    data = np.ones(len(t), np.int64)
    return sparse.coo_matrix((data, (c, t)), shape=(c.max() + 1, t.max() + 1)).tocsr()


def _pairs(counts: np.ndarray) -> float:
    counts = np.asarray(counts, np.float64)
    return float((counts * (counts - 1) / 2).sum())


def pairwise_scores(truth: Sequence, labels: np.ndarray) -> dict[str, float]:
    """Pairwise precision/recall/F1 over same-cluster pairs, from contingency counts (no O(N^2) pair loop)."""
    m = contingency(truth, labels)
    together = _pairs(m.data)
    predicted = _pairs(np.asarray(m.sum(axis=1)).ravel())
    actual = _pairs(np.asarray(m.sum(axis=0)).ravel())
    p = together / predicted if predicted else 1.0
    r = together / actual if actual else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"pairwise_precision": p, "pairwise_recall": r, "pairwise_f1": f}


def bcubed_scores(truth: Sequence, labels: np.ndarray) -> dict[str, float]:
    """BCubed precision/recall/F1: per point, share of its cluster in its class and vice versa, averaged."""
    m = contingency(truth, labels).tocoo()
    n = m.data.sum()
    cluster_size = np.asarray(contingency(truth, labels).sum(axis=1)).ravel()
    class_size = np.asarray(contingency(truth, labels).sum(axis=0)).ravel()
    sq = m.data.astype(np.float64) ** 2
    p = float((sq / cluster_size[m.row]).sum() / n)
    r = float((sq / class_size[m.col]).sum() / n)
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"bcubed_precision": p, "bcubed_recall": r, "bcubed_f1": f}


def external_metrics(truth: Sequence, labels: np.ndarray) -> dict[str, float]:
    """ARI, NMI, homogeneity, completeness, pairwise and BCubed P/R/F1 against true identities."""
    from sklearn import metrics

    labels = noise_as_singletons(labels)
    truth = np.asarray(truth)
    h, c, v = metrics.homogeneity_completeness_v_measure(truth, labels)
    return {
        "ari": float(metrics.adjusted_rand_score(truth, labels)),
        "nmi": float(v),  # NMI with arithmetic mean == V-measure
        "homogeneity": float(h),
        "completeness": float(c),
        **pairwise_scores(truth, labels),
        **bcubed_scores(truth, labels),
    }


def internal_metrics(X: np.ndarray, labels: np.ndarray, seed: int = 0, sample: int = SILHOUETTE_SAMPLE) -> dict:
    """Silhouette (on a seeded sample when large), Davies-Bouldin, Calinski-Harabasz over non-noise points.

    Returns the numbers (None where undefined: fewer than 2 clusters) plus
    n_clusters, noise_fraction and a `note` saying what was sampled or left out.
    """
    from sklearn import metrics

    labels = np.asarray(labels)
    kept = labels >= 0
    out: dict = {
        "n_clusters": len(np.unique(labels[kept])),
        "noise_fraction": float((~kept).mean()) if len(labels) else 0.0,
        "silhouette": None,
        "davies_bouldin": None,
        "calinski_harabasz": None,
        "note": "",
    }
    Xk, lk = X[kept], labels[kept]
    if out["n_clusters"] < 2 or out["n_clusters"] >= len(lk):
        out["note"] = "Internal metrics need at least 2 clusters and fewer clusters than points."
        return out
    notes = []
    if len(lk) > sample:
        rng = np.random.default_rng(seed)
        idx = rng.choice(len(lk), sample, replace=False)
        if len(np.unique(lk[idx])) >= 2:
            out["silhouette"] = float(metrics.silhouette_score(Xk[idx], lk[idx]))
        notes.append(f"silhouette on a random sample of {sample:,} of {len(lk):,} points (seed {seed})")
    else:
        out["silhouette"] = float(metrics.silhouette_score(Xk, lk))
    out["davies_bouldin"] = float(metrics.davies_bouldin_score(Xk, lk))
    out["calinski_harabasz"] = float(metrics.calinski_harabasz_score(Xk, lk))
    if (~kept).any():
        notes.append(f"{(~kept).sum():,} noise points left out")
    out["note"] = "; ".join(notes)
    return out


def k_distances(X: np.ndarray, k: int, seed: int = 0, sample: int = NEIGHBOUR_SAMPLE) -> np.ndarray:
    """Sorted (ascending) distance of each point (a seeded sample when large) to its k-th nearest neighbour."""
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(X, np.float32)
    queries = X
    if len(X) > sample:
        queries = X[np.random.default_rng(seed).choice(len(X), sample, replace=False)]
    k = max(1, min(k, len(X) - 1))
    nn = NearestNeighbors(n_neighbors=k + 1).fit(X)
    dist, _ = nn.kneighbors(queries)
    return np.sort(dist[:, k])


def knee(values: np.ndarray) -> int:
    """Index of the knee of an ascending curve: the point farthest below the chord from first to last."""
    y = np.asarray(values, np.float64)
    if len(y) < 3 or y[-1] == y[0]:
        return len(y) // 2
    x = np.linspace(0, 1, len(y))
    yn = (y - y[0]) / (y[-1] - y[0])
    return int(np.argmax(x - yn))


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """The cut that best separates values into two groups (Otsu: maximal between-group variance)."""
    hist, edges = np.histogram(values, bins=bins)
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centers) / np.maximum(w0, 1)
    m1 = ((hist * centers).sum() - np.cumsum(hist * centers)) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(edges[1:][np.argmax(between)])


def suggest_eps(X: np.ndarray, min_samples: int, seed: int = 0) -> float:
    """DBSCAN eps from the data: the knee of the k-distance curve, capped by suggest_threshold.

    The cap matters on face embeddings: there the knee sits where cross-identity
    pairs already appear, and a radius that links different people chains them
    into one giant cluster (dlib descriptors at eps 0.55 put ~96 % in one).
    """
    curve = k_distances(X, max(1, min_samples - 1), seed=seed)
    at_knee = float(curve[knee(curve)])
    return min(at_knee, suggest_threshold(X, seed=seed))


def suggest_threshold(X: np.ndarray, seed: int = 0, k: int = 30) -> float:
    """Linking threshold from the data: Otsu's cut of the pooled distances to each point's k nearest neighbours.

    Near neighbours of a face are a mixture of the same person (short distances)
    and look-alikes (long); Otsu's cut splits the two modes without any labels.
    """
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(X, np.float32)
    queries = X
    if len(X) > NEIGHBOUR_SAMPLE:
        queries = X[np.random.default_rng(seed).choice(len(X), NEIGHBOUR_SAMPLE, replace=False)]
    k = max(1, min(k, len(X) - 1))
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(queries)
    return otsu_threshold(dist[:, 1:].ravel())
