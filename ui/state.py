"""Every session-state key FaceAtlas reads or writes, named once (widget keys that code reads or sets included).

Pages and ui/ modules import these names instead of writing the strings; tests may too. Keys are grouped by the
page that owns them; a key shared by several pages sits under "Every page".
"""

from __future__ import annotations

# ---- Every page (sidebar, jobs, links)
DEMO_RESTARTED = "demo-drawing-restarted"  # the demo drawing job this session restarted after it stopped (once)
DEMO_DRAWN_SEEN = "demo-drawn-seen"  # the demo folder whose finished drawing this session reran the page for

# ---- Dataset

# ---- Attribute relations

# ---- Attribute classifiers

# ---- Clustering

# ---- Face search

# ---- Data quality

# ---- Lessons
