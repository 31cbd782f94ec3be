"""Every number, percentage and duration a user reads, spelled one way: pages, lessons, handouts and the CLI.

One spelling: counts with thousands separators ("5,999"), percentages without a space ("97.4%"), decimals at a
fixed number of digits, durations rounded to what a person can plan with ("45 s", "3 min", "1.5 h"). Undefined
values (None, NaN) read as a dash, never "None" or "nan".
"""

from __future__ import annotations

import math

MISSING = "–"


def _undefined(value) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(value)  # float, numpy float32/64
    except TypeError:
        return False


def count(n: int | None) -> str:
    """5999 -> '5,999'; None -> '–'."""
    return MISSING if _undefined(n) else f"{int(n):,}"


def decimal(value: float | None, digits: int = 3, missing: str = MISSING) -> str:
    """0.12345 -> '0.123', 1234.5 -> '1,234.500' (digits after the point); None or NaN -> `missing`."""
    return missing if _undefined(value) else f"{float(value):,.{digits}f}"


def significant(value: float | None, digits: int = 2) -> str:
    """A measurement of any scale to `digits` significant digits: 0.000312 -> '0.00031', 4.0 -> '4'; None -> '–'."""
    return MISSING if _undefined(value) else f"{float(value):.{digits}g}"


def signed(value: float | None, digits: int = 2) -> str:
    """A change or a coefficient with its sign: 0.52 -> '+0.52', -1.3 -> '-1.30'; None or NaN -> '–'."""
    return MISSING if _undefined(value) else f"{float(value):+,.{digits}f}"


def percent(share: float | None, digits: int = 1, missing: str = MISSING) -> str:
    """A share in [0, 1] as a percentage: 0.974 -> '97.4%' (digits after the point); None or NaN -> `missing`."""
    return missing if _undefined(share) else f"{100 * float(share):.{digits}f}%"


def percent_range(low: float | None, high: float | None, digits: int = 1) -> str:
    """An interval of shares: (0.271, 0.322) -> '27.1–32.2%'; '–' when either end is undefined."""
    if _undefined(low) or _undefined(high):
        return MISSING
    return f"{100 * float(low):.{digits}f}–{percent(high, digits)}"


def signed_points(difference: float | None, digits: int = 1) -> str:
    """A difference of two shares in percentage points: 0.031 -> '+3.1 pp', -0.2 -> '-20.0 pp'."""
    return MISSING if _undefined(difference) else f"{100 * float(difference):+.{digits}f} pp"


def plural(n: int, word: str, words: str | None = None) -> str:
    """'1 cluster', '2 clusters', '1,024 faces' (`words` for irregular plurals: plural(2, 'person', 'people'))."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def k_of_n(k: int, n: int, unit: str = "", note: str = "") -> str:
    """'12 of 340 images (3.5%)', with a note after the share: '(3.5%; 95% interval 1.9–6.1%)'; '0 of 0 (undefined)'
    when n is 0."""
    unit = f" {unit}" if unit else ""
    if n == 0:
        return f"0 of 0{unit} (undefined)"
    return f"{k:,} of {n:,}{unit} ({percent(k / n)}{'; ' + note if note else ''})"


def duration(seconds: float | None) -> str:
    """'45 s', '3 min', '1.5 h' (under 90 s in seconds, under 90 min in minutes); None -> '–'."""
    if _undefined(seconds):
        return MISSING
    s = max(float(seconds), 0.0)
    if s >= 5400:
        return f"{s / 3600:.1f} h"
    if s >= 90:
        return f"{s / 60:.0f} min"
    return f"{max(s, 1):.0f} s"


def about(seconds: float | None) -> str:
    """An estimate as a person says it: 'about 45 seconds', 'about 3 minutes', 'about 1.5 hours'."""
    if _undefined(seconds):
        return "an unknown time"
    s = max(float(seconds), 1.0)
    if s >= 5400:
        return f"about {s / 3600:.1f} hours"
    if s >= 90:
        return f"about {s / 60:.0f} minutes"
    return "about 1 second" if round(s) == 1 else f"about {s:.0f} seconds"


def megabytes(n_bytes: float) -> str:
    """12_345_678 -> '11.8 MB' (binary megabytes, one decimal)."""
    return f"{n_bytes / 2**20:.1f} MB"


def points(difference: float | None, digits: int = 1) -> str:
    """A spread between two shares in percentage points, unsigned: 0.031 -> '3.1 pp'; None or NaN -> '–'."""
    return MISSING if _undefined(difference) else f"{100 * abs(float(difference)):.{digits}f} pp"
