"""`python -m core cluster DATASET --features embeddings|attributes --algo ... [--reduce ...] --json`."""

from __future__ import annotations

import json
import time

from core import format as fmt
from core.classify.store import load_predictions
from core.cluster.algorithms import ALGORITHMS, LINKAGES, METRICS, ClusterSpec, cluster_by
from core.cluster.features import (
    FEATURE_SPACES,
    WEIGHTINGS,
    FeatureKey,
    FeatureMatrix,
    FeatureSpec,
    build_features,
    feature_key,
)
from core.cluster.metrics import external_metrics, internal_metrics
from core.cluster.reduce import REDUCERS, Reduction, ReductionSpec, map_2d, reduce, reduce_by
from core.cluster.store import (
    ClusteringKey,
    clustering_dir,
    labels_key,
    load_map,
    map_key,
    reduction_key,
    save_clustering,
    save_map,
)
from core.data.dataset import Dataset
from core.data.embeddings import load_embeddings
from core.data.ingest import open_dataset
from core.data.subset import Subset
from core.jobs import JobSpec, ProgressReporter, dataset_job_spec

COMMAND = "cluster"
HELP = "Cluster a dataset's faces (by embedding or attributes) and print metrics."


def _features_options(features: FeatureKey) -> list[str]:
    """The options naming one feature matrix (the page's FeatureKey) for a background job."""
    spec = features.spec
    options = ["--features", spec.space, "--weighting", spec.weighting]
    options += ["--max-points", str(features.max_points), "--seed", str(features.seed)]
    options += ["--subset-json", features.subset.to_json()]
    if spec.attributes:
        options += ["--attributes", ",".join(spec.attributes)]
    if spec.standardise:
        options.append("--standardise")
    if spec.model:
        options += ["--model", spec.model]
    return options


def map_job_spec(ds: Dataset, features: FeatureKey, method: str = "umap") -> JobSpec:
    """The background job that computes and stores the 2-D `method` map (umap, tsne) of the matrix `features` names."""
    options = (*_features_options(features), "--save-map", method)
    return dataset_job_spec(COMMAND, ds, *options, kind="cluster-map")


def reduction_job_spec(ds: Dataset, features: FeatureKey, reduction: ReductionSpec) -> JobSpec:
    """The background job that computes and stores a reduction (UMAP) before clustering (one job per reduced matrix,
    whatever clustering follows)."""
    options = (*_features_options(features), "--reduction-json", reduction.to_json())
    return dataset_job_spec(COMMAND, ds, *options, kind="cluster-reduce")


def labels_job_spec(ds: Dataset, key: ClusteringKey) -> JobSpec:
    """The background job that computes the clustering the key names and stores the labels the page shows."""
    options = (*_features_options(key.features), "--reduction-json", key.reduction.to_json())
    return dataset_job_spec(COMMAND, ds, *options, "--cluster-json", key.clustering.to_json(), kind="cluster-labels")


def add_arguments(parser) -> None:
    parser.add_argument("dataset", metavar="DATASET", help="dataset folder, or the name of a dataset under data/")
    parser.add_argument("--name", default=None, help="name to show for the dataset")
    parser.add_argument("--features", choices=FEATURE_SPACES, default="embeddings")
    parser.add_argument(
        "--model",
        default=None,
        help="embedding model (default: dlib if present), or the classifier of --features predicted",
    )
    parser.add_argument("--attributes", default="", help="comma-separated attributes (attribute features; default all)")
    parser.add_argument("--weighting", choices=WEIGHTINGS, default="none")
    parser.add_argument("--standardise", action="store_true")
    parser.add_argument("--algo", choices=list(ALGORITHMS), default="chinese_whispers")
    parser.add_argument("--k", type=int, default=None)
    parser.add_argument("--eps", type=float, default=None, help="DBSCAN radius (default: from the k-distance knee)")
    parser.add_argument("--min-samples", type=int, default=None)
    parser.add_argument("--min-cluster-size", type=int, default=None)
    parser.add_argument(
        "--threshold", type=float, default=None, help="Chinese whispers / agglomerative distance threshold"
    )
    parser.add_argument("--linkage", choices=LINKAGES, default=None)
    parser.add_argument("--metric", choices=METRICS, default=None)
    parser.add_argument("--reduce", choices=[r for r in REDUCERS if r != "tsne"], default="none")
    parser.add_argument(
        "--components", type=float, default=None, help="PCA: n or a variance share (default 0.95); UMAP: n (default 10)"
    )
    parser.add_argument("--top-identities", type=int, default=0)
    parser.add_argument("--subset-json", default=None, help="a Subset as JSON (used by the page's background jobs)")
    parser.add_argument("--max-points", type=int, default=0, help="sample at most this many points (0 = all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--save-map", choices=["umap", "tsne"], default=None, help="only compute and store the 2-D map the page shows"
    )
    parser.add_argument(
        "--reduction-json", default=None, help="a reduction spec as JSON (the page's jobs): compute and store it"
    )
    parser.add_argument(
        "--cluster-json",
        default=None,
        help="with --reduction-json: also cluster and store the labels (the page's jobs)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def algorithm_params(args) -> dict:
    """The algorithm's parameters given on the command line (others keep their defaults)."""
    given = {
        "k": args.k,
        "eps": args.eps,
        "min_samples": args.min_samples,
        "min_cluster_size": args.min_cluster_size,
        "linkage": args.linkage,
        "metric": args.metric,
    }
    if args.algo == "agglomerative":
        given["distance_threshold"] = args.threshold
    else:
        given["threshold"] = args.threshold
    names = {p.name for p in ALGORITHMS[args.algo].params}
    return {k: v for k, v in given.items() if v is not None and k in names}


def parse_subset(args) -> Subset:
    if not args.subset_json:
        return Subset(top_identities=args.top_identities)
    return Subset.from_json(args.subset_json)


def store_map(ds: Dataset, features: FeatureKey, fm: FeatureMatrix, method: str, progress: ProgressReporter) -> dict:
    """Compute the 2-D map the page asks for (umap, tsne) and store it under the key the page looks up."""
    progress.update(0, f"{method.upper()} map of {fmt.count(fm.n)} points…", total=1, force=True)
    projection = map_2d(fm.X, method, seed=features.seed)
    path = save_map(clustering_dir(ds), map_key(features, method), projection.coords, fm.rows)
    return {"map": str(path), "points": fm.n}


def stored_reduction(ds: Dataset, features: FeatureKey, fm: FeatureMatrix, spec: ReductionSpec, progress) -> Reduction:
    """The reduction the page asks for: loaded when a job already stored it, else computed and stored."""
    key = reduction_key(features, spec)
    coords = load_map(clustering_dir(ds), key, fm.rows)
    if coords is not None:
        return Reduction(coords, spec.method, coords.shape[1], "")
    progress.update(
        0,
        f"{spec.method.upper()} of {fmt.count(fm.n)} points to {spec.n_components:g} dimensions…",
        total=1,
        force=True,
    )
    reduced = reduce_by(fm.X, spec, seed=features.seed)
    if spec.method == "umap":
        save_map(clustering_dir(ds), key, reduced.coords, fm.rows)
    return reduced


def store_page_result(ds: Dataset, features: FeatureKey, fm: FeatureMatrix, args, progress: ProgressReporter) -> dict:
    """--reduction-json [--cluster-json]: the page's slow steps, stored under the keys the page looks up."""
    reduction = ReductionSpec.from_json(args.reduction_json)
    reduced = stored_reduction(ds, features, fm, reduction, progress)
    if not args.cluster_json:
        return {"reduction": reduction_key(features, reduction), "points": fm.n}
    key = ClusteringKey(features, reduction, ClusterSpec.from_json(args.cluster_json))
    label = ALGORITHMS[key.clustering.algorithm].label
    progress.update(0, f"clustering {fmt.count(fm.n)} points ({label})…", total=1, force=True)
    result = cluster_by(reduced.coords, key.clustering, seed=features.seed)
    name = labels_key(key)
    save_clustering(clustering_dir(ds), name, result, fm.rows)
    return {"labels": name, "points": fm.n, "clusters": result.n_clusters}


def run(args) -> int:
    progress = ProgressReporter(args.progress_file)
    t0 = time.perf_counter()
    clustering = ClusterSpec.of(args.algo, **algorithm_params(args))  # its parameters checked before any work
    ds = open_dataset(args.dataset, name=args.name)
    attributes = tuple(a for a in args.attributes.split(",") if a)
    spec = FeatureSpec(args.features, attributes, args.weighting, args.standardise, args.model)
    subset = parse_subset(args)
    emb = load_embeddings(ds, args.model) if args.features == "embeddings" else None
    predictions = load_predictions(clustering_dir(ds), args.model) if args.features == "predicted" else None
    fm = build_features(ds, spec, subset, args.max_points, args.seed, embeddings=emb, predictions=predictions)
    if args.save_map or args.reduction_json:
        fkey = feature_key(ds, spec, subset, args.max_points, args.seed, emb, predictions)
        if args.save_map:
            result = store_map(ds, fkey, fm, args.save_map, progress)
        else:
            result = store_page_result(ds, fkey, fm, args, progress)
        progress.finish(result)
        print(json.dumps(result) if args.json else f"stored: {result}")
        return 0
    progress.update(0, "clustering…", total=1, force=True)
    components = args.components if args.components is not None else (0.95 if args.reduce == "pca" else 10)
    reduced = reduce(fm.X, args.reduce, components, seed=args.seed)
    result = cluster_by(reduced.coords, clustering, seed=args.seed)
    inner = internal_metrics(reduced.coords, result.labels, seed=args.seed)
    out = {
        "dataset": ds.name,
        "points": fm.n,
        "algorithm": args.algo,
        "params": result.params,
        "n_clusters": inner["n_clusters"],
        "noise_fraction": inner["noise_fraction"],
        "silhouette": inner["silhouette"],
        "davies_bouldin": inner["davies_bouldin"],
        "calinski_harabasz": inner["calinski_harabasz"],
    }
    if ds.has_identity:
        truth = ds.table["identity"].to_numpy()[fm.rows]
        if not any(t is None for t in truth):
            ext = external_metrics(truth, result.labels)
            out |= {k: ext[k] for k in ("ari", "nmi", "pairwise_f1", "bcubed_f1")}
    out["notes"] = [*fm.notes, reduced.note, *result.notes, *result.warnings]
    out["seconds"] = round(time.perf_counter() - t0, 3)
    progress.finish({k: v for k, v in out.items() if k != "params"})
    if args.json:
        print(json.dumps(out, default=float))
        return 0
    print(
        f"{fmt.count(out['points'])} points, {args.algo}: {fmt.count(out['n_clusters'])} clusters, "
        f"noise {fmt.percent(out['noise_fraction'])}, silhouette {fmt.decimal(out['silhouette'])}"
    )
    for key in ("ari", "nmi", "pairwise_f1", "bcubed_f1"):
        if key in out:
            print(f"{key}: {fmt.decimal(out[key])}")
    for note in out["notes"]:
        if note:
            print(f"note: {note}")
    print(fmt.duration(out["seconds"]))
    return 0
