"""Datasets: the data model, the loaders for every layout, the ingest cache, subsets, paths and safe file I/O."""
