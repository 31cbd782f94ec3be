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
