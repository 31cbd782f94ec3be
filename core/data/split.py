"""Train / validation / test splits: the dataset's own partition where it has one, else a seeded split by identity.

One function for every page and command that fits a model (attribute classifiers, the attribute-from-attributes
models of the Relations page), so a person never appears on both sides of a split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core import format as fmt

SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # train, validation, test when the rows have no partition


@dataclass(frozen=True)
class Split:
    """Positions (indices into the arrays that were split) of each part, and how the split was made."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    note: str  # lower-case phrase, e.g. "the dataset's own train/val/test partition"


def _groups(identity: np.ndarray) -> np.ndarray:
    """Identity labels as strings; rows without one are groups of their own."""
    ids = np.array(["" if v is None else str(v) for v in identity], dtype=object)
    rows = np.array([f"\0row{k}" for k in range(len(ids))], dtype=object)
    return np.where(ids == "", rows, ids).astype(str)


def _grouped(positions: np.ndarray, groups: np.ndarray, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """positions cut into len(fractions) parts by whole groups, in a seeded random order of the groups."""
    uniq, group_of = np.unique(groups[positions], return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(uniq))
    cuts = (np.cumsum(fractions)[:-1] / sum(fractions) * len(uniq)).round().astype(int)
    bucket = np.empty(len(uniq), dtype=np.int8)
    for part, chosen in enumerate(np.split(order, cuts)):
        bucket[chosen] = part
    return [positions[bucket[group_of] == part] for part in range(len(fractions))]


def split_rows(
    partition: np.ndarray,
    identity: np.ndarray,
    usable: np.ndarray | None = None,
    fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
    seed: int = 0,
) -> Split:
    """Split n rows (partition, identity: (n,) object arrays with None for missing; usable: (n,) bool).

    With a partition holding training rows, its train/val/test rows are used; a missing validation part
    is carved from the training identities when fractions[1] > 0, and a missing test part falls back to
    the validation rows. Otherwise the usable rows are split by identity in the given fractions, seeded.
    """
    partition = np.asarray(partition, dtype=object)
    usable = np.ones(len(partition), bool) if usable is None else np.asarray(usable, bool)
    groups = _groups(np.asarray(identity, dtype=object))
    train, val, test = (np.flatnonzero(usable & (partition == p)) for p in ("train", "val", "test"))
    note = "the dataset's own train/val/test partition"
    if len(train) and not len(val) and fractions[1] > 0:
        share = fractions[1] / (fractions[0] + fractions[1])
        train, val = _grouped(train, groups, (1 - share, share), seed)
        note += f"; it has no validation rows, so {fmt.percent(share, 0)} of the training identities were held out"
    if len(train) and not len(test) and len(val):
        test = val
        note += "; it has no test rows, so results are measured on the validation rows"
    if len(train) and len(test):
        return Split(train, val, test, note)
    rows = np.flatnonzero(usable)
    has_identity = any(v is not None and str(v) != "" for v in np.asarray(identity, dtype=object)[rows])
    train, val, test = _grouped(rows, groups, fractions, seed)
    parts = f"{fmt.percent(fractions[2] / sum(fractions), 0)} test split"
    if fractions[1]:
        parts += f" and a {fmt.percent(fractions[1] / sum(fractions), 0)} validation split"
    by = "identity (no person in two parts)" if has_identity else "image"
    return Split(train, val, test, f"no train/val/test partition in these rows: a seeded {parts} by {by}")
