"""Every session-state key FaceAtlas reads or writes, named once (widget keys that code reads or sets included).

Pages and ui/ modules import these names instead of writing the strings; tests may too. Keys are grouped by the
page that owns them; a key shared by several pages sits under "Every page". Widget keys that only the widget
itself uses (a button, a download) stay beside their widget. No initialiser: each key has one owner that sets it
where it is first needed (a lock, a set of notices), so a page never pays for another page's state.
"""

from __future__ import annotations

# ---- Every page (sidebar, jobs, links)
SELECTED_DATASET = "selected_dataset"  # the dataset picked: survives page switches
DATASET_PICKER = "dataset_picker"  # the sidebar selectbox's widget key
REPAIR_NOTICES_SHOWN = "repair-notices-shown"  # set of cache-repair notices this session has seen
HEAVY_QUERY_LOCK = "_heavy_query_lock"  # one heavy query (a photo's faces, a prediction) per session at a time


def job_seen(job_id: str) -> str:
    """The finished state of a job whose panel already reran the page for it."""
    return f"seen-{job_id}"


def job_line_seen(job_id: str) -> str:
    """The same for a job's one-line progress bar."""
    return f"line-seen-{job_id}"


# The Subset filter (ui/filters.py) keeps its widgets under one prefix per page.
def filter_attributes(prefix: str) -> str:
    """The multiselect of attributes the filter conditions on."""
    return f"{prefix}-attrs"


def filter_value(prefix: str, attribute: str) -> str:
    """The present/absent radio of one chosen attribute."""
    return f"{prefix}-{attribute}"


def filter_partition(prefix: str) -> str:
    return f"{prefix}-partition"


def filter_identities(prefix: str) -> str:
    return f"{prefix}-identities"


def filter_identities_search(prefix: str) -> str:
    """The search box above the identities multiselect (ui.long_lists: on datasets with many identities)."""
    return f"{prefix}-identities-search"


def filter_top(prefix: str) -> str:
    return f"{prefix}-top"


DEMO_RESTARTED = "demo-drawing-restarted"  # the demo drawing job this session restarted after it stopped (once)
DEMO_DRAWN_SEEN = "demo-drawn-seen"  # the demo folder whose finished drawing this session reran the page for

# ---- Dataset
PREVALENCE_SPLIT = "prev-split"  # radio: how the prevalence bars are split
PREVALENCE_SPLIT_ATTRIBUTE = "prev-split-attr"  # selectbox: the attribute they are split by
DONUT_ATTRIBUTES = "donut-attrs"
IDENTITY = "identity"  # selectbox: the identity explored
IDENTITY_SEARCH = "identity-search"  # the search box above it (ui.long_lists: on datasets with many identities)
GALLERY_FILTER = "gallery"  # the gallery's Subset filter prefix
GALLERY_PAGE = "gallery-page"

# ---- Attribute relations
RELATIONS_FILTER = "rel"  # the page's Subset filter prefix
MEASURE = "measure"
CLUSTER_ORDER = "rel-cluster"  # toggle: heatmap rows ordered by clustering
HEATMAP = "rel-heatmap"  # the heatmap chart: its selection picks a pair
PAIR_A, PAIR_B = "pair_a", "pair_b"  # the drilled pair's selectboxes (also the URL's parameter names)
MODEL_TARGET = "model-target"
ALL_MODELS_DONE = "model-all-done"  # (dataset key, subset) whose all-attribute models were computed

# ---- Attribute classifiers
CLF_FEATURES = "clf-features"
CLF_MODEL = "clf-model"
CLF_ATTRIBUTES = "clf-attributes"
CLF_LOSS = "clf-loss"
CLF_EPOCHS = "clf-epochs"
CLF_IMAGE_SIZE = "clf-image-size"
CLF_POS_WEIGHT = "clf-pos-weight"
CLF_AUGMENT = "clf-augment"
CLF_JOB = "clf-job"  # id of the training job started from this session
CLF_PICKED = "clf-picked"  # the newly trained model picked for the user once (a job id trains again, a model id not)
CLF_MODEL_PICK = "clf-model-pick"  # selectbox: the stored model shown
CLF_LESSON_OPEN = "clf-lesson-open"  # expander: the loss lesson, open or closed
CLF_LESSON_OTHER = "clf-lesson-other"  # selectbox: the model compared with in the loss lesson
CLF_THRESHOLD_ATTRIBUTE = "clf-thr-attr"
CLF_THRESHOLD = "clf-threshold"  # slider: the decision threshold
CLF_THRESHOLD_FOR = "clf-threshold-for"  # (model, attribute) the slider was last set for
CLF_THRESHOLD_URL = "clf-threshold-url"  # the URL's thr, held until the slider takes it
CLF_GROUP_BY = "clf-group-by"

# the fairness section (ui/fairness.py)
FAIR_GROUPS = "clf-fair-groups"  # one or two attributes the faces are grouped by
FAIR_SOURCE = "clf-fair-source"  # a face's group from its own label or its person's usual one
FAIR_WORST_BY = "clf-fair-worst-by"  # the figure the worst group is found by
FAIR_FACE = "clf-fair-face"  # the test face compared with its nearest face answered the other way
FAIR_FACE_SEARCH = "clf-fair-face-search"  # the search box above its picker (ui.long_lists: many test faces)
FAIR_DEFAULTS = "clf-fair-defaults"  # {widget key: the default it was last drawn with}, so untouched ones follow

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
MAP_GL_SENT = "map-gl-sent"  # {map widget key: (digest, the browser's last ask)}: the map blob the browser holds
CL_MAP_CHART = "cl-map-chart"
CL_SELECTION = "cl-sel-signature"  # the selection whose faces are paged: a new one starts on its first page
CL_SELECTION_PAGE = "cl-sel-page"
CL_MAP_FACES = "cl-map-faces"  # the map's faces channel (ui/map_faces.py): the faces it wants, the view it shows
CL_MAP_FACES_SENT = "cl-map-faces-sent"  # (map version, request number, message) last answered: a rerun resends it
CL_MAP_LINK_VIEW = "cl-map-link-view"  # (map version, view) the map opened at: a link's, kept while the map stays
CL_SPRITES_JOB = "cl-sprites-job"
# results
CL_TABLE = "cl-table"
CL_CLUSTER = "cl-pick-cluster"
CL_SWEEP = "cl-sweep"
CL_SWEEP_K_MAX = "cl-sweep-kmax"
CL_SWEEP_K = "cl-sweep-k"
CL_SWEEP_K_FOLLOWS = "cl-sweep-k-follows"  # the algorithm's k the side-by-side k follows until changed
CL_SWEEPS = "cl-sweeps"  # (their inputs, core.cluster.sweeps.Sweeps): the last sweeps run, kept while inputs hold
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
FS_TAB = "fs-tab"
FS_SOURCE = "fs-source"  # radio: upload, camera or a dataset image
FS_IMAGE = "fs-image"  # selectbox: the dataset image searched with
FS_FACE = "fs-face"
FS_K = "fs-k"
FS_METRIC = "fs-metric"
FS_ATTRIBUTE_SOURCE = "fs-attr-source"  # radio: attributes chosen or copied from an image
FS_ATTRIBUTES_PRESENT = "fs-attr-present"
FS_ATTRIBUTE_IMAGE = "fs-attr-image"  # selectbox: the image whose attributes are copied
FS_ATTRIBUTE_K = "fs-attr-k"


def image_id_filter(picker: str) -> str:
    """The text filter above an image-id selectbox (FS_IMAGE, FS_ATTRIBUTE_IMAGE)."""
    return f"{picker}-filter"


# ---- Data quality
DQ_JOB = "dq-job"  # the audit job started from this session
DQ_CHECK = "dq-check"
DQ_ATTRIBUTE = "dq-attr"

# ---- Lessons
LESSON = "lesson"  # selectbox (same name as the URL parameter)
LESSON_LAST = "lesson-last"  # the lesson left, for coming back from another page
LESSON_STEP = "lesson-step"  # segmented control: the step shown
LESSON_STEP_LAST = "lesson-step-last"
LESSON_STEP_OF = "lesson-step-of"  # the lesson the step belongs to (a new lesson starts at step 1)
LESSONS_REVEALED = "lesson-done"  # {lesson id: revealed step numbers}
LESSON_TRAIN_JOB = "lesson-train-job"  # the training job this page started

# ---- Generated faces

GEN_JOB = "gen-job"  # the generator job this session started (its panel stays while the form changes)
GEN_JOB_GENERATORS = "gen-job-generators"  # {job id: generator id} of the jobs this session built (live curves)
GEN_CLASSIFIER_JOB = "gen-classifier-job"  # the classifier training this page started
GEN_PICK = "gen-pick"  # selectbox: the stored generator shown
GEN_PICKED_FROM = "gen-picked-from"  # the job whose finished generator was picked for the user
GEN_IMAGE_SIZE = "gen-px"
GEN_EPOCHS = "gen-epochs"
GEN_ATTRIBUTES = "gen-attrs"
GEN_EPOCH = "gen-epoch"  # slider: the epoch whose grid is shown
GEN_SEED = "gen-seed"
GEN_FROM = "gen-from"
GEN_TO = "gen-to"
GEN_SWITCH = "gen-switch"
GEN_ASK = "gen-ask"  # prefix: one segmented control per conditioned attribute (gen-ask-<Attr>)

# ---- Back and Forward (ui/links.follow_history)
# Keys that belong to no view (jobs started, notices and finished jobs seen, locks, the demo's drawing): the browser's
# Back and Forward keep them. Every other key holds a choice shaping a page's view and gives way to the address.
NOT_VIEW = frozenset(
    {
        REPAIR_NOTICES_SHOWN,
        HEAVY_QUERY_LOCK,
        DEMO_RESTARTED,
        DEMO_DRAWN_SEEN,
        CLF_JOB,
        CLF_PICKED,
        DQ_JOB,
        LESSON_TRAIN_JOB,
        CL_REDUCE_JOB,
        CL_LABELS_JOB,
        GEN_JOB,
        GEN_JOB_GENERATORS,
        GEN_CLASSIFIER_JOB,
        GEN_PICKED_FROM,
    }
)
NOT_VIEW_PREFIXES = (job_seen(""), job_line_seen(""))


def is_view_key(key: str) -> bool:
    """Whether a session key holds a view's choice (which the address restored by Back or Forward replaces)."""
    return key not in NOT_VIEW and not key.startswith(NOT_VIEW_PREFIXES)
