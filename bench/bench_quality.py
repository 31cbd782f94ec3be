"""Data-quality checks: planted errors found, and every check at CelebA scale -> docs/bench/quality.md.

`python -m bench.bench_quality [--scale N]` (long: run under nice).
- Labels: the 6,000-image demo (data/demo with its dlib embeddings, drawn and embedded here when missing) with 3 %
  of Eyeglasses and Wearing_Hat flipped, three flip seeds; confident learning's list and its ranking, beside the
  naive "the model disagrees" list, and with each feature source alone.
- Identities and duplicates: an LFW-style copy of ../shared/real/celeba_wild_sample with 20 photos moved to another
  identity's folder and 20 copies (JPEG quality 60, resized to 90 %, 4 % cut off each side) under new names,
  embedded by the real job; beside a nearest-neighbour baseline and a 64-bit perceptual hash baseline.
- Scale: 202,599 x 128 stand-in embeddings with identity structure (bench/synthetic_embeddings.py), 40 stand-in
  attributes and thumbnails; the duplicate search beside the brute-force search over all pairs; the image scan
  timed on the demo's real JPEGs and extrapolated.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

from bench.common import PROJECT, SHARED, fmt_s, table, write_section
from core.data.embeddings import load_embeddings
from core.data.ingest import ingest, open_dataset
from core.faces.calibration import calibrate
from core.faces.embed_job import embed_dataset
from core.quality import duplicates, identities, labels, load_check, run_audit
from core.quality.audit import image_scan
from core.quality.neighbours import close_pairs, close_pairs_exact
from core.quality.scan import THUMB_SIZE, scan_images

SLOW = True
N_IMAGES, N_IDENTITIES, DIM = 202_599, 10_177, 128
WILD = SHARED / "real" / "celeba_wild_sample"
FLIPPED = ("Eyeglasses", "Wearing_Hat")
KNOWN_DUPLICATES = {
    frozenset(p) for p in (("091007.jpg", "111164.jpg"), ("073071.jpg", "086558.jpg"), ("030355.jpg", "090442.jpg"))
}


def cpu_seconds() -> float:
    """CPU seconds used so far by this process (all its threads) and its finished child processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


WALL: dict[str, float] = {}  # wall and CPU seconds of the last timed step of each name (the scale table shows both)
CPU: dict[str, float] = {}


def timed(fn, name: str = ""):
    """(wall seconds, result); the step's wall and CPU seconds also go into WALL[name] and CPU[name]."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    out = fn()
    WALL[name], CPU[name] = time.perf_counter() - t0, cpu_seconds() - c0
    return WALL[name], out


def step_row(step: str, names: list[str], baseline: str, result: str, scale: float = 1.0) -> list:
    """A scale-table row: the steps' summed wall and CPU seconds (times `scale` for an extrapolated step)."""
    wall, cpu = sum(WALL[n] for n in names) * scale, sum(CPU[n] for n in names) * scale
    return [step, fmt_s(wall), fmt_s(cpu), baseline, result]


def precision_recall(flagged, truth) -> tuple[float, float]:
    flagged, truth = set(flagged), set(truth)
    hits = len(flagged & truth)
    return hits / max(len(flagged), 1), hits / max(len(truth), 1)


def precision_at_recall(ranked: list, truth: set, recall: float = 0.8) -> float:
    """Precision of the shortest prefix of `ranked` that holds `recall` of `truth` (0 when it never does)."""
    found = np.cumsum([r in truth for r in ranked])
    need = int(np.ceil(recall * len(truth)))
    if not len(found) or found[-1] < need:
        return 0.0
    k = int(np.argmax(found >= need)) + 1
    return float(found[k - 1] / k)


# ---------------------------------------------------------------- labels on the demo


def demo_with_embeddings(tmp: Path):
    """The project's 6,000-image demo with its dlib embeddings (drawn and embedded into tmp when missing)."""
    from core.demo import generate_demo

    root = PROJECT / "data" / "demo"
    if root.exists():
        ds = open_dataset(root, name="demo")
        if load_embeddings(ds, "dlib") is not None and ds.n_images == 6_000:
            return ds
    root = tmp / "demo"
    generate_demo(root, n_images=6_000, seed=0)
    ds = ingest(root, "demo")
    embed_dataset(ds)
    return ds


def label_rows(ds) -> list[list]:
    emb = load_embeddings(ds, "dlib")
    scan = image_scan(ds)
    thumbs, readable = np.asarray(scan.arrays["thumbs"]), scan.tables["table"]["readable"].to_numpy()
    feature_sets = {
        "descriptors + thumbnails (FaceAtlas)": lambda: labels.label_features(
            emb.vectors, emb.has_face, thumbs, readable
        ),
        "descriptors only": lambda: labels.label_features(emb.vectors, emb.has_face, None, None),
        "thumbnails only": lambda: labels.label_features(None, None, thumbs, readable),
    }
    rows = []
    for name, make in feature_sets.items():
        feats = make()
        per = defaultdict(list)
        seconds = 0.0
        for seed in (0, 1, 2):
            rng = np.random.default_rng(seed)
            table_ = ds.table
            flips = {}
            for attribute in FLIPPED:
                chosen = rng.choice(ds.n_images, round(0.03 * ds.n_images), replace=False)
                flips[attribute] = set(chosen.tolist())
                col = table_[attribute].to_numpy().copy()
                col[chosen] ^= 1
                table_ = table_.with_columns(pl.Series(attribute, col))
            t, found = timed(lambda t_=table_, f_=feats: labels.audit_labels(t_, FLIPPED, f_))
            seconds += t
            for attribute in FLIPPED:
                mine = found.suspects.filter(pl.col("attribute") == attribute).sort("rank")
                likely = mine.filter(pl.col("likely"))["row"].to_list()
                per[attribute, "cl"].append(precision_recall(likely, flips[attribute]))
                per[attribute, "neq"].append(precision_recall(mine["row"].to_list(), flips[attribute]))
                per[attribute, "rank"].append(precision_at_recall(mine["row"].to_list(), flips[attribute]))
        for attribute in FLIPPED:
            cl, neq, rank = per[attribute, "cl"], per[attribute, "neq"], per[attribute, "rank"]
            rows.append(
                [
                    name,
                    attribute,
                    " / ".join(f"{p:.2f}-{r:.2f}" for p, r in cl),
                    " / ".join(f"{p:.2f}" for p in rank),
                    " / ".join(f"{p:.2f}-{r:.2f}" for p, r in neq),
                    fmt_s(seconds / 3),
                ]
            )
        print(rows[-2:], flush=True)
    return rows


# ---------------------------------------------------------------- identities and duplicates on real photos


def planted_wild(tmp: Path, moved_n: int = 20, copies_n: int = 20, seed: int = 0):
    rows = [line.split() for line in (WILD / "identity.txt").read_text().splitlines()[1:]]
    owner = dict(rows)
    people = sorted(set(owner.values()))
    names = sorted(owner)
    rng = np.random.default_rng(seed)
    moved = {
        str(n): str(rng.choice([p for p in people if p != owner[n]])) for n in rng.choice(names, moved_n, replace=False)
    }
    root = tmp / "wild"
    for n in names:
        (root / moved.get(n, owner[n])).mkdir(parents=True, exist_ok=True)
        shutil.copy(WILD / n, root / moved.get(n, owner[n]) / n)
    copies = {}
    for k, n in enumerate(rng.choice([n for n in names if n not in moved], copies_n, replace=False)):
        img = Image.open(WILD / n).convert("RGB")
        kind = ("jpeg60", "resize90", "crop4")[k % 3]
        if kind == "resize90":
            img = img.resize((round(img.width * 0.9), round(img.height * 0.9)), Image.Resampling.LANCZOS)
        elif kind == "crop4":
            dx, dy = round(img.width * 0.04), round(img.height * 0.04)
            img = img.crop((dx, dy, img.width - dx, img.height - dy))
        new = f"copy_{k:02d}.jpg"
        img.save(root / owner[str(n)] / new, quality=60 if kind == "jpeg60" else 90)
        copies[new] = str(n)
    return root, moved, copies


def phash64(path: Path) -> int:
    """The classic 64-bit perceptual hash (the baseline): signs of the 8 x 8 lowest DCT terms of a 32 x 32 grey image."""
    from scipy.fft import dctn

    grey = np.asarray(Image.open(path).convert("L").resize((32, 32), Image.Resampling.BILINEAR), np.float64)
    low = dctn(grey, norm="ortho")[:8, :8].ravel()
    return int(np.packbits(low > np.median(low)).view(">u8")[0])


def group_files(members: pl.DataFrame) -> list[frozenset]:
    return [frozenset(Path(i).name for i in ids) for _, ids in members.group_by("group").agg("image_id").rows()]


def false_groups(groups: list[frozenset], copies: dict) -> int:
    bad = 0
    for group in groups:
        planted = {c for c in group if c in copies} | {copies[c] for c in group if c in copies}
        rest = group - planted
        known = set().union(*[p for p in KNOWN_DUPLICATES if p & group]) if rest else set()
        bad += not rest <= known
    return bad


def wild_rows(tmp: Path) -> tuple[list[list], list[list], str]:
    root, moved, copies = planted_wild(tmp)
    ds = ingest(root, "wild")
    t_embed, summary = timed(lambda: embed_dataset(ds))
    t_audit, _ = timed(lambda: run_audit(ds, ["identities", "duplicates", "images"]))
    ident = load_check(ds, "identities")
    planted = {f"{who}/{n}" for n, who in moved.items()}
    suspects = ident.tables["suspects"]
    misfiled = suspects.filter(pl.col("kind") == identities.SUSPECT_KINDS[0])["image_id"].to_list()
    p, r = precision_recall(misfiled, planted)
    ranked = suspects.sort(pl.col("own_median") - pl.col("match_median").fill_nan(None).fill_null(0), descending=True)
    # Baseline: photos whose nearest other photo belongs to another identity.
    emb = load_embeddings(ds, "dlib")
    X = np.asarray(emb.vectors, np.float64)
    ids = np.array(ds.table["identity"].to_list())
    image_ids = np.array(ds.table["image_id"].to_list())
    ok = np.flatnonzero(emb.has_face)
    d = np.sqrt(((X[ok, None, :] - X[None, ok, :]) ** 2).sum(axis=2))
    np.fill_diagonal(d, np.inf)
    nn = ok[np.argmin(d, axis=1)]
    baseline = image_ids[ok][ids[nn] != ids[ok]].tolist()
    bp, br = precision_recall(baseline, planted)
    id_rows = [
        [
            "photo far from its identity (median > cut) and close to another (median < cut) (FaceAtlas)",
            f"{len(misfiled)}",
            f"{p:.2f}",
            f"{r:.2f}",
            f"{precision_at_recall(ranked['image_id'].to_list(), planted):.2f}",
        ],
        [
            "nearest other photo belongs to another identity (baseline)",
            f"{len(baseline)}",
            f"{bp:.2f}",
            f"{br:.2f}",
            "",
        ],
    ]
    # Duplicates
    dup = load_check(ds, "duplicates")
    groups = group_files(dup.tables["members"])
    found = sum(any({c, s} <= g for g in groups) for c, s in copies.items())
    files = {Path(i).name: ds.image_path(i) for i in ds.table["image_id"].to_list()}
    hashes = {name: phash64(path) for name, path in files.items()}
    names = sorted(hashes)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :] if (hashes[a] ^ hashes[b]).bit_count() <= 8]
    ph_groups = _pieces(pairs)
    ph_found = sum(any({c, s} <= g for g in ph_groups) for c, s in copies.items())
    dup_rows = [
        [
            "crop-aware thumbnails among descriptor neighbours (FaceAtlas)",
            f"{found} / {len(copies)}",
            f"{len(groups)}",
            f"{false_groups(groups, copies)}",
        ],
        [
            "64-bit perceptual hash, at most 8 bits apart (baseline)",
            f"{ph_found} / {len(copies)}",
            f"{len(ph_groups)}",
            f"{false_groups(ph_groups, copies)}",
        ],
    ]
    note = (
        f"{ds.n_images} photos ({summary.embedded} with a face), {ds.n_identities} identities; same-person cut "
        f"{ident.summary['threshold']:.3f} (ROC AUC {ident.summary['auc']:.3f}); embedding {fmt_s(t_embed)}, "
        f"audit (scan, identities, duplicates, images) {fmt_s(t_audit)}; {ident.summary['twins']} identity pairs "
        "flagged as one person filed twice."
    )
    return id_rows, dup_rows, note


def _pieces(pairs: list[tuple[str, str]]) -> list[frozenset]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    groups = defaultdict(set)
    for x in parent:
        groups[find(x)].add(x)
    return [frozenset(g) for g in groups.values() if len(g) > 1]


# ---------------------------------------------------------------- scale


def stand_in_thumbnails(ids: np.ndarray, rng) -> np.ndarray:
    """(n, 30, 24, 3) uint8 smooth pictures: a shared layout, a per-identity and a per-image part (each image differs).

    Like aligned face crops, most of their variance lies in a few smooth components; the planted copies get their
    source's thumbnail.
    """
    w, h = THUMB_SIZE
    coarse = (6, 5)

    def smooth(count: int, scale: float) -> np.ndarray:
        small = rng.standard_normal((count, coarse[0], coarse[1], 3)).astype(np.float32) * scale
        rows = np.linspace(0, coarse[0] - 1, h)
        cols = np.linspace(0, coarse[1] - 1, w)
        r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
        r1, c1 = np.minimum(r0 + 1, coarse[0] - 1), np.minimum(c0 + 1, coarse[1] - 1)
        fr, fc = (rows - r0)[:, None, None], (cols - c0)[None, :, None]
        out = np.empty((count, h, w, 3), np.float32)
        for start in range(0, count, 20_000):
            s = small[start : start + 20_000]
            top = s[:, r0][:, :, c0] * (1 - fc) + s[:, r0][:, :, c1] * fc
            bottom = s[:, r1][:, :, c0] * (1 - fc) + s[:, r1][:, :, c1] * fc
            out[start : start + 20_000] = top * (1 - fr) + bottom * fr
        return out

    pictures = 128 + smooth(1, 40)[0] + smooth(int(ids.max()) + 1, 25)[ids] + smooth(len(ids), 25)
    return np.clip(pictures + rng.normal(0, 3, pictures.shape), 0, 255).astype(np.uint8)


def scale_rows(n: int, demo) -> tuple[list[list], float]:
    from bench.synthetic_embeddings import celeba_like_identities, identity_embeddings

    ids = celeba_like_identities(n, round(N_IDENTITIES * n / N_IMAGES))
    X = identity_embeddings(ids)
    rng = np.random.default_rng(1)
    planted = rng.choice(n, 2_000, replace=False)
    noise = rng.standard_normal((2_000, DIM)).astype(np.float32)
    noise *= (rng.uniform(0.01, 0.1, 2_000) / np.linalg.norm(noise, axis=1))[:, None]
    X[planted[1_000:]] = X[planted[:1_000]] + noise[:1_000]  # 1,000 near copies among the rows
    identity = ids.astype(str)
    rows = []

    t_cells, cells = timed(lambda: close_pairs(X, duplicates.CANDIDATE_RADIUS), "cells")
    print("cells", t_cells, len(cells), flush=True)
    t_brute, brute = timed(lambda: close_pairs_exact(X, duplicates.CANDIDATE_RADIUS), "brute")
    print("brute", t_brute, flush=True)
    same = np.array_equal(cells.a, brute.a) and np.array_equal(cells.b, brute.b)
    rows.append(
        step_row(
            "duplicate candidates: descriptor pairs within 0.25 (k-means cells, 4 probes)",
            ["cells"],
            f"all pairs (brute force): {fmt_s(t_brute)} wall, {fmt_s(CPU['brute'])} CPU",
            f"{len(cells):,} of {len(brute):,} pairs found" + (" (identical)" if same else ""),
        )
    )
    thumbs = stand_in_thumbnails(ids, rng)
    resaved = thumbs[planted[:1_000]].astype(np.int16) + rng.integers(-2, 3, thumbs[planted[:1_000]].shape)
    thumbs[planted[1_000:]] = np.clip(resaved, 0, 255).astype(np.uint8)  # the copies, re-saved
    readable = np.ones(n, bool)
    has_face = np.ones(n, bool)
    has_face[rng.choice(n, n // 50, replace=False)] = False  # 2 % without a face: searched by thumbnails
    _, (a, b) = timed(lambda: duplicates.near_pairs(thumbs, readable, X, has_face), "dup")
    found = len(
        {(int(x), int(y)) for x, y in zip(np.minimum(a, b), np.maximum(a, b))}
        & {tuple(sorted(p)) for p in zip(planted[:1_000].tolist(), planted[1_000:].tolist())}
    )
    rows.append(
        step_row(
            "duplicates: candidates (again) + thumbnail checks; photos without a face by thumbnail neighbours",
            ["dup"],
            "",
            f"{found:,} of 1,000 planted copies paired; {len(a) - found:,} other pairs (every stand-in differs)",
        )
    )

    table_ = pl.DataFrame({"image_id": [f"{i:06d}.jpg" for i in range(n)], "identity": identity})
    _, cal = timed(lambda: calibrate(X, identity, has_face), "cal")
    _, found_id = timed(lambda: identities.audit_identities(table_, X, has_face, cal), "id")
    rows.append(
        step_row(
            "identities: calibration + suspects + identities filed twice",
            ["cal", "id"],
            "",
            f"{found_id.suspects.height:,} suspects, {found_id.twins.height} twins (stand-in: none planted)",
        )
    )

    # 40 stand-in attributes: thresholded projections of the embeddings, 3 % of labels flipped.
    W = rng.standard_normal((DIM, 40)).astype(np.float32)
    scores = X @ W
    Y = (scores > np.quantile(scores, rng.uniform(0.5, 0.97, 40), axis=0).diagonal()).astype(np.uint8)
    flips = rng.random(Y.shape) < 0.03
    Y ^= flips.astype(np.uint8)
    names = [f"A{j:02d}" for j in range(40)]
    table_ = table_.with_columns([pl.Series(name, Y[:, j]) for j, name in enumerate(names)])
    _, feats = timed(lambda: labels.label_features(X, has_face, thumbs, readable), "feat")
    _, lab = timed(lambda: labels.audit_labels(table_, names, feats), "lab")
    likely = lab.suspects.filter(pl.col("likely"))
    hit = flips[likely["row"].to_numpy(), [names.index(a) for a in likely["attribute"].to_list()]].mean()
    rows.append(
        step_row(
            "labels: features + 2 x 5 folds x 40 attributes + confident learning",
            ["feat", "lab"],
            "",
            f"{likely.height:,} likely errors, {hit:.0%} of them planted flips",
        )
    )

    # The image scan, on the demo's real JPEGs, extrapolated.
    _, _ = timed(lambda: scan_images(demo, workers=1), "scan")  # in-process: its CPU is counted
    per_image = WALL["scan"] / demo.n_images
    rows.append(
        step_row(
            f"image scan (one process here; the audit runs one per core), timed on {demo.n_images:,} demo JPEGs (178 x 218)",
            ["scan"],
            "",
            f"extrapolated from {per_image * 1000:.2f} ms per image",
            scale=n / demo.n_images,
        )
    )
    steps = ["dup", "cal", "id", "feat", "lab"]
    wall = sum(WALL[k] for k in steps) + WALL["scan"] * n / demo.n_images
    cpu = sum(CPU[k] for k in steps) + CPU["scan"] * n / demo.n_images
    return rows, wall, cpu


PARTS = ("labels", "wild", "scale")


def part_file(part: str) -> Path:
    """Where a part's rows are kept (cache/, ignored), so the parts can run one at a time and be assembled."""
    return PROJECT / "cache" / f"bench_quality_{part}.json"


def run_part(part: str, scale: int, tmp: Path) -> dict:
    os.environ.setdefault("FACEATLAS_CACHE", str(PROJECT / "cache"))
    if part == "labels":
        return {"rows": label_rows(demo_with_embeddings(tmp))}
    if part == "wild":
        os.environ["FACEATLAS_CACHE"] = str(tmp / "cache")
        if not WILD.exists():
            return {"ids": [], "dups": [], "note": "../shared absent: skipped."}
        ids, dups, note = wild_rows(tmp)
        return {"ids": ids, "dups": dups, "note": note}
    load = os.getloadavg()[0]
    demo = PROJECT / "data" / "demo"
    if not demo.exists():
        from core.demo import generate_demo

        generate_demo(demo := tmp / "demo", n_images=6_000, seed=0)
    rows, wall, cpu = scale_rows(scale, open_dataset(demo, name="demo"))
    return {
        "rows": rows,
        "wall": wall,
        "cpu": cpu,
        "n": scale,
        "load": [load, os.getloadavg()[0]],
        "cpu_steps": {k: CPU[k] for k in ("cells", "brute")},
    }


def extrapolated(big: dict) -> str:
    """A run below CelebA's size, scaled up: linear in the images, the all-pairs search with their square."""
    if big["n"] >= N_IMAGES:
        return ""
    f = N_IMAGES / big["n"]
    cells, brute = big["cpu_steps"]["cells"], big["cpu_steps"]["brute"]
    return (
        f"Scaled to {N_IMAGES:,} images (this run was cut to {big['n']:,}: the shared machine ran about "
        f"{big['wall'] / (big['cpu'] / 2):.0f} times slower than an idle one would): linear in the images, about **{fmt_s(big['cpu'] * f)} CPU, so about "
        f"{fmt_s(big['cpu'] * f / 2)} on an idle 2-core machine** (an upper bound for the label fits, which already use "
        f"their cap of 40,000 rows per fold at {big['n']:,}). The all-pairs baseline grows with the square of the "
        f"images: about {fmt_s(brute * f * f)} CPU against {fmt_s(cells * f)} for the k-means cells. "
        f"`python -m bench.bench_quality --parts scale` measures the full size."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=N_IMAGES)
    parser.add_argument("--parts", default=",".join(PARTS), help="which parts to run now (the others are read back)")
    args = parser.parse_args(argv)
    for part in [p for p in args.parts.split(",") if p]:
        if part not in PARTS:
            parser.error(f"unknown part {part!r}: choose from {', '.join(PARTS)}")
        with tempfile.TemporaryDirectory() as tmp:
            result = run_part(part, args.scale, Path(tmp))
        part_file(part).parent.mkdir(parents=True, exist_ok=True)
        part_file(part).write_text(json.dumps(result))
    if not all(part_file(p).exists() for p in PARTS):
        print("parts missing: section not written")
        return 0
    got = {p: json.loads(part_file(p).read_text()) for p in PARTS}
    lab, wild, big = got["labels"]["rows"], got["wild"], got["scale"]
    body = "\n".join(
        [
            "### Suspect attribute labels: 3 % of Eyeglasses and Wearing_Hat flipped on the 6,000-image demo",
            "",
            "Three flip seeds per cell (seed 0 / 1 / 2). precision-recall against the flips.",
            "",
            table(
                [
                    "features",
                    "attribute",
                    "confident learning's list",
                    "ranking: precision at 0.8 recall",
                    "baseline: every image the model disagrees with",
                    "time (2 attributes)",
                ],
                lab,
            ),
            "",
            "### Suspect identity labels: 20 of 502 real photos moved to another identity's folder",
            "",
            table(["rule", "flagged", "precision", "recall", "ranking: precision at 0.8 recall"], wild["ids"]),
            "",
            "### Near duplicates: 20 copies (JPEG 60, 90 %, 4 % crop) added to the same photos",
            "",
            table(["method", "copies grouped with their photo", "groups", "false groups"], wild["dups"]),
            "",
            f"{wild['note']} False groups leave out {len(KNOWN_DUPLICATES)} pairs of the sample that are the same photo saved "
            "twice (checked by eye).",
            "",
            f"### Every check at CelebA scale ({big['n']:,} images, stand-in embeddings)",
            "",
            "128-number unit descriptors with CelebA-like identities (bench/synthetic_embeddings.py), 1,000 of them "
            "planted as near copies of others; smooth 24 x 30 stand-in thumbnails (2 % of rows without a face); 40 "
            "stand-in attributes with 3 % of labels flipped. Wall time was measured on a machine shared with other "
            f"work (load average {big['load'][0]:.1f} at the start, {big['load'][1]:.1f} at the end, on "
            f"{os.cpu_count()} cores), so the CPU seconds (this process's threads and its worker processes) say more "
            "about an idle 2-core machine: at most 2 run at once there, so its wall time is about CPU / 2 or more.",
            "",
            table(["step", "wall", "CPU", "baseline", "result"], big["rows"]),
            "",
            f"Total of the audit's steps: **{fmt_s(big['wall'])} wall, {fmt_s(big['cpu'])} CPU** (an idle 2-core "
            f"machine: about {fmt_s(big['cpu'] / 2)}; budget 10 min). The brute-force search compares all "
            f"{big['n'] * (big['n'] - 1) // 2:,} pairs.",
            "",
            extrapolated(big),
        ]
    )
    write_section("quality", "Data quality", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
