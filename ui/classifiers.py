"""Widgets of the Attribute classifiers page: training form, live curves, results, threshold, subgroups, try it."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import streamlit as st

from core import cached
from core import format as fmt
from core.charts import classify as charts
from core.classify.metrics import (
    THRESHOLD_DECIMALS,
    THRESHOLD_STEP,
    below_majority,
    binary_metrics,
    confusion_counts,
    error_rows,
    pr_curve,
    roc_curve,
    subgroup_metrics,
)
from core.classify.models import FEATURES, LOSSES, MODEL_FEATURES, MODELS, TrainConfig
from core.classify.pixels import IMAGE_SIZES
from core.classify.published import PUBLISHED_COLUMNS
from core.classify.store import ClassifierMeta, caution
from core.classify.train import EvaluationCounts, history_path_for
from core.classify.tryit import FAMILIAR_QUANTILE, familiarity
from core.cli.train import train_job_spec
from core.data.celeba import judgement_note
from core.data.dataset import Dataset
from core.data.embeddings import list_embeddings
from core.errors import ImageError, ModelFileError
from core.jobs import job_status
from core.stats.intervals import MIN_MODEL_IMAGES, MIN_MODEL_POSITIVES, Rate
from ui import links, state
from ui.busy import one_heavy_query
from ui.demo_drawing import images_missing_text, is_drawing
from ui.gallery import image_grid
from ui.jobs import embeddings_prerequisite, job_launcher

SHOWCASE = ("Eyeglasses", "Wearing_Hat", "Bald", "Blond_Hair", "Smiling", "Male")
DEFAULTS = TrainConfig()  # the training form opens on these (epochs, augmentation)


def thin_test_split_note(attributes: list[str], counts: dict[str, EvaluationCounts]) -> None:
    """Say which chosen attributes the test split cannot score, or scores on too few positives to trust."""
    unscorable = [a for a in attributes if not counts[a].scorable]
    thin = [a for a in attributes if counts[a].scorable and counts[a].positives < MIN_MODEL_POSITIVES]
    if unscorable:
        st.warning(
            f"The test split has no positive (or no negative) image of {', '.join(unscorable)}: a model can be "
            "trained on it, but its recall and precision cannot be measured."
        )
    if thin:
        listed = ", ".join(f"{a} ({counts[a].positives})" for a in thin)
        st.caption(f"Few positive test images for {listed}: their scores will be rough.")


def train_form(ds: Dataset) -> TrainConfig | None:
    """The training choices as a TrainConfig, or None (with what to do) when they cannot be trained."""
    if not ds.attributes:
        st.info(
            f"{ds.name} has no attribute labels (yes/no annotations such as Smiling), so there is nothing to train a "
            "classifier on. Pick a dataset with annotations, such as the demo or CelebA."
        )
        return None
    c1, c2, c3 = st.columns(3)
    with c1:
        default_features = "embeddings" if list_embeddings(ds) or not ds.has_images else "pixels"
        features = links.synced(
            "feat",
            state.CLF_FEATURES,
            default_features,
            lambda: st.radio(
                "Features",
                list(FEATURES),
                index=list(FEATURES).index(default_features),
                format_func=FEATURES.get,
                key=state.CLF_FEATURES,
                horizontal=True,
            ),
            valid=links.one_of(FEATURES),
        )
        models = [m for m, f in MODEL_FEATURES.items() if f == features]
        model = links.synced(
            "kind",
            state.CLF_MODEL,
            models[0],
            lambda: st.selectbox("Model", models, format_func=MODELS.get, key=state.CLF_MODEL),
            valid=links.one_of(models),
        )
    with c2:
        counts = cached.evaluation_counts(ds)
        scorable = [a for a in ds.attributes if counts[a].scorable]
        default = [a for a in SHOWCASE if a in scorable] or scorable[:5]
        attributes = links.synced_multiselect(
            "attrs", state.CLF_ATTRIBUTES, "Attributes (one for a single-attribute model)", ds.attributes, default
        )
        thin_test_split_note(attributes, counts)
        loss = links.synced(
            "loss",
            state.CLF_LOSS,
            "bce",
            lambda: st.selectbox(
                "Loss",
                list(LOSSES),
                format_func=LOSSES.get,
                key=state.CLF_LOSS,
                disabled=model == "logreg",
                help="Logistic regression always minimises cross-entropy; the choice applies to the MLP and the CNN.",
            ),
            valid=links.one_of(LOSSES),
        )
    with c3:
        epochs = links.synced(
            "epochs",
            state.CLF_EPOCHS,
            DEFAULTS.epochs,
            lambda: int(
                st.number_input(
                    "Epochs (at most; early stopping on validation)", 1, 100, DEFAULTS.epochs, key=state.CLF_EPOCHS
                )
            ),
            int,
            links.between(1, 100),
        )
        image_size = links.synced(
            "px",
            state.CLF_IMAGE_SIZE,
            80,
            lambda: st.select_slider(
                "Image size (px)", IMAGE_SIZES, value=80, key=state.CLF_IMAGE_SIZE, disabled=features != "pixels"
            ),
            int,
            links.one_of(IMAGE_SIZES),
        )
        pos_weight = links.synced(
            "weighted",
            state.CLF_POS_WEIGHT,
            False,
            lambda: st.checkbox("Weight positives (for rare attributes)", key=state.CLF_POS_WEIGHT),
            links.as_bool,
        )
        links.restore(state.CLF_AUGMENT, "augment", links.as_bool)
        st.session_state.setdefault(state.CLF_AUGMENT, DEFAULTS.augment)  # on: without it the CNN learns the people
        augment = st.checkbox(
            "Augment images (flip, small rotation/shift/zoom, brightness, saturation)",
            key=state.CLF_AUGMENT,
            disabled=features != "pixels",
            help="Flips, small shifts and changes of light and colour: the CNN then learns small details (glasses, a "
            "smile, a bald scalp) rather than memorising the training people's faces. Each epoch takes about a quarter "
            "longer.",
        )
        links.remember("augment", augment, DEFAULTS.augment)
    if features == "embeddings" and not list_embeddings(ds):
        embeddings_prerequisite(
            ds, "the fast models on face embeddings (or train the CNN from pixels)", key="clf-embed"
        )
        return None
    if features == "pixels" and not ds.has_images:
        if is_drawing(ds):
            st.info(f"{images_missing_text(ds)} The CNN learns from them, so it can be trained then.")
        else:
            st.info("This dataset has no image files, so only models on embeddings can be trained.")
        return None
    if not ds.has_partition:
        st.caption("No train/val/test partition in this dataset: a seeded split by identity (80/10/10) is used.")
    if not attributes:
        st.info("Choose at least one attribute.")
        return None
    return TrainConfig(
        model=model,
        attributes=tuple(attributes),
        epochs=epochs,
        image_size=int(image_size),
        loss=loss,
        pos_weight=pos_weight,
        augment=augment,
    )


def training_panel(ds: Dataset, config: TrainConfig | None) -> None:
    """The Train button, or this session's training job with live curves; a finished job's model is picked."""
    job_launcher(
        train_job_spec(ds, config) if config else None, "Training", "Train", key="clf-train", remember=state.CLF_JOB
    )
    job_id = st.session_state.get(state.CLF_JOB)
    status = job_status(job_id) if job_id else None
    if status is None:
        return
    _live_curves(job_id)
    trained = status.result.get("model_id") if status.state == "done" and status.result else None
    if trained and st.session_state.get(state.CLF_PICKED) != trained:  # once per model: the same job trains anew
        before = st.session_state.get(state.CLF_MODEL_PICK)
        st.session_state[state.CLF_PICKED] = trained
        st.session_state[state.CLF_MODEL_PICK] = trained
        if before:  # the loss lesson compares the new model with the one inspected when it was trained
            st.session_state[state.CLF_LESSON_OTHER] = before
        cached.saved_models.clear()


def _live_curves(job_id: str) -> None:
    @st.fragment(run_every=2.0)
    def _curves() -> None:
        path = history_path_for(job_id)
        try:
            history = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        if history:
            st.altair_chart(charts.history_chart(history))

    _curves()


def model_picker(ds: Dataset) -> ClassifierMeta | None:
    """Selectbox over this dataset's stored models; returns the chosen model's meta."""
    metas = cached.saved_models(ds)
    if not metas:
        st.info("No trained model for this dataset yet: train one above.")
        return None
    by_id = {m.model_id: m for m in metas}
    links.restore(state.CLF_MODEL_PICK, "model", valid=by_id.__contains__)
    if st.session_state.get(state.CLF_MODEL_PICK) not in by_id:
        st.session_state[state.CLF_MODEL_PICK] = metas[0].model_id
    model_id = st.selectbox(
        "Model to inspect", list(by_id), format_func=lambda i: describe(by_id[i]), key=state.CLF_MODEL_PICK
    )
    links.remember("model", model_id)  # always in the link: "the newest model" changes as models are trained
    return by_id[model_id]


def describe(meta: ClassifierMeta) -> str:
    extra = f" · {meta.image_size}px" if meta.model == "cnn" else ""
    weight = " · weighted" if meta.config.pos_weight else ""
    return (
        f"{MODELS[meta.model]}{extra} · {meta.config.loss}{weight} · {len(meta.attributes)} attributes · "
        f"{meta.created[:16]} ({meta.model_id})"
    )


METRIC_HELP = {
    "accuracy": "Share of test images where the predicted yes/no matches the label.",
    "balanced_accuracy": "Mean of the accuracy on images labelled yes and on images labelled no: always "
    "answering one way scores 50%, however rare the attribute.",
    "majority_accuracy": "Accuracy of always giving the most common answer: the score to beat.",
    "auc": "ROC AUC: the chance that a random 'yes' image gets a higher score than a random 'no' image "
    "(50% = guessing, 100% = perfect ranking); does not depend on the threshold.",
    "precision": "Of the images the model says 'yes' to, the share really labelled yes.",
    "recall": "Of the images labelled yes, the share the model finds.",
    "f1": "Harmonic mean of precision and recall.",
    "positive_rate": "Share of test images labelled yes.",
    "predicted_positive_rate": "Share of test images the model says 'yes' to.",
}


def results(ds: Dataset, meta: ClassifierMeta) -> None:
    """Mean metrics, the sortable per-attribute table and the bar chart vs baselines."""
    if meta.split_key and ds.split_key and meta.split_key != ds.split_key:
        st.caption(
            "The dataset's partition or identities changed since this model was trained: the figures below are "
            "measured on the test split it was trained with. Train it again to measure it on the current split."
        )
    st.caption(
        f"Split: {meta.split_note}. Test images: {fmt.count(meta.rows['test'])}; trained in "
        f"{fmt.duration(meta.seconds)}, {meta.epochs_run} epoch(s)."
    )
    tuned = any(t != 0.5 for t in meta.thresholds.values())
    st.caption(
        "Every figure in this section uses each attribute's own decision threshold, chosen on the validation "
        "split (best balanced accuracy; the 'threshold' column)."
        if tuned
        else "Every figure in this section uses the decision threshold 0.50 (a probability of at least 0.5 means yes)."
    )
    cautions = {a: caution(meta, a) for a in meta.attributes}
    flagged = {a: why for a, why in cautions.items() if why}
    if flagged:
        st.warning(
            "**Too few images to score "
            + ", ".join(flagged)
            + ":** "
            + "; ".join(f"{a}: {why}" for a, why in flagged.items())
            + f". Scores need at least {MIN_MODEL_IMAGES} images and {MIN_MODEL_POSITIVES} of each answer; "
            "they are left out below.",
            icon=":material/warning:",
        )
    published = charts.is_celeba_like(meta.attributes)
    frame = charts.results_frame(meta, published)
    frame.insert(1, "threshold", [meta.threshold(a) for a in frame["attribute"]])
    frame.insert(2, "test images labelled yes", [_test_positives(meta, a) for a in frame["attribute"]])
    frame.loc[frame["attribute"].isin(list(flagged)), list(charts.TABLE_COLUMNS)] = np.nan
    reliable = frame[~frame["attribute"].isin(list(flagged))]
    if reliable.empty:
        return
    below = [a for a in below_majority(meta.metrics) if a not in flagged]
    beats = ["–" if a in flagged else "no" if a in below else "yes" for a in frame["attribute"]]
    frame.insert(1, "beats always-majority", beats)
    mean = reliable[list(charts.TABLE_COLUMNS)].mean()
    c = st.columns(4)
    for col, (label, key) in zip(
        c,
        [
            ("Mean accuracy", "accuracy"),
            ("Mean balanced accuracy", "balanced_accuracy"),
            ("Mean majority-class accuracy", "majority_accuracy"),
            ("Mean ROC AUC", "auc"),
        ],
    ):
        col.metric(label, fmt.percent(mean[key]), help=METRIC_HELP[key])
    st.caption(
        f"Averaged over {len(reliable)} attribute{'s' if len(reliable) != 1 else ''}: the model is right on "
        f"{fmt.percent(mean['accuracy'])} of the {fmt.count(meta.rows['test'])} test images; always giving the most common answer "
        f"would be right on {fmt.percent(mean['majority_accuracy'])}. Balanced accuracy, which counts images with and "
        f"without the attribute equally, is {fmt.percent(mean['balanced_accuracy'])}. "
        f"{len(reliable) - len(below)} of {len(reliable)} attributes beat their majority-class accuracy."
    )
    if below:
        st.warning(
            "**Not above the majority-class baseline:** "
            + ", ".join(
                f"{a} ({fmt.percent(meta.metrics[a]['accuracy'])} vs {fmt.percent(meta.metrics[a]['majority_accuracy'])})"
                for a in below
            )
            + ". Always giving the most common answer would be right at least as often, so accuracy shows nothing "
            "learnt there (the table's 'beats always-majority' column says no); balanced accuracy tells whether the "
            "model still ranks the faces well and only its threshold is off.",
            icon=":material/warning:",
        )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        key="clf-results-table",
        column_config={
            "threshold": st.column_config.NumberColumn(format="%.3f", help="Decision threshold these figures use."),
            **{
                k: st.column_config.NumberColumn(k.replace("_", " "), format="%.3f", help=METRIC_HELP[k])
                for k in charts.TABLE_COLUMNS
            },
        },
    )
    st.altair_chart(charts.accuracy_bars(reliable), width="stretch")
    if published:
        note = " (they are for the real CelebA; the demo's faces are drawn, so compare with care)" if ds.is_demo else ""
        st.caption(f"Published CelebA accuracies{note}: {', '.join(PUBLISHED_COLUMNS)}.")
    if meta.history:
        with st.expander("Training curves"):
            st.altair_chart(charts.history_chart(meta.history))


def _test_positives(meta: ClassifierMeta, attribute: str) -> int | None:
    stored = meta.positives.get("test", {}).get(attribute)
    if stored is not None:
        return int(stored)
    rate = meta.metrics.get(attribute, {}).get("positive_rate")
    return round(rate * meta.rows.get("test", 0)) if rate is not None and not np.isnan(rate) else None


LESSON_TITLE = "Lesson: why accuracy (and MSE) can fool you"


def lesson_panel():
    """The loss lesson's expander, open or closed as the user left it: its state is a widget's (a training it
    starts, and the model picked when that ends, rebuild the page around it) and in the link (why=1)."""
    links.restore(state.CLF_LESSON_OPEN, "why", links.as_bool)
    panel = st.expander(LESSON_TITLE, key=state.CLF_LESSON_OPEN, on_change="rerun")
    links.remember("why", bool(panel.open), False)
    return panel


def lesson(ds: Dataset, meta: ClassifierMeta) -> None:
    """MSE (or any loss) vs BCE side by side: accuracy can look fine while predicting the majority class."""
    metas = cached.saved_models(ds)
    twins = [
        m
        for m in metas
        if m.model_id != meta.model_id and m.model == meta.model and set(m.attributes) & set(meta.attributes)
    ]
    st.markdown(
        "Accuracy rewards always answering *no* for a rare attribute: a model that predicts the majority class "
        "gets the **majority-class accuracy** for free. Balanced accuracy and the predicted positive rate expose it. "
        "Train the same model with MSE and with BCE and compare them here."
    )
    if meta.model == "logreg":
        st.caption("The loss choice applies to the MLP head and the CNN: inspect one of those to run this comparison.")
        return
    other_loss = "bce" if meta.config.loss != "bce" else "mse"
    job_launcher(
        train_job_spec(ds, replace(meta.config, loss=other_loss)),
        "Training",
        f"Train the same model with {LOSSES[other_loss]}",
        key="clf-lesson-train",
        remember=state.CLF_JOB,
        panel=False,
    )
    if not twins:
        st.caption("No other model of the same kind on these attributes yet.")
        return
    by_id = {m.model_id: m for m in twins}
    links.restore(state.CLF_LESSON_OTHER, "vs", valid=by_id.__contains__)
    other_id = st.selectbox(
        "Compare with", list(by_id), format_func=lambda i: describe(by_id[i]), key=state.CLF_LESSON_OTHER
    )
    links.remember("vs", other_id, next(iter(by_id)))
    other = by_id[other_id]
    label_a, label_b = meta.config.loss, other.config.loss
    if label_a == label_b:
        label_a, label_b = "this model", "other"
    frame = charts.lesson_frame(meta, other, label_a, label_b)
    st.dataframe(frame, hide_index=True, width="stretch", key="clf-lesson-table")


def threshold_view(ds: Dataset, meta: ClassifierMeta) -> tuple[str, float, dict] | None:
    """Attribute + threshold slider -> confusion matrix, metrics at that threshold, ROC and PR curves."""
    preds = cached.test_predictions(meta.model_id, meta.created)
    attribute = links.synced(
        "attr",
        state.CLF_THRESHOLD_ATTRIBUTE,
        meta.attributes[0],
        lambda: st.selectbox("Attribute", meta.attributes, key=state.CLF_THRESHOLD_ATTRIBUTE),
        valid=links.one_of(meta.attributes),
    )
    note = judgement_note((attribute,))
    if note:
        st.caption(f"**About this label.** {note}")
    chosen = meta.threshold(attribute)
    _open_at_model_threshold(meta, attribute, chosen)
    threshold = st.slider(
        "Decision threshold",
        0.0,
        1.0,
        chosen,
        THRESHOLD_STEP,
        format="%.3f",
        key=state.CLF_THRESHOLD,
        help=f"The results table uses {fmt.decimal(chosen, THRESHOLD_DECIMALS)} for {attribute}, the cut with the best "
        "balanced accuracy on the validation split.",
    )
    links.remember("thr", round(threshold, THRESHOLD_DECIMALS), chosen)
    st.caption(
        f"Every figure in this section uses the threshold on the slider, {fmt.decimal(threshold, THRESHOLD_DECIMALS)}"
        + (
            f" (the model's own, used in the results table, is {fmt.decimal(chosen, THRESHOLD_DECIMALS)})."
            if round(threshold, THRESHOLD_DECIMALS) != chosen
            else ": the model's own, the one the results table uses."
        )
    )
    j = meta.attributes.index(attribute)
    y, p = preds["labels"][:, j], preds["probs"][:, j]
    counts = confusion_counts(y, p, threshold)
    m = binary_metrics(y, p, threshold)
    c = st.columns(4)
    c[0].metric("True positives", fmt.count(counts["tp"]))
    c[1].metric("False positives", fmt.count(counts["fp"]))
    c[2].metric("False negatives", fmt.count(counts["fn"]))
    c[3].metric("True negatives", fmt.count(counts["tn"]))
    why = caution(meta, attribute)
    if why:
        st.warning(
            f"**Too few images to score {attribute}** ({why}): the counts above are all there is; accuracy, "
            f"precision and recall from so few images would say almost nothing.",
            icon=":material/warning:",
        )
    else:
        n = sum(counts.values())
        rates = {
            "accuracy": Rate(counts["tp"] + counts["tn"], n),
            "precision": Rate(counts["tp"], counts["tp"] + counts["fp"]),
            "recall": Rate(counts["tp"], counts["tp"] + counts["fn"]),
        }
        c = st.columns(4)
        c[0].metric("Accuracy", fmt.percent(m["accuracy"]), help=METRIC_HELP["accuracy"])
        c[0].caption(rates["accuracy"].describe("right"))
        c[1].metric("Balanced accuracy", fmt.percent(m["balanced_accuracy"]), help=METRIC_HELP["balanced_accuracy"])
        c[2].metric("Precision", fmt.percent(m["precision"]), help=METRIC_HELP["precision"])
        c[2].caption(rates["precision"].describe("'yes' answers right"))
        c[3].metric("Recall", fmt.percent(m["recall"]), help=METRIC_HELP["recall"])
        c[3].caption(rates["recall"].describe("labelled yes found"))
        st.caption(
            f"At threshold {fmt.decimal(threshold, THRESHOLD_DECIMALS)}, the model says yes to {fmt.count(counts['tp'] + counts['fp'])} "
            f"of the {fmt.count(n)} test images; {fmt.count(counts['tp'])} of them are labelled {attribute} and it "
            f"misses {fmt.count(counts['fn'])} that are."
        )
    fpr = counts["fp"] / max(counts["fp"] + counts["tn"], 1)
    left, mid, right = st.columns(3)
    left.altair_chart(charts.confusion_chart(counts))
    mid.altair_chart(
        charts.roc_chart(roc_curve(y, p).to_pandas(), (fpr, _nan0(m["recall"])), m["auc"]), width="stretch"
    )
    prec = m["precision"] if not np.isnan(m["precision"]) else 1.0
    right.altair_chart(
        charts.pr_chart(pr_curve(y, p).to_pandas(), (_nan0(m["recall"]), prec), m["positive_rate"]), width="stretch"
    )
    return attribute, threshold, preds


def _open_at_model_threshold(meta: ClassifierMeta, attribute: str, chosen: float) -> None:
    """The slider starts at the model's own threshold for each (model, attribute); a link's thr= wins once."""
    shown_for = (meta.model_id, attribute)
    if st.session_state.get(state.CLF_THRESHOLD_FOR) == shown_for:
        return
    first = state.CLF_THRESHOLD_FOR not in st.session_state
    st.session_state[state.CLF_THRESHOLD_FOR] = shown_for
    st.session_state[state.CLF_THRESHOLD] = chosen
    if first:
        links.restore(state.CLF_THRESHOLD_URL, "thr", float, links.between(0.0, 1.0))
        if state.CLF_THRESHOLD_URL in st.session_state:
            st.session_state[state.CLF_THRESHOLD] = round(
                st.session_state.pop(state.CLF_THRESHOLD_URL), THRESHOLD_DECIMALS
            )


def subgroup_view(ds: Dataset, meta: ClassifierMeta, attribute: str, threshold: float, preds: dict) -> None:
    """The chosen attribute's metrics within the groups of another attribute, with the gap highlighted."""
    default = next(
        (a for a in ("Male", "Young", "Pale_Skin") if a in ds.attributes and a != attribute), ds.attributes[0]
    )
    by = links.synced(
        "by",
        state.CLF_GROUP_BY,
        default,
        lambda: st.selectbox(
            "Split the test images by", ds.attributes, index=ds.attributes.index(default), key=state.CLF_GROUP_BY
        ),
        valid=links.one_of(ds.attributes),
    )
    note = judgement_note((by,))
    if note:
        st.caption(
            f"**About this label.** {note} A gap between its groups shows how the model treats faces the "
            "annotators labelled that way."
        )
    j = meta.attributes.index(attribute)
    groups = ds.attribute_matrix(preds["rows"])[:, ds.attributes.index(by)]
    table = subgroup_metrics(preds["labels"][:, j], preds["probs"][:, j], groups, (f"not {by}", by), threshold)
    frame = table.select(
        "group", "images", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "auc", "positive_rate"
    ).to_pandas()
    gap = frame.iloc[2]
    st.metric(
        f"Accuracy gap for {attribute} between {by} and not {by}",
        fmt.percent(gap["accuracy"]),
        help="Absolute difference of the two groups' accuracies on the test split.",
    )
    y = preds["labels"][:, j].astype(bool)
    small = [
        f"{name} ({fmt.count(int(mask.sum()))} images, {fmt.count(int(y[mask].sum()))} labelled {attribute})"
        for name, mask in ((f"not {by}", groups == 0), (by, groups == 1))
        if mask.sum() < MIN_MODEL_IMAGES or min(y[mask].sum(), (~y[mask]).sum()) < MIN_MODEL_POSITIVES
    ]
    if small:
        st.warning(
            f"Too few test images in {' and '.join(small)} to compare the groups: a gap this size can be chance.",
            icon=":material/warning:",
        )
    elif not np.isnan(gap["accuracy"]):
        members, others = table.row(1, named=True), table.row(0, named=True)
        st.caption(
            f"The model is right on {fmt.percent(members['accuracy'])} of the {by} images and "
            f"{fmt.percent(others['accuracy'])} of the others; it says yes to "
            f"{fmt.percent(members['predicted_positive_rate'])} of the {by} images "
            f"({fmt.percent(members['positive_rate'])} are labelled {attribute}) and to "
            f"{fmt.percent(others['predicted_positive_rate'])} of the others ({fmt.percent(others['positive_rate'])})."
        )
    frame["images"] = frame["images"].astype(float)
    styled = (
        frame.style.format(precision=3, na_rep="–")
        .format({"images": fmt.count}, na_rep="–")
        .apply(
            lambda row: ["background-color: #ffe0b2; font-weight: bold" if row["group"] == "gap" else "" for _ in row],
            axis=1,
        )
    )
    st.dataframe(styled, hide_index=True, width="stretch", key="clf-subgroup-table")


def error_gallery(ds: Dataset, meta: ClassifierMeta, attribute: str, threshold: float, preds: dict) -> None:
    """The most confident false positives and false negatives at the chosen threshold."""
    j = meta.attributes.index(attribute)
    errors = error_rows(preds["labels"][:, j], preds["probs"][:, j], threshold, limit=12)
    image_ids = ds.table["image_id"].to_numpy()
    for title, key in (
        ("False positives (predicted yes, labelled no)", "false_positives"),
        ("False negatives (predicted no, labelled yes)", "false_negatives"),
    ):
        idx = errors[key]
        st.markdown(f"**{title}** · {len(idx)} shown")
        rows = preds["rows"][idx]
        image_grid(
            ds,
            [image_ids[r] for r in rows],
            [f"p={fmt.decimal(preds['probs'][i, j], 2)}" for i in idx],
            columns=6,
            size=112,
        )


TRY_IT_NOTE = (
    "Your photo is processed in this server's memory only: it is never written to disk, logged, sent anywhere or "
    "put in a link, and it is gone when you leave the page."
)


def try_it(ds: Dataset, meta: ClassifierMeta) -> None:
    """Upload a photo or take one; faces found -> one bar per attribute with its decision threshold, shown as
    'unsure' where the face is unlike the faces the model learnt from."""
    source = st.radio("Photo from", ["upload", "camera"], horizontal=True, key="clf-photo-source")
    if source == "upload":
        photo = st.file_uploader(
            "A photo with a face", type=["jpg", "jpeg", "png", "webp"], key="clf-photo", help=TRY_IT_NOTE
        )
    else:
        photo = st.camera_input("Take a photo", key="clf-camera", help=TRY_IT_NOTE)
    st.caption(TRY_IT_NOTE)
    if photo is None:
        return
    try:
        with one_heavy_query("photo"):
            result = cached.photo_prediction(meta.model_id, meta.created, photo.getvalue())
    except ImageError as exc:
        st.error(str(exc))
        return
    except ModelFileError as exc:
        st.error(str(exc))
        return
    st.caption(result.note)
    if not result.faces:
        st.info("Nothing to predict: no face was found in this photo.")
        return
    domain = cached.face_domain(ds)
    thresholds = {a: meta.threshold(a) for a in meta.attributes}
    for i, face in enumerate(result.faces):
        known = familiarity_note(ds, domain, face.descriptor)
        unsure = known is not None and not known[0]
        left, right = st.columns([1, 3])
        left.image(face.image, caption=f"face {i + 1}", width="stretch")
        with right:
            if known is None:
                st.caption(
                    "FaceAtlas cannot tell how like the model's training faces this face is: "
                    + (
                        f"{ds.name} has no face embeddings to compare it with."
                        if domain is None
                        else "it has no face descriptor."
                    )
                )
            elif unsure:
                st.warning(known[1])
            else:
                st.caption(known[1])
            st.altair_chart(charts.probability_bars(face.probabilities, thresholds, unsure), width="stretch")
            yes = [a for a, p in face.probabilities.items() if p >= thresholds.get(a, 0.5)]
            if unsure:
                st.caption(
                    "The model is unsure here: the bars are what it computes, not answers to trust. Each black tick "
                    "is the attribute's decision threshold."
                )
            else:
                st.caption(
                    f"The model answers yes for {', '.join(yes) if yes else 'none of the attributes'}. Each black tick "
                    "is the attribute's decision threshold, the one the results table uses: a bar reaching it means yes."
                )


def familiarity_note(ds: Dataset, domain, descriptor) -> tuple[bool, str] | None:
    """(familiar, what to say) of one face against the dataset's faces; None where it cannot be told."""
    if domain is None or descriptor is None:
        return None
    known = familiarity(domain, descriptor)
    measured = (
        f"its face descriptor is {fmt.decimal(known.distance, 2)} from the nearest of {fmt.count(len(domain.pool))} "
        f"{ds.name} faces, while {fmt.percent(FAMILIAR_QUANTILE, 0)} of {ds.name}'s own faces have a face of another "
        f"person within {fmt.decimal(known.usual, 2)}"
    )
    if known.familiar:
        return True, f"This face is like the faces the model learnt from: {measured}."
    drawn = (
        " The demo's faces are drawn cartoons: a model trained on them has never seen a real face."
        if ds.is_demo
        else ""
    )
    return False, (
        f"This photo is unlike the faces the model learnt from: {measured}.{drawn} Its probabilities are guesses, "
        "so every answer below is shown as 'unsure'."
    )


def _nan0(v: float) -> float:
    return 0.0 if v is None or np.isnan(v) else float(v)
