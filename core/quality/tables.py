"""The Data quality page's tables as people read them: named columns and every number spelled by core/format.

The audits' frames keep their machine names and raw values (the CSV downloads carry them); what the page shows goes
through `readable`, which names each known column, spells its values (counts, percentages, distances, yes/no) and
gives any other column a plain name and a spelling by its type, so a column an audit adds later is never shown raw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from core import format as fmt


def yes_no(value: Any) -> str:
    if value is None:
        return fmt.MISSING
    return "yes" if bool(value) else "no"


def text(value: Any) -> str:
    return fmt.MISSING if value is None or value == "" else str(value)


def share(value: Any) -> str:
    return fmt.percent(value)


def distance(value: Any) -> str:
    return fmt.decimal(value)


@dataclass(frozen=True)
class Column:
    """How one column is shown: its title and the spelling of each value."""

    title: str
    spell: Callable[[Any], str] = text


def _by_type(dtype: pl.DataType) -> Callable[[Any], str]:
    if dtype == pl.Boolean:
        return yes_no
    if dtype.is_integer():
        return fmt.count
    if dtype.is_float():
        return fmt.decimal
    return text


def plain_title(name: str) -> str:
    """A machine name as a title: 'model_balanced_accuracy' -> 'Model balanced accuracy'."""
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def readable(frame: pl.DataFrame, columns: Mapping[str, Column], drop: tuple[str, ...] = ()) -> pl.DataFrame:
    """`frame` as strings for a page: known columns first in `columns`' order, titled and spelled; the rest follow
    with a plain title and a spelling by type; `drop` left out (row indices and the like)."""
    names = [n for n in columns if n in frame.columns] + [n for n in frame.columns if n not in columns]
    out = {}
    for name in names:
        if name in drop:
            continue
        column = columns.get(name) or Column(plain_title(name), _by_type(frame.schema[name]))
        out[column.title] = [column.spell(v) for v in frame[name].to_list()]
    return pl.DataFrame(out, schema=dict.fromkeys(out, pl.String))


LABEL_SUMMARY = {
    "attribute": Column("Attribute"),
    "images": Column("Images", fmt.count),
    "prevalence": Column("Labelled yes", share),
    "estimated_errors": Column("Estimated wrong labels", fmt.count),
    "error_rate": Column("Share of images", lambda v: fmt.percent(v, 2)),
    "suspects": Column("Likely errors", fmt.count),
    "disagreements": Column("Model disagrees", fmt.count),
    "model_accuracy": Column("Model accuracy", share),
    "model_balanced_accuracy": Column("Model balanced accuracy", fmt.decimal),
}
LABEL_SUSPECTS = {
    "rank": Column("Rank", fmt.count),
    "image_id": Column("Image"),
    "identity": Column("Identity"),
    "attribute": Column("Attribute"),
    "annotated": Column("Labelled", yes_no),
    "predicted": Column("Model says", yes_no),
    "p_annotated": Column("Model's probability of the label", share),
    "confidence": Column("Model's confidence", lambda v: fmt.percent(v, 0)),
    "likely": Column("Likely error", yes_no),
}
IDENTITY_SUSPECTS = {
    "image_id": Column("Image"),
    "identity": Column("Filed under"),
    "kind": Column("Why"),
    "own_median": Column("Median distance to its identity's photos", distance),
    "own_photos": Column("Its identity's other photos", fmt.count),
    "match_identity": Column("Looks like"),
    "match_median": Column("Median distance to that identity", distance),
}
DUPLICATE_GROUPS = {
    "group": Column("Group", fmt.count),
    "kind": Column("Kind"),
    "size": Column("Images", fmt.count),
    "identities": Column("Identities", fmt.count),
    "scope": Column("Where"),
}

# What the measured value of each image problem is, in words (the gallery's captions and the table).
VALUE_WORDS: dict[str, Callable[[float], str]] = {
    "unreadable": fmt.significant,
    "no face found": fmt.significant,
    "several faces": lambda v: fmt.plural(int(v), "face"),
    "very blurry": lambda v: f"sharpness {fmt.significant(v)}",
    "very dark": lambda v: f"brightness {fmt.percent(v, 0)}",
    "very bright": lambda v: f"brightness {fmt.percent(v, 0)}",
    "tiny": lambda v: f"{fmt.count(round(v))} px on its short side",
}
IMAGE_PROBLEMS = {"image_id": Column("Image"), "identity": Column("Identity"), "problem": Column("Problem")}


def measured(problem: str, value: float | None) -> str:
    """What was measured on an image with `problem`, in words ('–' when nothing was)."""
    if value is None or value != value:
        return fmt.MISSING
    return VALUE_WORDS.get(problem, fmt.significant)(value)


def problems_table(problems: pl.DataFrame) -> pl.DataFrame:
    """The unusable images: image, identity, problem and what was measured, in words."""
    words = [measured(p, v) for p, v in zip(problems["problem"].to_list(), problems["value"].to_list())]
    table = readable(problems.drop("value"), IMAGE_PROBLEMS, drop=("row",))
    return table.with_columns(pl.Series("Measured", words, dtype=pl.String))
