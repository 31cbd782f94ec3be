"""Benchmarks: each bench_*.py times real work at CelebA scale beside a baseline and writes docs/bench/<name>.md."""
