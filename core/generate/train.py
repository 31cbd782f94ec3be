"""Training a generator: the DCGAN loop, a checkpoint per epoch, and a resume that continues where it stopped.

Front door: `train_generator(ds, GanConfig(...), epochs, reporter)`. Every epoch shuffles with its own seed and
draws its noise from its own seeded generator, so a run that was killed and resumed from its last checkpoint
takes the same steps as one that never stopped. Each step records both losses and the discriminator's mean
belief that real faces are real (D(real)) and that generated ones are (D(fake)); after each epoch the same 64
noise vectors are drawn again, so a class can watch faces emerge from them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np

from core.classify.train import set_torch_threads
from core.data.artifacts import quarantine
from core.data.atomic import save_npy
from core.data.dataset import Dataset
from core.errors import ModelFileError
from core.generate import store
from core.generate.faces import face_pixels, faces_at, training_rows
from core.generate.models import GanConfig, build_pair, pick_device, validate_config
from core.generate.sample import GRID_FACES, draw_conditions, generate, noise
from core.generate.store import EpochSummary, GeneratorMeta
from core.jobs import ProgressReporter

# Lazy imports: torch is imported inside the functions that use it.

log = logging.getLogger(__name__)

LIVE_WRITE_S = 3.0  # how often a running job rewrites the per-step record the page draws
FIXED_NOISE_OFFSET = 7919  # the grid's noise seed is the config's seed plus this (any fixed number)


@dataclass(frozen=True)
class TrainingRun:
    """What one call trained: the stored generator now, the epoch it started from, and its wall time."""

    meta: GeneratorMeta
    resumed_from: int  # epochs already stored when it started (0: a fresh generator)
    seconds: float


def fixed_noise_seed(config: GanConfig) -> int:
    return config.seed + FIXED_NOISE_OFFSET


def condition_columns(ds: Dataset, config: GanConfig) -> list[int]:
    return [ds.attributes.index(a) for a in config.attributes]


def to_images(faces: np.ndarray):
    """(B, S, S, 3) uint8 -> (B, 3, S, S) float torch tensor in [-1, 1] (the generator's tanh range)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(faces)).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def train_generator(
    ds: Dataset,
    config: GanConfig,
    epochs: int,
    reporter: ProgressReporter | None = None,
    device: str = "auto",
) -> TrainingRun:
    """Train (or resume) the generator `config` names on the dataset's faces until it has `epochs` epochs."""
    import torch

    t0 = time.perf_counter()
    config = validate_config(config, ds.attributes)
    if epochs < 1:
        raise ValueError("Epochs must be at least 1.")
    reporter = reporter or ProgressReporter(None)
    device = pick_device(device)
    threads = set_torch_threads()
    gid = store.generator_id(ds, config)
    folder = store.generator_folder(gid)
    folder.mkdir(parents=True, exist_ok=True)

    def decoding(done: int, total: int) -> None:
        reporter.update(0, f"preparing the faces once (64 px): {done:,} / {total:,} images")

    pixels, ok = face_pixels(ds, decoding)
    rows = training_rows(ok, config.max_images, config.seed)
    if len(rows) < config.batch_size:
        raise ValueError(
            f"{ds.name} has {len(rows):,} usable faces; a generator needs at least one batch of "
            f"{config.batch_size} (use smaller batches, --batch-size, or a larger dataset)."
        )
    labels = ds.attribute_matrix(rows)[:, condition_columns(ds, config)]
    n_batches = len(rows) // config.batch_size  # the last, incomplete batch is left out (batch norm needs a batch)
    generator, discriminator = build_pair(config, config.seed)
    generator.to(device)
    discriminator.to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.learning_rate, betas=(config.beta1, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.learning_rate, betas=(config.beta1, 0.999))
    fixed_z = noise(fixed_noise_seed(config), GRID_FACES, config.latent_dim)
    fixed_c = draw_conditions(labels, GRID_FACES, fixed_noise_seed(config))

    meta, grids, steps, start = _resume(gid, generator, discriminator, opt_g, opt_d)
    if meta is None:
        store.save_rows(gid, rows)
        now = _now()
        meta = GeneratorMeta(
            generator_id=gid,
            dataset_key=ds.key,
            dataset_name=ds.name,
            images_key=ds.images_key or ds.key,
            labels_key=ds.labels_key if config.conditional else "",
            config=config,
            steps_per_epoch=n_batches,
            faces=len(rows),
            created=now,
        )
        grids = generate(generator, fixed_z, fixed_c)[None]  # epoch 0: what noise makes of untrained weights
    if start >= epochs:
        return TrainingRun(meta, start, time.perf_counter() - t0)
    bce = torch.nn.BCEWithLogitsLoss()
    total = epochs * n_batches
    trained_before = meta.seconds
    last_write = time.monotonic()
    log.info("training %s from epoch %d to %d on %s (%d threads)", gid, start, epochs, device, threads)
    for epoch in range(start + 1, epochs + 1):
        epoch_t0 = time.perf_counter()
        generator.train()
        discriminator.train()
        order = np.random.default_rng([config.seed, epoch]).permutation(len(rows))
        draws = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        for b in range(n_batches):
            idx = np.sort(order[b * config.batch_size : (b + 1) * config.batch_size])
            real = to_images(faces_at(pixels[rows[idx]], config.image_size)).to(device)
            cond = torch.from_numpy(labels[idx].astype(np.float32)).to(device) if config.conditional else None
            z = torch.randn(len(idx), config.latent_dim, generator=draws).to(device)
            ones = torch.ones(len(idx), device=device)
            zeros = torch.zeros(len(idx), device=device)
            # The discriminator: real faces are real, generated ones are not.
            fake = generator(z, cond)
            real_logits = discriminator(real, cond)
            fake_logits = discriminator(fake.detach(), cond)
            loss_d = bce(real_logits, ones) + bce(fake_logits, zeros)
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            # The generator: make the (updated) discriminator call its faces real.
            loss_g = bce(discriminator(fake, cond), ones)
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            steps.append(
                (
                    epoch - 1 + (b + 1) / n_batches,
                    float(loss_d.detach()),
                    float(loss_g.detach()),
                    float(torch.sigmoid(real_logits.detach()).mean()),
                    float(torch.sigmoid(fake_logits.detach()).mean()),
                )
            )
            done = (epoch - 1) * n_batches + b + 1
            reporter.update(
                done,
                f"epoch {epoch}/{epochs} · step {b + 1}/{n_batches} · D loss {steps[-1][1]:.3f} · "
                f"G loss {steps[-1][2]:.3f}",
                total=total,
            )
            if time.monotonic() - last_write > LIVE_WRITE_S:
                save_npy(folder / "steps.npy", np.asarray(steps, np.float32))
                last_write = time.monotonic()
        grids = np.concatenate([grids, generate(generator, fixed_z, fixed_c)[None]])
        seconds = {e.epoch: e.seconds for e in meta.epochs} | {epoch: round(time.perf_counter() - epoch_t0, 2)}
        meta = replace(
            meta,
            epochs_done=epoch,
            epochs=epoch_summaries(np.asarray(steps, np.float64), epoch, seconds),
            seconds=round(trained_before + time.perf_counter() - t0, 2),
            device=device,
            updated=_now(),
        )
        meta = _save_epoch(meta, grids, steps, generator, discriminator, opt_g, opt_d)
        log.info("epoch %d: %s", epoch, meta.epochs[-1])
    return TrainingRun(meta, start, time.perf_counter() - t0)


def epoch_summaries(steps: np.ndarray, epochs: int, seconds: dict[int, float]) -> tuple[EpochSummary, ...]:
    """Per epoch 1..epochs, the means of its steps' (steps, 5) records (STEP_COLUMNS) and its recorded seconds."""
    out = []
    for epoch in range(1, epochs + 1):
        mine = steps[(steps[:, 0] > epoch - 1 + 1e-9) & (steps[:, 0] <= epoch + 1e-6)]
        mean = mine.mean(axis=0) if len(mine) else np.full(5, np.nan)
        out.append(EpochSummary(epoch, *map(float, mean[1:]), seconds=float(seconds.get(epoch, 0.0))))
    return tuple(out)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _cpu_state(module) -> dict:
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def _save_epoch(meta: GeneratorMeta, grids, steps, generator, discriminator, opt_g, opt_d) -> GeneratorMeta:
    """Write the epoch's files (each atomically), meta.json last: a reader or a resume never sees a half epoch."""
    folder = store.generator_folder(meta.generator_id)
    save_npy(folder / "grids.npy", grids)
    save_npy(folder / "steps.npy", np.asarray(steps, np.float32))
    checkpoint = {
        "generator": _cpu_state(generator),
        "discriminator": _cpu_state(discriminator),
        "opt_generator": opt_g.state_dict(),
        "opt_discriminator": opt_d.state_dict(),
        "epoch": meta.epochs_done,
    }
    store.save_torch(folder / "checkpoint.pt", checkpoint)
    store.save_torch(folder / "generator.pt", checkpoint["generator"])
    return store.write_meta(meta)


def _resume(gid: str, generator, discriminator, opt_g, opt_d):
    """(meta, grids, steps as a list, epoch) from the last checkpoint; (None, None, [], 0) for a fresh start.

    The checkpoint's epoch is the truth: a job killed after writing it but before meta.json resumes from it, and
    steps recorded after it (the epoch the kill interrupted) are dropped.
    """
    folder = store.generator_folder(gid)
    try:
        checkpoint = store.load_checkpoint(gid)
        meta = store.read_meta(gid)
    except ModelFileError as exc:  # set aside (never read again) and start afresh
        quarantine(folder, f"generator {gid}", str(exc))
        folder.mkdir(parents=True, exist_ok=True)
        return None, None, [], 0
    if checkpoint is None or meta is None:
        return None, None, [], 0
    epoch = int(checkpoint["epoch"])
    generator.load_state_dict(checkpoint["generator"])
    discriminator.load_state_dict(checkpoint["discriminator"])
    opt_g.load_state_dict(checkpoint["opt_generator"])
    opt_d.load_state_dict(checkpoint["opt_discriminator"])
    grids = np.load(folder / "grids.npy", allow_pickle=False)[: epoch + 1]
    steps = np.load(folder / "steps.npy", allow_pickle=False)
    kept = [tuple(map(float, s)) for s in steps if s[0] <= epoch + 1e-6]
    meta = replace(meta, epochs_done=epoch, epochs=tuple(e for e in meta.epochs if e.epoch <= epoch))
    log.info("resuming %s from epoch %d", gid, epoch)
    return meta, grids, kept, epoch


# Measured on this project's 2-core machine, busy (docs/bench/generate.md): one face through one training step at
# 64 px and width 32, on one thread (a median epoch of the 6,000-face demo: 107 s at load 9-11). The arithmetic
# grows with the pixels and with the square of the width.
SECONDS_PER_FACE_STEP = 0.018
START_SECONDS = 15.0  # the job's process, torch, the dataset and the faces already decoded
DESCRIBE_SECONDS = 0.06  # one face through the face pipeline in the audit (embeddings only): 2,000 faces in 109 s


def estimated_seconds(faces: int, config: GanConfig, epochs: int, samples: int, embeddings: bool) -> float:
    """Expected wall time of a job training `epochs` fresh epochs on `faces` faces and auditing `samples` faces."""
    scale = (config.image_size / 64) ** 2 * (config.width / 32) ** 2
    training = faces * epochs * SECONDS_PER_FACE_STEP * scale
    audit = 2 * samples * DESCRIBE_SECONDS if embeddings else 5.0
    return START_SECONDS + training + audit
