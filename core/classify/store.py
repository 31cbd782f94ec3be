"""Trained attribute models on disk: cache/models/<model_id>/.

meta.json (dataset key, attributes, features, model, hyper-parameters, metrics, date; written
last, so a folder without it is incomplete), weights.pt (a torch state dict, read only with
torch.load(weights_only=True)) or weights.npz (logistic regression arrays, allow_pickle=False),
and test_predictions.npz (rows, labels, probabilities on the test split). Nothing is pickled.
"""

from __future__ import annotations

import json
import pickle
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from core import format as fmt
from core.classify.metrics import THRESHOLD_DECIMALS
from core.classify.models import LogisticModel, TrainConfig, build_net, to_chw_float
from core.data.artifacts import artefact_folder, damaged, quarantine, read_meta_json, records, stored_metas
from core.data.atomic import save_npy, write_json
from core.data.paths import cache_root
from core.errors import ModelFileError
from core.stats.intervals import MIN_MODEL_IMAGES, MIN_MODEL_POSITIVES

# Lazy imports: torch are imported inside the functions that use them, so pages and commands that never call them do
# not pay their import time and memory on a shared server.


def models_root() -> Path:
    root = cache_root() / "models"
    root.mkdir(parents=True, exist_ok=True)
    return root


@dataclass(frozen=True)
class ClassifierMeta:
    """What a stored attribute classifier is and how well it did: its meta.json, read and written only here."""

    model_id: str
    dataset_key: str = ""
    dataset_name: str = ""
    attributes: tuple[str, ...] = ()
    features: str = "embeddings"  # embeddings | pixels
    model: str = "logreg"  # logreg | mlp | cnn
    config: TrainConfig = TrainConfig()  # the hyper-parameters it was trained with
    metrics: dict = field(default_factory=dict)  # {attribute: {metric: value}} on the test split
    mean: dict = field(default_factory=dict)  # {metric: mean over attributes}
    thresholds: dict = field(default_factory=dict)  # {attribute: decision threshold the metrics use}
    split_note: str = ""
    rows: dict = field(default_factory=dict)  # {"train": n, "val": n, "test": n}
    positives: dict = field(default_factory=dict)  # {"train": {attribute: n}, "test": {attribute: n}}
    epochs_run: int = 0
    history: tuple = ()  # ({"epoch", "split", "loss", "accuracy"}, ...)
    seconds: float = 0.0
    created: str = ""  # ISO time; with model_id it names one version of the model
    embedding_model: str | None = None  # embedding models: which embeddings they read
    in_dim: int = 128
    image_size: int = 64  # pixel models: input side in pixels
    # What it depends on (core.data.ingest content keys): the model follows its dataset through harmless changes.
    labels_key: str = ""
    split_key: str = ""
    images_key: str = ""
    files: dict = field(default_factory=dict)  # {file name: {"size", "blake2b"}} as written, checked before use

    def threshold(self, attribute: str) -> float:
        """The attribute's decision threshold, to THRESHOLD_DECIMALS as every reader uses it (table, slider, answers)."""
        return round(float(self.thresholds.get(attribute, 0.5)), THRESHOLD_DECIMALS)

    def to_json(self) -> dict:
        out = asdict(self)
        out["hyper_parameters"] = out.pop("config")
        return out

    @classmethod
    def from_json(cls, raw: dict) -> ClassifierMeta:
        """Read a meta.json dict (ModelFileError when it is not one)."""
        try:
            known = {f.name for f in fields(cls)} - {"config"}
            values = {k: v for k, v in raw.items() if k in known}
            config_fields = {f.name for f in fields(TrainConfig)}
            hp = {k: v for k, v in raw.get("hyper_parameters", {}).items() if k in config_fields}
            hp["attributes"] = tuple(hp.get("attributes", ()))
            values["attributes"] = tuple(values.get("attributes", ()))
            values["history"] = tuple(values.get("history", ()))
            return cls(config=TrainConfig(**hp), **values)
        except (TypeError, AttributeError) as exc:
            raise ModelFileError(
                f"meta.json of {raw.get('model_id', '?')} is not a model description ({exc})."
            ) from None


def caution(meta: ClassifierMeta, attribute: str) -> str | None:
    """Why this attribute's scores rest on too few images to mean anything, or None."""
    reasons = []
    for part, label in (("train", "training"), ("test", "test")):
        total = int(meta.rows.get(part, 0))
        positives = meta.positives.get(part, {}).get(attribute)
        if positives is None and part == "test":  # models stored before positives were recorded
            rate = meta.metrics.get(attribute, {}).get("positive_rate")
            positives = round(rate * total) if rate is not None and not np.isnan(rate) else None
        if total < MIN_MODEL_IMAGES:
            reasons.append(f"{fmt.count(total)} {label} images")
        elif positives is not None and min(positives, total - positives) < MIN_MODEL_POSITIVES:
            reasons.append(f"{fmt.count(positives)} of {fmt.count(total)} {label} images labelled yes")
    return "; ".join(reasons) or None


def new_model_id(model: str, features: str) -> str:
    return f"{model}-{features}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def save_model(meta: ClassifierMeta, fitted, predictions: dict[str, np.ndarray]) -> Path:
    """Write weights, test predictions and meta.json into a temp folder, then rename it into place."""
    final = models_root() / meta.model_id
    tmp = models_root() / f".{meta.model_id}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if isinstance(fitted, LogisticModel):
        np.savez(tmp / "weights.npz", **fitted.arrays())
    else:
        import torch

        torch.save({k: v.detach().cpu() for k, v in fitted.state_dict().items()}, tmp / "weights.pt")
    np.savez(tmp / "test_predictions.npz", **predictions)
    meta = replace(meta, files=records(tmp, ["weights.npz", "weights.pt", "test_predictions.npz"]))
    write_json(tmp / "meta.json", meta.to_json())
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def list_models(dataset_key: str | None = None, labels_key: str = "") -> list[ClassifierMeta]:
    """Every complete stored model (of one dataset when given: its key, or the same labels), newest first.

    Matching on the labels keeps a model listed after harmless changes to its dataset (a touched image folder,
    a copy, an edited partition file) that give the dataset a new key.
    """

    def of_dataset(meta: ClassifierMeta) -> bool:
        return (
            dataset_key is None or meta.dataset_key == dataset_key or bool(labels_key and meta.labels_key == labels_key)
        )

    return stored_metas(models_root(), read_meta, of_dataset, newest=lambda m: m.created)


def read_meta(model_id: str) -> ClassifierMeta:
    return ClassifierMeta.from_json(read_meta_json(_folder(model_id), "model"))


def _folder(model_id: str) -> Path:
    return artefact_folder(models_root(), model_id, "model")


def load_state_dict(path: Path) -> dict:
    """A torch state dict read with weights_only=True; anything else raises ModelFileError (no code runs)."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, TypeError, OSError) as exc:
        raise ModelFileError(
            f"{path.name} in {path.parent.name} is not a valid weights file (a PyTorch state dict was expected); it "
            f"was refused without running anything. Delete that model folder and train it again. ({type(exc).__name__})"
        ) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ModelFileError(
            f"{path.name} in {path.parent.name} does not hold a state dict of tensors; train the model again."
        )
    return state


@dataclass(frozen=True)
class Predictions:
    """A classifier's attribute probabilities for every row of a dataset: the Clustering page's predicted space."""

    probabilities: np.ndarray  # (N, A) float32 aligned to Dataset.table; NaN where the model had no input
    attributes: tuple[str, ...]
    model_id: str


PREDICTIONS_FILE = "predictions.npy"


def save_predictions(meta: ClassifierMeta, probabilities: np.ndarray) -> Path:
    """Store a model's (N, A) probabilities for every row of its dataset in the model's folder (recorded)."""
    folder = _folder(meta.model_id)
    save_npy(folder / PREDICTIONS_FILE, np.asarray(probabilities, np.float32))
    write_json(folder / "meta.json", replace(meta, files=meta.files | records(folder, [PREDICTIONS_FILE])).to_json())
    return folder / PREDICTIONS_FILE


def load_predictions(cache_dir: Path, model_id: str | None = None) -> Predictions | None:
    """The stored predictions of `model_id`, else of the newest model of the dataset ingested into `cache_dir`
    that made some; None when there are none (a damaged file is set aside)."""
    try:
        ingest_meta = json.loads((cache_dir / "meta.json").read_text())
    except (OSError, ValueError):
        ingest_meta = {}
    rows = ingest_meta.get("rows")
    for meta in list_models(cache_dir.name, ingest_meta.get("labels_key", "")):
        if (model_id and meta.model_id != model_id) or PREDICTIONS_FILE not in meta.files:
            continue
        try:
            probs = np.load(_folder(meta.model_id) / PREDICTIONS_FILE, allow_pickle=False)
            if damaged(_folder(meta.model_id), {PREDICTIONS_FILE: meta.files[PREDICTIONS_FILE]}):
                raise ValueError("changed since it was written")
            if probs.ndim != 2 or probs.shape[1] != len(meta.attributes) or (rows and len(probs) != rows):
                raise ValueError(f"shape {probs.shape} does not match the dataset")
        except (OSError, ValueError) as exc:
            _set_aside_file(meta, PREDICTIONS_FILE, f"predictions of {meta.model_id}", str(exc), cache_dir.name)
            continue
        return Predictions(probs, tuple(meta.attributes), meta.model_id)
    return None


@dataclass
class StoredModel:
    """A loaded model: meta plus a predict function over its input kind."""

    meta: ClassifierMeta
    fitted: object  # LogisticModel or torch.nn.Module (eval mode)

    @property
    def attributes(self) -> list[str]:
        return list(self.meta.attributes)

    @property
    def features(self) -> str:
        return self.meta.features

    def predict(self, inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(N, A) float32 probabilities; inputs (N, D) embeddings or (N, S, S, 3) uint8 pixels."""
        if isinstance(self.fitted, LogisticModel):
            return self.fitted.predict_proba(inputs)
        return predict_torch(self.fitted, inputs, batch_size)


def predict_torch(net, inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Sigmoid outputs of a torch model over inputs in batches, (N, A) float32."""
    import torch

    net.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            chunk = torch.from_numpy(np.array(inputs[start : start + batch_size]))
            x = to_chw_float(chunk) if chunk.dim() == 4 else chunk.float()
            out.append(torch.sigmoid(net(x)).numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, getattr(net, "n_out", 0)), np.float32)


WEIGHTS_FILES = ("weights.npz", "weights.pt")  # the model itself: damaged, the whole model is set aside
TEST_PREDICTIONS_FILE = "test_predictions.npz"


def verified_meta(model_id: str) -> ClassifierMeta:
    """The model's meta once its weights are checked against their records; a model with damaged weights is set
    aside (its other files are checked by their own readers: a damaged one of them sets aside only itself)."""
    meta = read_meta(model_id)
    bad = damaged(_folder(model_id), {k: r for k, r in meta.files.items() if k in WEIGHTS_FILES})
    if bad:
        why = f"{', '.join(bad)} changed since it was written"
        quarantine(_folder(model_id), f"model {model_id}", why, dataset=meta.dataset_key)
        raise ModelFileError(f"The stored model {model_id} was damaged ({why}) and was set aside: train it again.")
    return meta


def _set_aside_file(meta: ClassifierMeta, name: str, what: str, why: str, dataset: str = "") -> None:
    """Set aside one damaged file of a model and drop its record; the model and its other files stay as they are."""
    folder = _folder(meta.model_id)
    quarantine(folder / name, what, why, dataset=dataset or meta.dataset_key)
    kept = {k: r for k, r in meta.files.items() if k != name}
    write_json(folder / "meta.json", replace(read_meta(meta.model_id), files=kept).to_json())


def load_classifier(model_id: str) -> StoredModel:
    """The stored model ready to predict; ModelFileError when its files are missing or not weights."""
    folder = _folder(model_id)
    meta = verified_meta(model_id)
    if meta.model == "logreg":
        try:
            with np.load(folder / "weights.npz", allow_pickle=False) as z:
                fitted = LogisticModel.from_arrays({k: z[k] for k in z.files})
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFileError(
                f"weights.npz of {model_id} is not a valid array file ({exc}); train it again."
            ) from None
        return StoredModel(meta, fitted)
    state = load_state_dict(folder / "weights.pt")
    net = build_net(meta.model, len(meta.attributes), meta.in_dim, meta.image_size)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelFileError(
            f"weights.pt of {model_id} does not match its architecture; train it again. ({exc})"
        ) from None
    net.eval()
    return StoredModel(meta, net)


def load_test_predictions(model_id: str) -> dict[str, np.ndarray]:
    """{'rows': (n,) int64 table rows, 'labels': (n, A) uint8, 'probs': (n, A) float32} on the test split.

    ModelFileError when they are missing or damaged; a damaged file is set aside alone (the weights still predict).
    """
    meta = read_meta(model_id)
    gone = (
        f"The test-split predictions of model {model_id} were damaged and set aside; its weights are intact, so it "
        "still predicts. Train it again to see its test figures."
    )
    if meta.files and TEST_PREDICTIONS_FILE not in meta.files:  # recorded files, but not this one: set aside
        raise ModelFileError(gone)
    record = {TEST_PREDICTIONS_FILE: meta.files[TEST_PREDICTIONS_FILE]} if meta.files else {}
    try:
        if damaged(_folder(model_id), record):
            raise ValueError("changed since it was written")
        with np.load(_folder(model_id) / TEST_PREDICTIONS_FILE, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError) as exc:
        what = f"test-split predictions of model {model_id}"
        _set_aside_file(meta, TEST_PREDICTIONS_FILE, what, str(exc) if isinstance(exc, ValueError) else "unreadable")
        raise ModelFileError(gone) from None
