"""Data quality: suspect attribute labels, suspect identity labels, duplicates and unusable images.

Front door: `run_audit(ds, checks)` runs the checks (`CHECKS`) and stores each result under the dataset's cache
folder, keyed by what it depends on; `load_check(ds, check)` reads the result for the dataset's current data (None
when it must be run again); `missing(ds, check)` says what a check needs that the dataset lacks. The checks live in
labels (out-of-fold probabilities + confident learning), identities (the calibrated same-person distance),
duplicates (content and perceptual hashes, face descriptors; a neighbour search in neighbours) and images (the
image scan in scan, the face counts of the embedding run).
"""

from core.quality.audit import CHECK_TITLES, CHECKS, AuditInputs, load_check, missing, parse_checks, run_audit
from core.quality.store import StoredResult

__all__ = [
    "CHECKS",
    "CHECK_TITLES",
    "AuditInputs",
    "StoredResult",
    "load_check",
    "missing",
    "parse_checks",
    "run_audit",
]
