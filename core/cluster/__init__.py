"""Clustering: feature spaces, reductions, algorithms by name, metrics, summaries, sweeps and stored maps."""
