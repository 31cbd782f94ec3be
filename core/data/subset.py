"""Row selection shared by pages and commands: attribute conditions, partition, identities."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import polars as pl

from core.data.dataset import Dataset

MAX_TOP_IDENTITIES = 10_000  # the largest "N most frequent identities" a filter (and a link) may ask for


@dataclass(frozen=True)
class Subset:
    """A hashable description of a row filter (usable as a cache key).

    conditions: ((attribute, 0 or 1), ...); partition: "train"/"val"/"test" or None;
    identities: identity labels to keep (empty = all); top_identities: keep only the
    N identities with most images (0 = all).
    """

    conditions: tuple[tuple[str, int], ...] = ()
    partition: str | None = None
    identities: tuple[str, ...] = ()
    top_identities: int = 0

    @property
    def is_everything(self) -> bool:
        return not (self.conditions or self.partition or self.identities or self.top_identities)

    def describe(self) -> str:
        parts = [f"{a}: {'yes' if v else 'no'}" for a, v in self.conditions]
        if self.partition:
            parts.append(f"partition: {self.partition}")
        if self.identities:
            parts.append(f"identity in {len(self.identities)} chosen")
        if self.top_identities:
            parts.append(f"top {self.top_identities} identities")
        return ", ".join(parts) or "all images"

    def to_json(self) -> str:
        """JSON for a background job's command line (Subset.from_json reads it back)."""
        return json.dumps(
            {
                "conditions": self.conditions,
                "partition": self.partition,
                "identities": self.identities,
                "top_identities": self.top_identities,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Subset:
        raw = json.loads(text)
        return cls(
            tuple((str(a), int(v)) for a, v in raw.get("conditions", ())),
            raw.get("partition"),
            tuple(str(i) for i in raw.get("identities", ())),
            int(raw.get("top_identities", 0)),
        )


def parse_where(text: str) -> tuple[tuple[str, int], ...]:
    """A link's attribute conditions: 'Male:1,Smiling:0' -> (('Male', 1), ('Smiling', 0)); ValueError otherwise."""
    out = []
    for item in (t for t in text.split(",") if t):
        attribute, _, value = item.partition(":")
        if value not in ("0", "1") or not attribute:
            raise ValueError(item)
        out.append((attribute, int(value)))
    return tuple(out)


def where_text(conditions: Iterable[tuple[str, int]]) -> str:
    """The conditions as a link writes them: 'Male:1,Smiling:0'."""
    return ",".join(f"{a}:{v}" for a, v in conditions)


def subset_mask(table: pl.DataFrame, subset: Subset) -> np.ndarray:
    """(N,) bool mask of the rows that satisfy every part of the subset."""
    if subset.is_everything:  # a lone literal would select one row, not N
        return np.ones(table.height, dtype=bool)
    expr = pl.lit(True)
    for attribute, value in subset.conditions:
        expr = expr & (pl.col(attribute) == value)
    if subset.partition:
        expr = expr & (pl.col("partition") == subset.partition)
    if subset.identities:
        expr = expr & pl.col("identity").is_in(list(subset.identities))
    if subset.top_identities:
        counts = table["identity"].drop_nulls().value_counts(sort=True)
        top = counts.head(subset.top_identities)["identity"].to_list()
        expr = expr & pl.col("identity").is_in(top)
    return table.select(expr.fill_null(False).alias("m"))["m"].to_numpy().astype(bool)


def subset_rows(ds: Dataset, subset: Subset) -> np.ndarray:
    """Row indices (int64, ascending) of ds.table in the subset."""
    return np.flatnonzero(subset_mask(ds.table, subset))
