"""Sections of the Generated faces page (layout only; the work is in core.generate)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import cached
from core import format as fmt
from core.charts import generate as charts
from core.cli.generate import generate_job_spec
from core.cli.train import train_job_spec
from core.data.dataset import Dataset
from core.errors import ModelFileError
from core.generate import report
from core.generate.audit import AUDIT_SAMPLES, GeneratorAudit, audit_token, classifier_config, feature_space
from core.generate.faces import NO_IMAGES, needs_alignment
from core.generate.models import DEFAULT_EPOCHS, IMAGE_SIZES, MAX_CONDITIONS, GanConfig
from core.generate.sample import (
    GRID_FACES,
    STRIP,
    asked_conditions,
    enlarge,
    interpolation_strip,
    seed_faces,
    switch_attribute,
    tile,
)
from core.generate.store import GeneratorMeta, generator_id, live_steps, read_meta
from core.generate.train import estimated_seconds
from core.jobs import job_status
from ui import links, state
from ui.jobs import job_launcher

MAX_EPOCHS = 50
SHOWN_WIDTH = 520  # pixels a grid of 8 faces is enlarged to (whole multiples: no blur)
CLOSEST_PAIRS = 8
CLASSIFIER_SECONDS = 240  # the offered CNN on the 6,000-face demo (docs/bench/classify.md order of magnitude)


def unavailable(ds: Dataset) -> str | None:
    """Why no generator can be trained on this dataset, or None."""
    if not ds.has_images:
        return NO_IMAGES.format(name=ds.name)
    least = GanConfig().batch_size
    if ds.images_found < least:
        return (
            f"{ds.name} has {fmt.plural(ds.images_found, 'image')}: a generator learns from batches of {least} faces, "
            "so it needs at least that many. Pick a larger dataset (the demo has 6,000)."
        )
    return None


def picture(faces: np.ndarray, columns: int = 8) -> np.ndarray:
    """A grid of faces, enlarged by a whole factor so that small faces stay sharp."""
    sheet = tile(faces, columns)
    return enlarge(sheet, max(1, SHOWN_WIDTH // sheet.shape[1]))


# ---- training


def train_form(ds: Dataset) -> tuple[GanConfig, int]:
    """(what to train, to how many epochs) as chosen in the form."""
    c1, c2, c3 = st.columns(3)
    with c1:
        image_size = links.synced(
            "px",
            state.GEN_IMAGE_SIZE,
            64,
            lambda: st.select_slider(
                "Image size (px)",
                IMAGE_SIZES,
                value=64,
                key=state.GEN_IMAGE_SIZE,
                help="64 px is the recipe's size; 16 or 32 px train many times faster (for a class short of time).",
            ),
            int,
            links.one_of(IMAGE_SIZES),
        )
    with c2:
        epochs = links.synced(
            "epochs",
            state.GEN_EPOCHS,
            DEFAULT_EPOCHS,
            lambda: int(
                st.number_input(
                    "Epochs",
                    1,
                    MAX_EPOCHS,
                    DEFAULT_EPOCHS,
                    key=state.GEN_EPOCHS,
                    help="Passes over every training face. A generator trained before continues from where it is.",
                )
            ),
            int,
            links.between(1, MAX_EPOCHS),
        )
    with c3:
        attributes = links.synced_multiselect(
            "attrs",
            state.GEN_ATTRIBUTES,
            f"Condition on attributes (optional, at most {MAX_CONDITIONS})",
            ds.attributes,
            valid=lambda v: links.all_of(ds.attributes)(v) and len(v) <= MAX_CONDITIONS,
            max_selections=MAX_CONDITIONS,
            help="Both networks see these labels, so you can then ask for faces with or without each.",
        )
    return GanConfig(image_size=int(image_size), attributes=tuple(attributes)), int(epochs)


def training_panel(ds: Dataset, config: GanConfig, epochs: int) -> None:
    """The button that trains (or continues) the generator, or this session's running job with live curves."""
    try:
        stored = read_meta(generator_id(ds, config))
    except ModelFileError:  # a garbled meta.json: the job says so when it runs, training starts afresh here
        stored = None
    done = stored.epochs_done if stored else 0
    faces = ds.n_images if not config.max_images else min(ds.n_images, config.max_images)
    expected = estimated_seconds(faces, config, max(epochs - done, 0), AUDIT_SAMPLES, feature_space(ds) == "embeddings")
    job = generate_job_spec(ds, config, epochs) if done < epochs else None
    if job is not None:
        st.session_state.setdefault(state.GEN_JOB_GENERATORS, {})[job.job_id] = generator_id(ds, config)
    if done >= epochs:
        st.caption(f"This generator is trained ({fmt.plural(done, 'epoch')}); choose more epochs to train it further.")
    else:
        start = f"Stored with {fmt.plural(done, 'epoch')}: training continues from there. " if done else ""
        align = "Each photo's face is found and aligned first (once). " if needs_alignment(ds) and not done else ""
        st.caption(
            f"{start}{align}{fmt.plural(epochs - done, 'epoch')} on up to {fmt.plural(faces, 'face')} take "
            f"{fmt.about(expected)} on this server, in the background: the job survives page changes, can be "
            "cancelled, and resumes from its last finished epoch."
        )
    button = f"Train {fmt.plural(epochs - done, 'more epoch')}" if done else "Train the generator"
    job_launcher(job, "Training the generator", button, key="gen-train", remember=state.GEN_JOB, expected=expected)
    job_id = st.session_state.get(state.GEN_JOB)
    status = job_status(job_id) if job_id else None
    if status is None:
        return
    if not status.finished:
        _live(st.session_state.get(state.GEN_JOB_GENERATORS, {}).get(job_id))
    elif status.state == "done" and status.result and st.session_state.get(state.GEN_PICKED_FROM) != job_id:
        st.session_state[state.GEN_PICKED_FROM] = job_id
        st.session_state[state.GEN_PICK] = status.result["generator_id"]
        cached.generators.clear()


def _live(gid: str | None) -> None:
    """While the job runs: its losses so far and the faces of its last finished epoch."""
    if gid is None:
        return

    @st.fragment(run_every=3.0)
    def _curves() -> None:
        steps = live_steps(gid)
        try:
            meta = read_meta(gid)
        except ModelFileError:
            meta = None
        left, right = st.columns([3, 2])
        if steps is not None and len(steps):
            left.altair_chart(charts.loss_chart(steps), width="stretch")
        if meta is not None and meta.epochs_done:
            grids, _ = cached.generator_history(meta)
            right.image(picture(grids[-1]), caption=f"After epoch {meta.epochs_done}")

    _curves()


def generator_picker(ds: Dataset) -> GeneratorMeta | None:
    """Selectbox over the dataset's stored generators (URL gan=<id>); None (with what to do) when there are none."""
    metas = cached.generators(ds)
    if not metas:
        st.info(f"No generator has been trained on {ds.name} yet: train one above.")
        links.forget("gan")
        return None
    by_id = {m.generator_id: m for m in metas}
    links.restore(state.GEN_PICK, "gan", valid=by_id.__contains__)
    if st.session_state.get(state.GEN_PICK) not in by_id:
        st.session_state[state.GEN_PICK] = metas[0].generator_id
    chosen = st.selectbox("Generator", list(by_id), format_func=lambda i: report.describe(by_id[i]), key=state.GEN_PICK)
    links.remember("gan", chosen)  # always in the link: "the newest generator" changes as generators are trained
    return by_id[chosen]


# ---- watching it learn


def epochs_view(meta: GeneratorMeta) -> None:
    """The same 64 noise vectors after each epoch (a slider), and the last epoch's figures."""
    grids, _ = cached.generator_history(meta)
    last = meta.last_epoch
    cols = st.columns(5)
    cols[0].metric(report.EPOCHS_TRAINED, fmt.count(meta.epochs_done))
    cols[1].metric("Training faces", fmt.count(meta.faces))
    cols[2].metric(
        report.D_REAL_LAST,
        report.belief(last.d_real),
        help="The discriminator's mean probability that a training face is real, over the last epoch's steps.",
    )
    cols[3].metric(
        report.D_FAKE_LAST,
        report.belief(last.d_fake),
        help="Its mean probability that a generated face is real. Near 0: it wins outright and the generator "
        "learns little; between 0.1 and 0.9 the two are still playing.",
    )
    cols[4].metric("Trained for", fmt.duration(meta.seconds), help=f"On {meta.device}.")
    epoch = links.synced(
        "epoch",
        state.GEN_EPOCH,
        meta.epochs_done,
        lambda: st.slider(
            "Epoch",
            0,
            meta.epochs_done,
            meta.epochs_done,
            key=state.GEN_EPOCH,
            help="0: before any training (what random weights make of the noise).",
        ),
        int,
        links.between(0, meta.epochs_done),
    )
    when = "before training" if epoch == 0 else f"after epoch {epoch} of {meta.epochs_done}"
    st.image(picture(grids[epoch]), caption=f"The same 64 noise vectors {when}")
    with st.expander("Every epoch side by side (the first 8 faces)"):
        st.image(picture(grids[:, :8].reshape(-1, *grids.shape[2:])), caption="One row per epoch, from 0 (top).")


def training_curves(meta: GeneratorMeta) -> None:
    """Losses and the discriminator's beliefs per step."""
    _, steps = cached.generator_history(meta)
    left, right = st.columns(2)
    left.altair_chart(charts.loss_chart(steps), width="stretch")
    right.altair_chart(charts.belief_chart(steps), width="stretch")
    st.caption(
        "The two networks play against each other: the discriminator's loss falls when it tells real from generated "
        "faces, the generator's when it fools it. D(real) and D(fake) are the discriminator's mean beliefs that a "
        "face is real; at 0.5 it cannot tell them apart."
    )


# ---- new faces


def _asked(meta: GeneratorMeta) -> dict[int, int]:
    """Per conditioned attribute, a yes / no / any choice (URL ask=Attr:1,Attr:0); {column: 0/1} of those fixed."""
    try:
        from_url = dict(links.parse_where(st.query_params.get("ask", "")))
    except ValueError:
        from_url = {}
    asked = {}
    cols = st.columns(len(meta.config.attributes))
    for k, (col, attribute) in enumerate(zip(cols, meta.config.attributes)):
        key = f"{state.GEN_ASK}-{attribute}"
        if key not in st.session_state and attribute in from_url:
            st.session_state[key] = "yes" if from_url[attribute] else "no"
        with col:
            choice = st.segmented_control(attribute, ["any", "yes", "no"], default="any", required=True, key=key)
        if choice != "any":
            asked[k] = int(choice == "yes")
    links.remember("ask", links.where_text((meta.config.attributes[k], v) for k, v in asked.items()), "")
    return asked


def new_faces(ds: Dataset, meta: GeneratorMeta) -> tuple[int, np.ndarray | None]:
    """A grid of 64 new faces from a seed (URL seed=); returns (seed, the grid's conditions)."""
    seed = links.synced(
        "seed",
        state.GEN_SEED,
        0,
        lambda: int(
            st.number_input("Seed", 0, 2**31 - 1, 0, key=state.GEN_SEED, help="The same seed, the same faces.")
        ),
        int,
        links.between(0, 2**31 - 1),
    )
    conditions = None
    if meta.config.conditional:
        st.caption("Ask for each attribute the generator was conditioned on (any: as often as in the training faces).")
        labels = cached.generator_labels(ds, meta.generator_id, meta.updated, meta)
        conditions = asked_conditions(labels, GRID_FACES, seed, _asked(meta))
    net = cached.generator_net(meta)
    faces = seed_faces(net, meta.config.latent_dim, seed, conditions)
    st.image(picture(faces), caption=f"64 new faces from seed {seed} (none of them is a photo of the dataset)")
    return seed, conditions


def _face_number(name: str, key: str, default: int, label: str) -> int:
    return links.synced(
        name,
        key,
        default,
        lambda: int(st.number_input(label, 1, GRID_FACES, default, key=key)),
        int,
        links.between(1, GRID_FACES),
    )


def interpolation(meta: GeneratorMeta, seed: int, conditions: np.ndarray | None) -> None:
    """A strip of 8 faces on the way from one face of the grid to another (URL from=, to=)."""
    left, right = st.columns(2)
    with left:
        start = _face_number("from", state.GEN_FROM, 1, "From face (counted along the rows)")
    with right:
        end = _face_number("to", state.GEN_TO, 2, "To face")
    strip = interpolation_strip(
        cached.generator_net(meta), meta.config.latent_dim, seed, start - 1, end - 1, conditions
    )
    st.image(picture(strip, STRIP), caption=f"From face {start} to face {end} of seed {seed}, in {STRIP} steps")


def attribute_switch(meta: GeneratorMeta, seed: int, conditions: np.ndarray | None) -> None:
    """Conditional generators: the same noise with one attribute off, then on (URL switch=<Attr>)."""
    if not meta.config.conditional or conditions is None:
        links.forget("switch")
        return
    attributes = list(meta.config.attributes)
    attribute = links.synced(
        "switch",
        state.GEN_SWITCH,
        attributes[0],
        lambda: st.selectbox("Attribute to switch", attributes, key=state.GEN_SWITCH),
        valid=links.one_of(attributes),
    )
    off, on = switch_attribute(
        cached.generator_net(meta), meta.config.latent_dim, seed, conditions, attributes.index(attribute)
    )
    st.image(picture(np.concatenate([off, on]), STRIP), caption=f"Top: not {attribute}. Bottom: {attribute}.")


# ---- the audit


def audit_panel(ds: Dataset, meta: GeneratorMeta) -> tuple[GeneratorAudit, dict] | None:
    """The stored audit, and the button that measures it (again) when it is missing or out of date."""
    stored = cached.generator_audit(meta)
    current = stored is not None and stored[0].token == audit_token(ds, meta)
    if not current:
        embeddings = feature_space(ds) == "embeddings"
        why = (
            "This generator has not been measured yet."
            if stored is None
            else "What it was measured with changed since (more epochs, a new classifier or new face embeddings)."
        )
        st.info(
            f"{why} Measuring draws {fmt.count(AUDIT_SAMPLES)} new faces and compares them with the training faces "
            f"({'by their face embedding' if embeddings else 'in pixels'}), in the background."
        )
        job_launcher(
            generate_job_spec(ds, meta.config, meta.epochs_done),
            "Measuring the generator",
            "Measure the generator",
            key="gen-audit",
            remember=state.GEN_JOB,
            panel=False,  # a running job's panel is the training section's
            expected=estimated_seconds(0, meta.config, 0, AUDIT_SAMPLES, embeddings),
        )
    if stored is not None and not current:
        st.caption(f"Shown below: the last measurement (after epoch {stored[0].epochs}).")
    return stored


def copying(ds: Dataset, meta: GeneratorMeta, audit: GeneratorAudit, arrays: dict) -> None:
    """How close generated faces come to training faces, beside real faces, and the closest pairs."""
    c = audit.copying
    st.caption(
        f"Each of {fmt.count(c.generated)} generated faces is compared with every training face by "
        f"{report.SPACE_WORDS[c.space]}; so are {fmt.count(c.real)} real training faces cut to "
        f"{meta.config.image_size} px, their own photo left out. " + report.threshold_sentence(c, ds.name)
    )
    cols = st.columns(3)
    cols[0].metric(report.COPIED, fmt.percent(c.share_below))
    cols[1].metric(report.REAL_COPIED, fmt.percent(c.real_share_below))
    cols[2].metric(report.SAME_PERSON, fmt.decimal(c.threshold, 3))
    st.markdown(report.copying_sentence(c))
    st.altair_chart(
        charts.distance_chart(arrays["distance"], arrays["real_distance"], c.threshold, c.space), width="stretch"
    )
    st.markdown("**The closest pairs**: generated faces (top) and their nearest training face (below).")
    order = np.argsort(arrays["distance"], kind="stable")[:CLOSEST_PAIRS]
    image_ids = ds.table["image_id"].to_numpy()
    cols = st.columns(CLOSEST_PAIRS)
    for col, k in zip(cols, order):
        image_id = image_ids[arrays["nearest"][k]]
        with col:
            st.image(enlarge(arrays["samples"][k], max(1, 128 // meta.config.image_size)), width="stretch")
            data = cached.thumbnail(ds, image_id, 128)
            if data is not None:
                st.image(data, width="stretch")
            st.caption(f"{fmt.decimal(arrays['distance'][k], 3)} · {image_id}")


def amplification(ds: Dataset, meta: GeneratorMeta, audit: GeneratorAudit) -> None:
    """Prevalence of each scored attribute among generated vs training faces, and the chart against the diagonal."""
    if not audit.prevalence:
        _offer_classifier(ds)
        return
    size = meta.config.image_size
    st.caption(
        "Each attribute is scored by the stored classifier that scores it best on its test split, at that "
        f"classifier's threshold. The last columns score real training faces cut to {size} px the same way: where "
        "they differ from the labels, part of the difference is the classifier's, not the generator's."
    )
    ranked = sorted(audit.prevalence, key=lambda p: -abs(p.generated_share - p.real_share))
    st.markdown("\n".join(f"- {report.prevalence_sentence(p)}" for p in ranked))
    rows = []
    for p in ranked:
        row = {
            "attribute": p.attribute,
            "training faces (labels)": fmt.percent(p.real_share),
            "generated faces": fmt.percent(p.generated_share),
            "change": fmt.signed_points(p.generated_share - p.real_share),
            f"real faces at {size} px (classifier)": fmt.percent(p.scored_real / p.scored_real_n),
        }
        if meta.config.conditional:
            row["asked for"] = fmt.percent(p.asked / p.generated_n) if p.asked is not None else fmt.MISSING
        row |= {"classifier": p.model_id, "balanced accuracy": fmt.decimal(p.balanced_accuracy, 3)}
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="gen-prevalence-table")
    st.altair_chart(charts.prevalence_chart(audit.prevalence), width="stretch")


def _offer_classifier(ds: Dataset) -> None:
    config = classifier_config(ds)
    if config is None:
        st.info(f"{ds.name} has none of the attributes the classifier scores, so there is nothing to compare with.")
        return
    st.info(
        f"No stored attribute classifier of {ds.name} can score a generated face yet. Train one (a small CNN on the "
        f"faces' pixels, {', '.join(config.attributes)}), then measure the generator again."
    )
    job_launcher(
        train_job_spec(ds, config),
        "Training a classifier",
        "Train a classifier",
        key="gen-clf-train",
        remember=state.GEN_CLASSIFIER_JOB,
        expected=CLASSIFIER_SECONDS,
    )


def diversity(ds: Dataset, audit: GeneratorAudit, arrays: dict) -> None:
    """How many people the faces fall into: the identity of each face's nearest training face."""
    d = audit.diversity
    if d.generated is None:
        st.info(f"{ds.name} has no identity labels, so its faces cannot be counted by person.")
        return
    cols = st.columns(2)
    cols[0].metric(report.PEOPLE_GENERATED, fmt.count(d.generated))
    cols[1].metric(report.PEOPLE_REAL, fmt.count(d.real))
    st.markdown(report.diversity_sentence(d))
    identity = ds.table["identity"].to_numpy()
    counts = [list(pd.Series(identity[arrays[k]]).value_counts()) for k in ("nearest", "real_nearest")]
    st.altair_chart(charts.identity_chart(*counts), width="stretch")
    st.caption("A generator that makes few different people puts many faces on the first identities and reaches fewer.")
