"""Every session-state key FaceAtlas reads or writes, named once (widget keys that code reads or sets included).

Pages and ui/ modules import these names instead of writing the strings; tests may too. Keys are grouped by the
page that owns them; a key shared by several pages sits under "Every page".
"""

from __future__ import annotations

# ---- Every page (sidebar, jobs, links)

# ---- Dataset

# ---- Attribute relations

# ---- Attribute classifiers

# the fairness section (ui/fairness.py)
FAIR_GROUPS = "clf-fair-groups"  # one or two attributes the faces are grouped by
FAIR_SOURCE = "clf-fair-source"  # a face's group from its own label or its person's usual one
FAIR_WORST_BY = "clf-fair-worst-by"  # the figure the worst group is found by
FAIR_FACE = "clf-fair-face"  # the test face compared with its nearest face answered the other way
FAIR_DEFAULTS = "clf-fair-defaults"  # {widget key: the default it was last drawn with}, so untouched ones follow

# ---- Clustering

# ---- Face search

# ---- Data quality

# ---- Lessons
