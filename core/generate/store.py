"""Face generators on disk: cache/generators/<generator id>/.

The id is derived from what the generator learns from (the dataset's image files, and its labels when it is
conditioned on attributes: core.data.ingest content keys) and its GanConfig, so a job that stopped finds its
folder again and resumes, and a touched or copied dataset keeps its generators. Epochs are not in the id: training
further continues the same generator. Files, rewritten at the end of every epoch in this order:

  rows.npy        (n,) int64 table rows of the training faces (written once)
  grids.npy       (epochs + 1, 64, S, S, 3) uint8: the fixed-noise faces before training and after each epoch
  steps.npy       (steps, 5) float32 per step: epoch (fractional), loss_d, loss_g, D(real), D(fake)
  checkpoint.pt   both networks and both optimisers, and the epoch they reached (for a resume)
  generator.pt    the generator's state dict alone (what pages load)
  meta.json       last: GeneratorMeta, with each file's size and checksum (checked before use)

and, once measured, audit.npz and audit.json (core.generate.audit). Weights are read only with
torch.load(weights_only=True); arrays with allow_pickle=False. Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from core.classify.store import load_state_dict
from core.data.artifacts import (
    META_FILE,
    artefact_folder,
    damaged,
    quarantine,
    read_meta_json,
    records,
    stored_metas,
)
from core.data.atomic import replaced_atomically, save_npy, write_json
from core.data.dataset import Dataset
from core.data.paths import cache_root
from core.errors import ModelFileError
from core.generate.models import GanConfig, Generator

# Lazy imports: torch is imported inside the functions that use them.

STEP_COLUMNS = ("epoch", "loss_d", "loss_g", "d_real", "d_fake")
TRAINING_FILES = ("rows.npy", "grids.npy", "steps.npy", "checkpoint.pt", "generator.pt")
CHECKPOINT_PARTS = ("generator", "discriminator", "opt_generator", "opt_discriminator")


def generators_root() -> Path:
    root = cache_root() / "generators"
    root.mkdir(parents=True, exist_ok=True)
    return root


@dataclass(frozen=True)
class EpochSummary:
    """Means over one epoch's steps, and how long it took."""

    epoch: int
    loss_d: float
    loss_g: float
    d_real: float
    d_fake: float
    seconds: float


@dataclass(frozen=True)
class GeneratorMeta:
    """What a stored generator is and how far it trained: its meta.json, read and written only here."""

    generator_id: str
    dataset_key: str = ""
    dataset_name: str = ""
    images_key: str = ""
    labels_key: str = ""  # conditional generators only
    config: GanConfig = field(default_factory=GanConfig)
    epochs_done: int = 0
    steps_per_epoch: int = 0
    faces: int = 0  # training faces
    seconds: float = 0.0  # training time over every run that trained it
    device: str = "cpu"
    created: str = ""
    updated: str = ""
    epochs: tuple[EpochSummary, ...] = ()
    files: dict = field(default_factory=dict)  # {file name: {"size", "blake2b"}} as written

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict) -> GeneratorMeta:
        """Read a meta.json dict (ModelFileError when it is not one)."""
        try:
            known = {f.name for f in fields(cls)}
            values = {k: v for k, v in raw.items() if k in known}
            config = dict(values.pop("config", {}))
            config["attributes"] = tuple(config.get("attributes", ()))
            values["epochs"] = tuple(EpochSummary(**e) for e in values.get("epochs", ()))
            return cls(config=GanConfig(**config), **values)
        except (TypeError, AttributeError, ValueError) as exc:
            raise ModelFileError(
                f"meta.json of {raw.get('generator_id', '?')} is not a generator description ({exc})."
            ) from None

    @property
    def last_epoch(self) -> EpochSummary | None:
        return self.epochs[-1] if self.epochs else None


def generator_id(ds: Dataset, config: GanConfig) -> str:
    """The folder name of the generator `config` trains on this dataset's faces (same inputs, same id)."""
    keys = [ds.images_key or ds.key, ds.labels_key if config.conditional else ""]
    digest = hashlib.blake2b(json.dumps([keys, asdict(config)]).encode(), digest_size=6).hexdigest()
    return f"gan-{config.image_size}px-{digest}"


def generator_folder(generator_id: str) -> Path:
    return artefact_folder(generators_root(), generator_id, "generator")


def read_meta(generator_id: str) -> GeneratorMeta | None:
    """The generator's meta, or None when it never finished an epoch; ModelFileError when meta.json is garbled."""
    folder = generator_folder(generator_id)
    if not (folder / META_FILE).is_file():
        return None
    return GeneratorMeta.from_json(read_meta_json(folder, "generator"))


def write_meta(meta: GeneratorMeta) -> GeneratorMeta:
    """Record the training files as they are now and write meta.json (last, atomically); returns what was written."""
    folder = generator_folder(meta.generator_id)
    meta = replace(meta, files=records(folder, list(TRAINING_FILES)))
    write_json(folder / "meta.json", meta.to_json())
    return meta


def list_generators(ds: Dataset) -> list[GeneratorMeta]:
    """The dataset's generators that finished at least one epoch (same image files; conditional ones also the same
    labels), most recently trained first."""

    def of_dataset(meta: GeneratorMeta) -> bool:
        same_images = meta.images_key == (ds.images_key or ds.key) or meta.dataset_key == ds.key
        same_labels = not meta.config.conditional or meta.labels_key == ds.labels_key
        return meta.epochs_done >= 1 and same_images and same_labels

    return stored_metas(generators_root(), read_meta, of_dataset, newest=lambda m: m.updated)


def verified(meta: GeneratorMeta) -> GeneratorMeta:
    """The meta once its files are checked against their records; a damaged generator is set aside."""
    folder = generator_folder(meta.generator_id)
    bad = damaged(folder, meta.files)
    if bad:
        why = f"{', '.join(bad)} changed since it was written"
        quarantine(folder, f"generator {meta.generator_id}", why, dataset=meta.dataset_key)
        raise ModelFileError(
            f"The stored generator {meta.generator_id} was damaged ({why}); it was set aside: train it again."
        )
    return meta


def save_torch(path: Path, obj: dict) -> None:
    """torch.save to a temp file beside `path`, then rename (a reader never sees half a checkpoint)."""
    import torch

    with replaced_atomically(path) as tmp:
        torch.save(obj, tmp)


def load_checkpoint(generator_id: str) -> dict | None:
    """The last epoch's checkpoint ({generator, discriminator, opt_generator, opt_discriminator, epoch}) read with
    weights_only=True, or None when there is none; ModelFileError when the file is not one."""
    import torch

    path = generator_folder(generator_id) / "checkpoint.pt"
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, TypeError, OSError) as exc:
        raise ModelFileError(
            f"The checkpoint of {generator_id} is not a valid checkpoint; it was refused without running anything. "
            f"Delete that generator's folder and train it again. ({type(exc).__name__})"
        ) from None
    if not isinstance(state, dict) or any(k not in state for k in (*CHECKPOINT_PARTS, "epoch")):
        raise ModelFileError(f"The checkpoint of {generator_id} lacks part of a training state; train it again.")
    return state


def load_generator(meta: GeneratorMeta):
    """The stored generator, in evaluation mode on the CPU (ModelFileError when its files are damaged)."""
    verified(meta)
    state = load_state_dict(generator_folder(meta.generator_id) / "generator.pt")
    net = Generator(meta.config)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelFileError(
            f"generator.pt of {meta.generator_id} does not match its architecture; train it again. ({exc})"
        ) from None
    return net.eval()


def _load_array(meta: GeneratorMeta, name: str) -> np.ndarray:
    try:
        return np.load(generator_folder(meta.generator_id) / name, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{name} of {meta.generator_id} cannot be read ({exc}); train it again.") from None


def load_grids(meta: GeneratorMeta) -> np.ndarray:
    """(epochs_done + 1, 64, S, S, 3) uint8: the fixed-noise faces before training and after each epoch."""
    return _load_array(meta, "grids.npy")[: meta.epochs_done + 1]


def load_steps(meta: GeneratorMeta) -> np.ndarray:
    """(steps, 5) float32 per training step (STEP_COLUMNS), of the epochs the meta counts."""
    steps = _load_array(meta, "steps.npy")
    return steps[steps[:, 0] <= meta.epochs_done + 1e-6] if len(steps) else steps


def live_steps(generator_id: str) -> np.ndarray | None:
    """The per-step record as a running job last wrote it (None before its first write); for live curves."""
    try:
        return np.load(generator_folder(generator_id) / "steps.npy", allow_pickle=False)
    except (OSError, ValueError):
        return None


def load_rows(meta: GeneratorMeta) -> np.ndarray:
    """(faces,) int64 table rows the generator trained on."""
    return _load_array(meta, "rows.npy")


def save_rows(generator_id: str, rows: np.ndarray) -> None:
    save_npy(generator_folder(generator_id) / "rows.npy", np.asarray(rows, np.int64))


def shown_path(path: Path) -> str:
    """A stored file's path as a person running the server reads it: from the cache folder's parent when it can."""
    root = cache_root().resolve()
    try:
        return str(Path(root.name) / path.resolve().relative_to(root))
    except ValueError:
        return str(path)
