"""core.format: one spelling for every number a user reads."""

import math

from core import format as fmt


def test_counts_percentages_and_decimals():
    assert fmt.count(5999) == "5,999"
    assert fmt.count(None) == "–"
    assert fmt.percent(0.974) == "97.4%"
    assert fmt.percent(0.5, digits=0) == "50%"
    assert fmt.percent(math.nan) == "–"
    assert fmt.decimal(0.12345) == "0.123"
    assert fmt.decimal(None, missing="undefined") == "undefined"
    assert fmt.signed_points(0.031) == "+3.1 pp"
    assert fmt.points(-0.031) == "3.1 pp" and fmt.points(float("nan")) == "–"
    assert fmt.k_of_n(12, 340, "images") == "12 of 340 images (3.5%)"
    assert fmt.k_of_n(0, 0) == "0 of 0 (undefined)"
    assert (
        fmt.k_of_n(12, 340, "images", note="95% interval 2.0–6.1%") == "12 of 340 images (3.5%; 95% interval 2.0–6.1%)"
    )
    assert fmt.percent_range(0.2712, 0.3221) == "27.1–32.2%"
    assert fmt.percent_range(None, 0.3) == "–"
    assert fmt.decimal(1234.5, 1) == "1,234.5"
    assert fmt.significant(0.000312) == "0.00031" and fmt.significant(4.0) == "4"
    assert fmt.signed(0.5234) == "+0.52" and fmt.signed(-1.3) == "-1.30" and fmt.signed(None) == "–"


def test_plurals_and_durations():
    assert fmt.plural(1, "cluster") == "1 cluster"
    assert fmt.plural(1024, "face") == "1,024 faces"
    assert fmt.plural(2, "person", "people") == "2 people"
    assert [fmt.duration(s) for s in (0.2, 45, 89, 90, 3000, 5400)] == [
        "1 s",
        "45 s",
        "89 s",
        "2 min",
        "50 min",
        "1.5 h",
    ]
    assert fmt.about(200) == "about 3 minutes"
    assert [fmt.about(s) for s in (0.3, 1.2, 2)] == ["about 1 second", "about 1 second", "about 2 seconds"]
    assert fmt.about(None) == "an unknown time"
    assert fmt.megabytes(3 * 2**20) == "3.0 MB"
