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
# sidebar (their values also live in the URL: core/cluster/view.py)
CL_SPACE = "cl-space"
CL_SPACE_BEFORE = "cl-space-before"  # the space of the last run: the algorithm follows a change of space
CL_MODEL = "cl-model"
CL_ATTRIBUTES = "cl-attrs"
CL_WEIGHTING = "cl-weighting"
CL_STANDARDISE = "cl-standardise"
CL_SUBSET = "cl-subset"  # prefix of the subset filter's widgets (ui/filters.py)
CL_MAX_POINTS = "cl-max"
CL_REDUCE = "cl-reduce"
CL_PCA_COMPONENTS = "cl-pca-n"
CL_UMAP_COMPONENTS = "cl-umap-n"
CL_UMAP_NEIGHBOURS = "cl-umap-nn"
CL_UMAP_MIN_DIST = "cl-umap-md"
CL_UMAP_METRIC = "cl-umap-metric"
CL_ALGORITHM = "cl-algo"
CL_MAP_METHOD = "cl-map"
# background jobs' buttons
CL_EMBED = "cl-embed"
CL_REDUCE_JOB = "cl-reduce-job"
CL_LABELS_JOB = "cl-labels-job"
# the map and the faces its selection holds
CL_COLOUR = "cl-color"
CL_COLOUR_ATTRIBUTE = "cl-color-attr"
CL_SELECT_MODE = "cl-select-mode"
CL_DRAW = "cl-draw"
CL_MAP_GL = "cl-map-gl"
CL_MAP_CHART = "cl-map-chart"
CL_SELECTION = "cl-sel-signature"  # the selection whose faces are paged: a new one starts on its first page
CL_SELECTION_PAGE = "cl-sel-page"
# results
CL_TABLE = "cl-table"
CL_CLUSTER = "cl-pick-cluster"
CL_SWEEP = "cl-sweep"
CL_SWEEP_K_MAX = "cl-sweep-kmax"
CL_SWEEP_K = "cl-sweep-k"
CL_SWEEP_K_FOLLOWS = "cl-sweep-k-follows"  # the algorithm's k the side-by-side k follows until changed
CL_SWEEP_TABLE = "cl-sweep-table"
CL_EPS_TABLE = "cl-eps-table"
CL_DOWNLOAD = "cl-download"


def cl_param(algorithm: str, name: str) -> str:
    """The widget of one algorithm parameter (each algorithm keeps its own: k of k-means and of agglomerative)."""
    return f"cl-{algorithm}-{name}"


def cl_map_job(method: str) -> str:
    """The button that computes a UMAP or t-SNE map again."""
    return f"cl-{method}-job"


# ---- Face search

# ---- Data quality

# ---- Lessons
