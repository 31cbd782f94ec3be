"""Training an attribute model end to end: split, features, fit (with live history), test metrics, save.

Front door: `train_attribute_model(ds, TrainConfig(...), reporter, history_path)`. It is what
`python -m core train` runs (as a background job from the page); the history of train and
validation loss/accuracy is rewritten atomically to `history_path` as training goes, so a
page can draw live curves.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core import format as fmt
from core.classify.metrics import attribute_metrics, balanced_thresholds, mean_metrics, roc_auc
from core.classify.models import (
    LOSSES,
    MODELS,
    LogisticModel,
    TrainConfig,
    build_net,
    check_choice,
    make_loss,
    to_chw_float,
)
from core.classify.pixels import augment_batch, build_pixel_cache
from core.classify.store import (
    ClassifierMeta,
    new_model_id,
    predict_torch,
    read_meta,
    save_model,
    save_predictions,
)
from core.data.atomic import write_json
from core.data.dataset import Dataset
from core.data.embeddings import load_embeddings
from core.data.split import Split, split_rows
from core.jobs import ProgressReporter, jobs_root
from core.processes import usable_cores

# Lazy imports: torch are imported inside the functions that use them, so pages and commands that never call them do
# not pay their import time and memory on a shared server.

log = logging.getLogger(__name__)

HISTORY_FILE = "history.json"


def history_path_for(job_id: str) -> Path:
    """Where a training job's live history is written (beside its progress.json)."""
    return jobs_root() / job_id / HISTORY_FILE


def dataset_split(ds: Dataset, usable: np.ndarray, seed: int = 0) -> Split:
    """Train/val/test rows of the dataset among the usable ones (core.data.split.split_rows)."""
    partition = ds.table["partition"].to_numpy()
    identity = ds.table["identity"].to_numpy()
    return split_rows(partition, identity, usable, seed=seed)


@dataclass(frozen=True)
class EvaluationCounts:
    """Annotated images of one attribute in the test split a model of this dataset is measured on."""

    positives: int
    negatives: int

    @property
    def scorable(self) -> bool:
        """Recall and precision need both kinds of test image."""
        return self.positives > 0 and self.negatives > 0


def evaluation_counts(ds: Dataset) -> dict[str, EvaluationCounts]:
    """Per attribute, its positive and negative images in the test split (every annotated image counted)."""
    split = dataset_split(ds, np.ones(ds.n_images, bool))
    labels = ds.attribute_matrix(split.test)
    positives = (labels == 1).sum(axis=0)
    negatives = (labels == 0).sum(axis=0)
    return {a: EvaluationCounts(int(positives[k]), int(negatives[k])) for k, a in enumerate(ds.attributes)}


def validate_config(ds: Dataset, config: TrainConfig) -> TrainConfig:
    """The config with attributes filled in, or ValueError saying what to change."""
    check_choice("model", config.model, MODELS)
    check_choice("loss", config.loss, LOSSES)
    attributes = tuple(config.attributes) or tuple(ds.attributes)
    unknown = [a for a in attributes if a not in ds.attributes]
    if unknown:
        raise ValueError(f"Unknown attributes {', '.join(unknown)}; this dataset has: {', '.join(ds.attributes)}.")
    if config.loss == "cosine" and len(attributes) < 2:
        raise ValueError(
            "Cosine proximity compares the predicted and true attribute vectors: choose at least 2 attributes."
        )
    if config.epochs < 1:
        raise ValueError("Epochs must be at least 1.")
    if config.model == "logreg":
        config = replace(config, loss="bce")  # logistic regression has one loss: cross-entropy
    return replace(config, attributes=attributes)


def set_torch_threads() -> int:
    import torch

    cores = usable_cores()
    # Half the cores: on a shared or hyper-threaded CPU more threads mostly contend (measured: 1 thread
    # beat 2 by 3x on a busy 2-core machine). FACEATLAS_TORCH_THREADS overrides.
    threads = int(os.environ.get("FACEATLAS_TORCH_THREADS", 0)) or max(1, min(cores // 2, 8))
    torch.set_num_threads(threads)
    return threads


def _features(ds: Dataset, config: TrainConfig, reporter: ProgressReporter) -> tuple[np.ndarray, np.ndarray, dict]:
    """(inputs aligned to the table, usable rows mask, extra meta)."""
    if config.features == "embeddings":
        emb = load_embeddings(ds)
        if emb is None:
            raise ValueError(
                f"{ds.name} has no face embeddings yet. Compute them first (`python -m core embed {ds.name}` "
                "or the embeddings button), or train the CNN from pixels."
            )
        return emb.vectors, np.asarray(emb.has_face, bool), {"embedding_model": emb.model, "in_dim": emb.dim}

    def show(done: int, total: int) -> None:
        reporter.update(
            0, f"decoding images once into the {config.image_size}px cache: {fmt.count(done)} / {fmt.count(total)}"
        )

    pixels, ok = build_pixel_cache(ds, config.image_size, show)
    return pixels, ok, {"image_size": config.image_size}


def train_attribute_model(
    ds: Dataset,
    config: TrainConfig,
    reporter: ProgressReporter | None = None,
    history_path: Path | None = None,
) -> ClassifierMeta:
    """Train, measure on the test split, save under cache/models/; returns the saved meta."""
    t0 = time.perf_counter()
    config = validate_config(ds, config)
    reporter = reporter or ProgressReporter(None)
    inputs, usable, extra = _features(ds, config, reporter)
    split = dataset_split(ds, usable, config.seed)
    if config.max_train and len(split.train) > config.max_train:
        split = replace(
            split,
            train=np.sort(np.random.default_rng(config.seed).choice(split.train, config.max_train, replace=False)),
        )
    if len(split.train) == 0 or len(split.test) == 0:
        raise ValueError("Not enough usable images to train and test (check that images or embeddings exist).")
    cols = [ds.attributes.index(a) for a in config.attributes]
    labels = ds.attribute_matrix()[:, cols]
    history: list[dict] = []
    if config.model == "logreg":
        # No early stopping to feed: the validation rows are training data for logistic regression.
        fit_rows = np.union1d(split.train, split.val) if not np.array_equal(split.val, split.test) else split.train
        fitted = _fit_logreg(np.asarray(inputs[fit_rows]), labels[fit_rows], config, reporter)
        epochs_run = 1
    else:
        fitted, epochs_run = _fit_torch(inputs, labels, split, config, extra, reporter, history, history_path)
    reporter.update(0, "measuring on the test split", force=True)
    thresholds = np.full(len(config.attributes), 0.5)
    if config.model != "logreg" and len(split.val) and not np.array_equal(split.val, split.test):
        thresholds = balanced_thresholds(labels[split.val], _predict(fitted, inputs, split.val))
    probs = _predict(fitted, inputs, split.test)
    table = attribute_metrics(labels[split.test], probs, config.attributes, thresholds)
    model_id = new_model_id(config.model, config.features)
    meta = ClassifierMeta(
        model_id=model_id,
        dataset_key=ds.key,
        dataset_name=ds.name,
        attributes=tuple(config.attributes),
        features=config.features,
        model=config.model,
        config=config,
        metrics={r.pop("attribute"): _clean(r) for r in table.to_dicts()},
        mean=_clean(mean_metrics(table)),
        thresholds=dict(zip(config.attributes, map(float, thresholds))),
        split_note=split.note,
        rows={"train": len(split.train), "val": len(split.val), "test": len(split.test)},
        positives={
            part: dict(zip(config.attributes, map(int, labels[rows].sum(axis=0))))
            for part, rows in (("train", split.train), ("test", split.test))
        },
        epochs_run=epochs_run,
        history=tuple(history),
        seconds=round(time.perf_counter() - t0, 2),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        labels_key=ds.labels_key,
        split_key=ds.split_key,
        images_key=ds.images_key,
        **extra,
    )
    predictions = {"rows": split.test.astype(np.int64), "labels": labels[split.test].astype(np.uint8), "probs": probs}
    save_model(meta, fitted, predictions)
    reporter.update(0, "predicting every image (the Clustering page's predicted-attribute space)", force=True)
    save_predictions(read_meta(model_id), _predict_all(fitted, inputs, usable, len(config.attributes)))
    return read_meta(model_id)


def _clean(values: dict) -> dict:
    """NaN -> None so the JSON is strict."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}


def _predict(fitted, inputs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    if isinstance(fitted, LogisticModel):
        return fitted.predict_proba(np.asarray(inputs[rows]))
    return predict_torch(fitted, _take(inputs, rows))


def _predict_all(fitted, inputs: np.ndarray, usable: np.ndarray, n_attributes: int, chunk: int = 8192) -> np.ndarray:
    """(N, A) float32 probabilities for every usable row (NaN elsewhere), in chunks so memory stays flat."""
    out = np.full((len(usable), n_attributes), np.nan, np.float32)
    rows = np.flatnonzero(usable)
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        out[part] = _predict(fitted, inputs, part)
    return out


def _take(inputs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """inputs[rows] for sorted rows (memmap-friendly)."""
    return np.asarray(inputs[np.sort(rows)]) if len(rows) else np.asarray(inputs[:0])


def _fit_logreg(X: np.ndarray, Y: np.ndarray, config: TrainConfig, reporter: ProgressReporter) -> LogisticModel:
    what = f"fitting {Y.shape[1]} logistic regressions on {fmt.count(len(X))} faces"
    reporter.update(0, what, total=Y.shape[1], force=True)
    return LogisticModel(balanced=config.pos_weight).fit(X, Y, on_fitted=lambda done: reporter.update(done, what))


def _fit_torch(inputs, labels, split: Split, config: TrainConfig, extra: dict, reporter, history, history_path):
    """Mini-batch training with validation each epoch, early stopping, and the best weights restored."""
    import torch

    threads = set_torch_threads()
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    n_out = labels.shape[1]
    net = build_net(config.model, n_out, extra.get("in_dim", 128), config.image_size)
    if config.model == "mlp":
        train_x = np.asarray(inputs[split.train], dtype=np.float32)
        net.mean.copy_(torch.from_numpy(train_x.mean(0)))
        net.scale.copy_(torch.from_numpy(train_x.std(0) + 1e-6))
    prior = labels[split.train].mean(0).clip(1e-3, 1 - 1e-3).astype(np.float32)
    with torch.no_grad():  # start from the class priors: every loss begins at "predict the base rate"
        last = [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.bias.copy_(torch.from_numpy(np.log(prior / (1 - prior))))
    lr = config.learning_rate or (2e-3 if config.model == "cnn" else 1e-3)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    train_y = labels[split.train].astype(np.float32)
    pos_weight = None
    if config.pos_weight:
        pos = train_y.mean(0).clip(1e-3, 1 - 1e-3)
        pos_weight = torch.from_numpy(((1 - pos) / pos).clip(0.1, 50).astype(np.float32))
    loss_fn = make_loss(config.loss, pos_weight)
    eval_loss = make_loss(config.loss, pos_weight)
    n_batches = math.ceil(len(split.train) / config.batch_size)
    total = n_batches * config.epochs
    best = (-float("inf"), None, 0)  # (validation score, weights, epoch)
    started, done, since_best, epoch = time.perf_counter(), 0, 0, 0
    for epoch in range(1, config.epochs + 1):
        net.train()
        order = rng.permutation(len(split.train))
        run_loss = run_correct = run_seen = 0.0
        for b in range(n_batches):
            idx = np.sort(order[b * config.batch_size : (b + 1) * config.batch_size])
            x = torch.from_numpy(np.array(inputs[split.train[idx]]))
            y = torch.from_numpy(train_y[idx])
            if config.model == "cnn":
                x = to_chw_float(x)
                if config.augment:
                    x = augment_batch(x, gen)
            else:
                x = x.float()
            budget = done / total
            if config.max_minutes:
                budget = max(budget, (time.perf_counter() - started) / (config.max_minutes * 60))
            for group in opt.param_groups:  # cosine decay over the training budget (epochs or minutes)
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * min(budget, 1.0)))
            logits = net(x)
            loss = loss_fn(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
            run_loss += float(loss.detach()) * len(idx)
            run_correct += float(((logits > 0).float() == y).float().mean(1).sum())
            run_seen += len(idx)
            loss = fmt.decimal(run_loss / run_seen, 4)
            message = f"epoch {epoch}/{config.epochs} · batch {b + 1}/{n_batches} · train loss {loss}"
            reporter.update(done, message, total=total)
            if b % max(1, n_batches // 4) == 0 and b:
                history.append(
                    {
                        "epoch": round(epoch - 1 + (b + 1) / n_batches, 3),
                        "split": "train (running)",
                        "loss": run_loss / run_seen,
                        "accuracy": run_correct / run_seen,
                    }
                )
                _write_history(history_path, history)
            if config.max_minutes and time.perf_counter() - started > config.max_minutes * 60:
                break
        val_loss, val_acc, val_auc = _evaluate(net, inputs, labels, split.val, eval_loss, config)
        history.append(
            {"epoch": epoch, "split": "train", "loss": run_loss / run_seen, "accuracy": run_correct / run_seen}
        )
        history.append({"epoch": epoch, "split": "validation", "loss": val_loss, "accuracy": val_acc, "auc": val_auc})
        _write_history(history_path, history)
        log.info(
            "epoch %d: train %.4f val %.4f acc %.4f (%d threads)",
            epoch,
            run_loss / run_seen,
            val_loss,
            val_acc,
            threads,
        )
        # The weights kept and the early stop follow the mean validation ROC AUC, not the loss: the loss is ruled by a
        # few confidently missed images (the one bald person of the demo's validation split, whom a model fitted to
        # four bald people misses) and bottoms out while the ranking the thresholds use still improves (issue 28).
        score = val_auc if not math.isnan(val_auc) else -val_loss
        if score > best[0] + 1e-4:
            best, since_best = (score, {k: v.clone() for k, v in net.state_dict().items()}, epoch), 0
        else:
            since_best += 1
        if since_best >= config.patience:
            reporter.update(
                done,
                f"early stop after epoch {epoch}: validation ROC AUC has not improved for {config.patience} epochs",
                force=True,
            )
            break
        if config.max_minutes and time.perf_counter() - started > config.max_minutes * 60:
            reporter.update(done, f"time limit of {config.max_minutes:g} min reached after epoch {epoch}", force=True)
            break
    if best[1] is not None:
        net.load_state_dict(best[1])
    net.eval()
    return net, epoch


def _evaluate(net, inputs, labels, rows, loss_fn, config) -> tuple[float, float, float]:
    """Loss, mean per-attribute accuracy (threshold 0.5) and mean ROC AUC over the attributes both answers of which
    the rows hold; NaN when there is none."""
    import torch

    if len(rows) == 0:
        return float("nan"), float("nan"), float("nan")
    rows = np.sort(rows)
    probs = predict_torch(net, _take(inputs, rows))
    y = labels[rows].astype(np.float32)
    p = torch.from_numpy(probs).clamp(1e-6, 1 - 1e-6)
    with torch.no_grad():
        loss = float(loss_fn(torch.log(p / (1 - p)), torch.from_numpy(y)))
    aucs = [roc_auc(y[:, j], probs[:, j]) for j in range(y.shape[1])]
    auc = float(np.nanmean(aucs)) if not np.isnan(aucs).all() else float("nan")
    return loss, float(((probs >= 0.5) == (y > 0.5)).mean()), auc


def _write_history(path: Path | None, history: list[dict]) -> None:
    if path is not None:
        write_json(path, history)
