"""A CelebA-sized stand-in dataset for benches: 202,599 annotation rows in the CelebA original layout (no images),
identities with CelebA-like sizes, attributes drawn at CelebA's prevalences, and stand-in identity embeddings
(bench/synthetic_embeddings.py) saved as its face embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.synthetic_embeddings import celeba_like_identities, identity_embeddings
from core.data.celeba import CELEBA_ATTRIBUTES
from core.data.dataset import Dataset
from core.data.embeddings import list_embeddings, save_embeddings
from core.data.ingest import open_dataset
from core.demo.label_model import CELEBA_PREVALENCE

N_IMAGES = 202_599
N_IDENTITIES = 10_177


def write_annotations(root: Path, n: int = N_IMAGES, seed: int = 0) -> np.ndarray:
    """Anno/list_attr_celeba.txt, Anno/identity_CelebA.txt, Eval/list_eval_partition.txt; returns the identities."""
    rng = np.random.default_rng(seed)
    identities = celeba_like_identities(n, round(N_IDENTITIES * n / N_IMAGES), seed=seed)
    ids = [f"{i:06d}.jpg" for i in range(1, n + 1)]
    prevalence = np.array([CELEBA_PREVALENCE[a] for a in CELEBA_ATTRIBUTES])
    signs = np.where(rng.random((n, len(CELEBA_ATTRIBUTES))) < prevalence, "1", "-1")
    (root / "Anno").mkdir(parents=True, exist_ok=True)
    (root / "Eval").mkdir(parents=True, exist_ok=True)
    rows = (f"{i} {' '.join(s)}" for i, s in zip(ids, signs.tolist()))
    (root / "Anno" / "list_attr_celeba.txt").write_text(
        f"{n}\n{' '.join(CELEBA_ATTRIBUTES)}\n" + "\n".join(rows) + "\n"
    )
    (root / "Anno" / "identity_CelebA.txt").write_text("".join(f"{i} {p}\n" for i, p in zip(ids, identities)))
    parts = np.searchsorted([0.8, 0.9], rng.random(n))  # train / val / test as CelebA's 80 / 10 / 10
    (root / "Eval" / "list_eval_partition.txt").write_text("".join(f"{i} {p}\n" for i, p in zip(ids, parts)))
    return identities


def standin_dataset(data_dir: Path, name: str = "standin", n: int = N_IMAGES) -> Dataset:
    """The stand-in under data_dir/name, written and given embeddings once (under FACEATLAS_CACHE)."""
    root = data_dir / name
    if not (root / "Anno" / "list_attr_celeba.txt").exists():
        write_annotations(root, n)
    ds = open_dataset(root, name=name)
    if not list_embeddings(ds):
        vectors = identity_embeddings(ds.table["identity"].cast(str).to_numpy(), seed=1)
        save_embeddings(ds, "dlib", vectors, np.ones(len(vectors), bool), synthetic=True)
    return ds
