"""Every session-state key FaceAtlas reads or writes, named once (widget keys that code reads or sets included).

Pages and ui/ modules import these names instead of writing the strings; tests may too. Keys are grouped by the
page that owns them; a key shared by several pages sits under "Every page".
"""

from __future__ import annotations

# ---- Every page (sidebar, jobs, links)

# ---- Dataset

# ---- Attribute relations

# ---- Attribute classifiers

# ---- Clustering

# ---- Face search

# ---- Data quality

# ---- Lessons
