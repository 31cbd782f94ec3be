"""Datasets: the data model, the loaders for every layout, the ingest cache, subsets, splits, paths and safe file I/O.

Front door: `open_dataset(path_or_name)` -> `Dataset`; `Subset` and `subset_rows` select rows; `split_rows`
splits them for a model.
"""

from core.data.dataset import Dataset
from core.data.ingest import discover, open_dataset
from core.data.split import Split, split_rows
from core.data.subset import Subset, subset_rows

__all__ = ["Dataset", "Split", "Subset", "discover", "open_dataset", "split_rows", "subset_rows"]
