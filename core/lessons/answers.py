"""Live answers of the lessons' steps: each computes its figures with the functions its target page uses and writes
them as that page shows them (core.lessons.model.Figure), so a lesson never states a number the page would not.

Every function takes the open dataset (LessonData) and the step's choices, and returns an Answer; a dataset that
lacks what the step needs gets an Answer saying so (missing=...), never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core import format as fmt
from core.classify.fairness import WORST_BY, audit_model, threshold_tradeoff, tradeoff_sentence, worst_sentence
from core.classify.metrics import THRESHOLD_DECIMALS, binary_metrics, subgroup_metrics
from core.classify.store import caution
from core.cluster.algorithms import EPS_FLOOR, Clustering, ClusterSpec, cluster_by
from core.cluster.features import FeatureMatrix, FeatureSpec, build_features
from core.cluster.metrics import external_metrics, internal_metrics
from core.cluster.reduce import ReductionSpec, reduce_by
from core.cluster.view import View, ViewOptions
from core.data.subset import Subset, subset_rows
from core.errors import DatasetError, ModelFileError
from core.faces.calibration import TARGET_PRECISION, calibrate
from core.faces.search import DISTANCE_DECIMALS, all_distances, index_for, nearest_faces
from core.lessons.data import LESSON_MODEL_WORDS, LessonData
from core.lessons.model import Answer, Figure, unavailable
from core.stats import relations as stats
from core.stats.intervals import FEW_IMAGES, MIN_MODEL_IMAGES, MIN_MODEL_POSITIVES, Rate

YES_NO = {1: "yes", 0: "no"}
UNDEFINED = "undefined"
NO_ATTRIBUTES = (
    "This dataset has no attribute annotations, so there is nothing to count. Pick the demo or CelebA in the "
    "sidebar for this lesson."
)


def _missing_attributes(data: LessonData, *names: str) -> Answer | None:
    """An Answer saying what is missing when the dataset lacks attributes (or one of `names`), else None."""
    ds = data.ds
    if len(ds.attributes) < 2:
        return unavailable("attributes", NO_ATTRIBUTES)
    absent = [a for a in names if a not in ds.attributes]
    if absent:
        return unavailable(
            "attributes", f"{ds.name} has no {' or '.join(absent)} annotation, which this step is about."
        )
    return None


def subset_of(data: LessonData, where: tuple[tuple[str, int], ...] = ()) -> Subset:
    """The subset a page builds from `where=` (conditions on attributes this dataset lacks are dropped, as there)."""
    return Subset(tuple((a, v) for a, v in where if a in data.ds.attributes))


def _relations(data: LessonData, subset: Subset) -> stats.RelationStats:
    ds = data.ds
    rows = np.arange(ds.n_images) if subset.is_everything else subset_rows(ds, subset)
    return stats.relation_stats(ds.attribute_matrix()[rows], ds.attributes)


# ---------------------------------------------------------------- lesson 1: base rates


def rarest_attributes(data: LessonData) -> Answer:
    """Dataset page: how many attributes are rare or common, and the three rarest (its prevalence caption)."""
    if missing := _missing_attributes(data):
        return missing
    ds = data.ds
    rel = _relations(data, Subset())
    share = rel.prevalence
    low, high = stats.imbalance_counts(share)
    rarest = np.argsort(share)[:3]
    named = [f"{ds.attributes[k]} ({fmt.percent(share[k])}, {fmt.count(rel.counts[k])} images)" for k in rarest]
    counts = f"{low} of {len(ds.attributes)} attributes are present in under 10% of images and {high} in over 70%"
    figures = (
        Figure("rare and common attributes", counts, "text"),
        *(Figure(f"rarest #{i + 1}", text, "text") for i, text in enumerate(named)),
    )
    first = ds.attributes[rarest[0]]
    return Answer(
        f"{counts}. The rarest are {', '.join(named)}. For an attribute present in {fmt.percent(share[rarest[0]])} of "
        f"images, always answering 'no' is right {fmt.percent(1 - share[rarest[0]])} of the time: that is the score "
        f"any {first} detector must beat.",
        figures,
    )


def presence(data: LessonData, attribute: str) -> Answer:
    """Dataset page donut: how often one attribute is present, and what always answering the majority scores."""
    if missing := _missing_attributes(data, attribute):
        return missing
    rel = _relations(data, Subset())
    present = int(rel.counts[rel.index(attribute)])
    rate = Rate(present, rel.n)
    majority = max(rate.share, 1 - rate.share) if rel.n else float("nan")
    word = "no" if present * 2 <= rel.n else "yes"
    return Answer(
        f"{attribute} is present in {rate.describe()}. A 'model' that always answers '{word}' is right on "
        f"{fmt.percent(majority)} of the images without looking at a single face: a {attribute} accuracy of "
        f"{fmt.percent(majority)} means nothing.",
        (Figure(f"{attribute} present", f"{attribute}: yes in {rate.describe()}", "text"),),
    )


def attribute_model(data: LessonData, target: str, where: tuple[tuple[str, int], ...] = ()) -> Answer:
    """Relations page, 'Predict an attribute from the others': accuracy beside the majority and balanced accuracy."""
    if missing := _missing_attributes(data, target):
        return missing
    ds = data.ds
    subset = subset_of(data, where)
    rows = np.arange(ds.n_images) if subset.is_everything else subset_rows(ds, subset)
    split = stats.model_split(ds.table["partition"].to_numpy()[rows], ds.table["identity"].to_numpy()[rows], seed=0)
    result = stats.predict_attribute(ds.attribute_matrix()[rows], ds.attributes, target, split)
    if stats.too_few(result):
        return Answer(
            f"Too few images to judge a model of {target} here ({fmt.count(result['test_rows'])} test images, "
            f"{fmt.count(result['test_positives'])} labelled {target}): widen the subset.",
            (Figure("too few", "Too few images to judge this model.", "text"),),
        )
    majority = YES_NO[result["counts"]["majority"]]
    top = result["coefficients"].head(3)
    strongest = ", ".join(f"{a} ({fmt.signed(c)})" for a, c in zip(top["attribute"], top["coefficient"]))
    figures = (
        Figure("accuracy", fmt.decimal(result["accuracy"], missing=UNDEFINED)),
        Figure("majority-class accuracy", fmt.decimal(result["majority_accuracy"], missing=UNDEFINED)),
        Figure("recall", fmt.decimal(result["recall"], missing=UNDEFINED)),
        Figure("balanced accuracy", f"Balanced accuracy: {fmt.percent(result['balanced_accuracy'])}", "text"),
        Figure("strongest predictors", f"Strongest: {strongest}.", "text"),
    )
    gain = result["accuracy"] - result["majority_accuracy"]
    return Answer(
        f"Predicting {target} from the other labels is right on {fmt.percent(result['accuracy'])} of the "
        f"{fmt.count(result['test_rows'])} test images; always answering '{majority}' would be right on "
        f"{fmt.percent(result['majority_accuracy'])} ({fmt.signed_points(gain)}). It finds "
        f"{fmt.percent(result['recall'])} of the images labelled {target} (recall); balanced accuracy, which weighs "
        f"images with and without {target} equally, is {fmt.percent(result['balanced_accuracy'])} (50% = no better "
        f"than always answering the same). The labels that push the answer most: {strongest}.",
        figures,
    )


# ---------------------------------------------------------------- lesson 2: conditional probabilities


def pair(data: LessonData, a: str, b: str, where: tuple[tuple[str, int], ...] = ()) -> Answer:
    """Relations page, 'One pair': P(A | B) beside P(B | A), P(A | not B), lift and the counts behind them."""
    if missing := _missing_attributes(data, a, b):
        return missing
    p = stats.pair_summary(_relations(data, subset_of(data, where)), a, b)
    n, n11 = p["n"], p["n11"]
    n_a, n_b = n11 + p["n10"], n11 + p["n01"]
    expected = n_a * n_b / n if n else float("nan")
    figures = [
        Figure(f"P({a} | {b})", fmt.decimal(p["P(A|B)"], missing=UNDEFINED)),
        Figure(f"P({b} | {a})", fmt.decimal(p["P(B|A)"], missing=UNDEFINED)),
        Figure(f"P({a} | not {b})", fmt.decimal(p["P(A|not B)"], missing=UNDEFINED)),
        Figure("lift", fmt.decimal(p["lift"], missing=UNDEFINED)),
    ]
    text = (
        f"P({a} | {b}) = {fmt.decimal(p['P(A|B)'], missing=UNDEFINED)}: of the {fmt.count(n_b)} images labelled {b}, "
        f"{fmt.count(n11)} are labelled {a}. P({b} | {a}) = {fmt.decimal(p['P(B|A)'], missing=UNDEFINED)}: of the "
        f"{fmt.count(n_a)} images labelled {a}, the same {fmt.count(n11)}. Same count on top, different denominators: "
        f"they answer different questions. Without {b}, P({a}) is {fmt.decimal(p['P(A|not B)'], missing=UNDEFINED)}."
    )
    if n and expected > 0:
        figures.append(
            Figure(
                "together vs expected",
                f"{fmt.count(n11)} together, {fmt.decimal(expected, 1)} expected if unrelated",
                "text",
            )
        )
        text += (
            f" Lift {fmt.decimal(p['lift'], missing=UNDEFINED)}: {fmt.count(n11)} images have both where "
            f"{fmt.decimal(expected, 1)} would if {a} and {b} were unrelated."
        )
    return Answer(text, tuple(figures))


def small_count(data: LessonData, a: str, b: str, where: tuple[tuple[str, int], ...]) -> Answer:
    """Relations page filtered to a subset: P(A | B) from few images, with its 95 % interval."""
    if missing := _missing_attributes(data, a, b):
        return missing
    subset = subset_of(data, where)
    rel = _relations(data, subset)
    if rel.n == 0:
        return Answer(f"No image matches {subset.describe()} in {data.ds.name}: nothing to count.")
    p = stats.pair_summary(rel, a, b)
    n_b = p["n11"] + p["n01"]
    rate = Rate(p["n11"], n_b)
    figures = [
        Figure("Images in the subset", fmt.count(rel.n)),
        Figure(f"P({a} | {b})", fmt.decimal(p["P(A|B)"], missing=UNDEFINED)),
    ]
    if not n_b:
        return Answer(
            f"None of the {fmt.count(rel.n)} images ({subset.describe()}) is labelled {b}: P({a} | {b}) is undefined.",
            tuple(figures),
        )
    figures.append(Figure(f"P({a} | {b}) with its count", rate.describe(), "text"))
    low, high = rate.interval
    among = (
        f"Of all {fmt.count(rel.n)} images"
        if subset.is_everything
        else f"Among the {fmt.count(rel.n)} images with {subset.describe()}"
    )
    text = (
        f"{among}, only {fmt.count(n_b)} are labelled {b}, and {fmt.count(p['n11'])} of those {a}: P({a} | {b}) = "
        f"{fmt.decimal(p['P(A|B)'], missing=UNDEFINED)}, but with 95% confidence it could be anywhere from "
        f"{fmt.percent(low)} to {fmt.percent(high)}."
    )
    if n_b < FEW_IMAGES:
        figures.append(Figure("too few", f"Only {fmt.count(n_b)} images have {b} here", "text"))
        text += f" Fewer than {FEW_IMAGES} images: the page warns that this is too few to read."
    return Answer(text, tuple(figures))


# ---------------------------------------------------------------- classifiers (lessons 1, 3, 6)


def _model(data: LessonData, attributes: tuple[str, ...]):
    """(model meta, None) or (None, an Answer saying what to do first)."""
    if missing := _missing_attributes(data, *attributes):
        return None, missing
    meta = data.model_for(attributes)
    if meta is not None:
        return meta, None
    ds = data.ds
    if data.embeddings is None:
        if not ds.has_images:
            return None, unavailable(
                "images",
                f"{ds.name} has no image files and no face embeddings, so no face classifier can be trained on it. "
                "The other steps of this lesson still work; open the demo to see this one.",
            )
        return None, unavailable(
            "embeddings",
            "No classifier yet, and it is trained on face embeddings, which this dataset does not have yet: compute "
            "them first (button below), then train the lesson's model.",
        )
    return None, unavailable(
        "model",
        f"No stored {LESSON_MODEL_WORDS} predicts {', '.join(attributes)} yet: train the lessons' classifier (button "
        "below).",
    )


def classifier_params(data: LessonData, attribute: str, by: str | None = None) -> dict[str, str]:
    """The Classifiers page's view of the lesson model on one attribute (and its subgroups)."""
    meta = data.model_for((attribute,)) if attribute in data.ds.attributes else None
    params = {"model": meta.model_id} if meta is not None else {}
    params["attr"] = attribute
    if by:
        params["by"] = by
    return params


def _predictions(data: LessonData, meta, attribute: str):
    """(labels, probabilities, rows, threshold) of one attribute on the model's test split, as the page reads them."""
    preds = data.test_predictions(meta)
    j = meta.attributes.index(attribute)
    return (
        preds["labels"][:, j],
        preds["probs"][:, j],
        preds["rows"],
        meta.threshold(attribute),
    )


def classifier_scores(data: LessonData, attribute: str) -> Answer:
    """Classifiers page, threshold view: accuracy beside balanced accuracy for one attribute of the lesson model."""
    meta, missing = _model(data, (attribute,))
    if missing:
        return missing
    try:
        y, p, _rows, threshold = _predictions(data, meta, attribute)
    except ModelFileError as exc:
        return Answer(str(exc))  # says what happened and what to do
    why = caution(meta, attribute)
    if why:
        return Answer(
            f"The model's test split holds too few images to score {attribute} ({why}): with a rare attribute and "
            "a small dataset there is nothing to learn from its accuracy at all.",
            (Figure("too few", f"Too few images to score {attribute}", "text"),),
        )
    m = binary_metrics(y, p, threshold)
    return Answer(
        f"At threshold {fmt.decimal(threshold, THRESHOLD_DECIMALS)} the classifier is right on {fmt.percent(m['accuracy'])} of the test "
        f"images; always answering the majority would be right on {fmt.percent(m['majority_accuracy'])}. Balanced "
        f"accuracy, the mean of its hit rates on images with and without {attribute}, is "
        f"{fmt.percent(m['balanced_accuracy'])}: that is the figure to compare across attributes.",
        (
            Figure("Accuracy", fmt.percent(m["accuracy"])),
            Figure("Balanced accuracy", fmt.percent(m["balanced_accuracy"])),
        ),
    )


def subgroups(data: LessonData, attribute: str, by: str) -> Answer:
    """Classifiers page, 'Subgroups': the model's accuracy and yes-rate within `by` and not `by`, and the gap."""
    meta, missing = _model(data, (attribute,))
    if missing:
        return missing
    if missing := _missing_attributes(data, by):
        return missing
    try:
        y, p, rows, threshold = _predictions(data, meta, attribute)
    except ModelFileError as exc:
        return Answer(str(exc))  # says what happened and what to do
    groups = data.ds.attribute_matrix(rows)[:, data.ds.attributes.index(by)]
    table = subgroup_metrics(y, p, groups, (f"not {by}", by), threshold).to_dicts()
    others, members, gap = table
    gap_label = f"Accuracy gap for {attribute} between {by} and not {by}"
    figures = [Figure(gap_label, fmt.percent(gap["accuracy"]))]
    yes = y.astype(bool)
    small = [
        name
        for name, mask in ((f"not {by}", groups == 0), (by, groups == 1))
        if mask.sum() < MIN_MODEL_IMAGES or min(yes[mask].sum(), (~yes[mask]).sum()) < MIN_MODEL_POSITIVES
    ]
    if small:
        figures.append(Figure("too few", "Too few test images in", "text"))
        return Answer(
            f"The accuracy gap is {fmt.percent(gap['accuracy'])}, but too few test images in {' and '.join(small)} "
            f"carry both answers for {attribute}: a gap this size can be chance. Use a larger dataset.",
            tuple(figures),
        )
    sentence = subgroup_sentence(attribute, by, members, others)
    figures.append(Figure("by group", sentence, "text"))
    return Answer(
        f"{sentence} A gap is a difference in how the model treats faces labelled {by} and the others; read it beside "
        f"their base rates ({fmt.percent(members['positive_rate'])} vs {fmt.percent(others['positive_rate'])} labelled "
        f"{attribute}) and their majority baselines ({fmt.percent(members['majority_accuracy'])} vs "
        f"{fmt.percent(others['majority_accuracy'])}): a group where {attribute} is rare gets high accuracy for free.",
        tuple(figures),
    )


def subgroup_sentence(attribute: str, by: str, members: dict, others: dict) -> str:
    """The sentence the Classifiers page writes under its subgroup table."""
    return (
        f"The model is right on {fmt.percent(members['accuracy'])} of the {by} images and "
        f"{fmt.percent(others['accuracy'])} of the others; it says yes to "
        f"{fmt.percent(members['predicted_positive_rate'])} of the {by} images "
        f"({fmt.percent(members['positive_rate'])} are labelled {attribute}) and to "
        f"{fmt.percent(others['predicted_positive_rate'])} of the others ({fmt.percent(others['positive_rate'])})."
    )


def fairness_params(data: LessonData, attribute: str, by: str) -> dict[str, str]:
    """The Classifiers page with its fairness section auditing `attribute` grouped by `by`."""
    return classifier_params(data, attribute) | {"fby": by}


def _audit(data: LessonData, attribute: str, by: str):
    """(the page's audit of the lesson model for `attribute` by `by`, None) or (None, an Answer saying what to do)."""
    meta, missing = _model(data, (attribute,))
    if missing:
        return None, missing
    if missing := _missing_attributes(data, by):
        return None, missing
    try:
        return audit_model(data.ds, meta, data.test_predictions(meta), attribute, (by,)), None
    except ModelFileError as exc:
        return None, Answer(f"The stored predictions cannot be read ({exc}).")


def _base_rates(data: LessonData, attribute: str, by: str) -> tuple[Rate, Rate]:
    """P(attribute | by) and P(attribute | not by) over the whole dataset."""
    ds = data.ds
    x = ds.attribute_matrix()[:, [ds.attributes.index(attribute), ds.attributes.index(by)]].astype(bool)
    has, member = x[:, 0], x[:, 1]
    return Rate(int((has & member).sum()), int(member.sum())), Rate(int((has & ~member).sum()), int((~member).sum()))


def worst_group(data: LessonData, attribute: str, by: str) -> Answer:
    """Classifiers page, 'Fairness: the worst group': whom the model serves worst, and the gap in what it finds."""
    audit, missing = _audit(data, attribute, by)
    if missing:
        return missing
    members, others = _base_rates(data, attribute, by)
    base = (
        f"In the whole dataset {fmt.k_of_n(members.k, members.n)} {by} faces are labelled {attribute}, against "
        f"{fmt.percent(others.share)} of the others."
    )
    eo = audit.equal_opportunity
    figures = [Figure("Equal-opportunity difference", fmt.points(eo.value))]
    group = next((g for g in audit.groups if g.name == by), None)
    if group is None or group.positives == 0:
        figures.append(Figure("no rate", "there is no true-positive rate to compare", "text"))
        return Answer(
            f"{base} The test split holds no face labelled both {by} and {attribute}, so whether the model finds "
            f"{attribute} on {by} faces cannot be measured at all: an audit can only score the groups its test "
            "images hold. A larger or differently split dataset is needed before anyone can say the model is fair "
            "to them.",
            tuple(figures),
        )
    found = group.rate("tpr")
    sentence = worst_sentence(audit)
    if sentence is not None:
        figures += [
            Figure(f"Worst group by {WORST_BY[audit.worst_by]}", audit.worst.name),
            Figure("worst group", sentence, "text"),
        ]
    low, high = found.interval
    return Answer(
        f"{base} On the test split the model finds {fmt.percent(found.share)} of the {by} faces labelled "
        f"{attribute} ({fmt.k_of_n(found.k, found.n)}; 95% interval {fmt.percent(low)}–{fmt.percent(high)}); the "
        f"true-positive rates of the groups are {fmt.points(eo.value)} apart (the equal-opportunity difference). "
        + (sentence.replace("**", "") if sentence else "")
        + f" A rare group gets high accuracy for free: its few {attribute} faces weigh little, so read balanced "
        "accuracy and the true-positive rate, each with its interval.",
        tuple(figures),
    )


def group_thresholds(data: LessonData, attribute: str, by: str) -> Answer:
    """Classifiers page, 'A threshold per group': what equal true-positive rates cost in accuracy."""
    audit, missing = _audit(data, attribute, by)
    if missing:
        return missing
    tradeoff = threshold_tradeoff(audit)
    if tradeoff is None:
        return Answer(
            f"Fewer than two groups have test faces labelled {attribute}, so there are no true-positive rates to equalise: "
            "the audit needs faces with the attribute in every group it compares.",
            (Figure("no rate", "Per-group thresholds need at least two groups", "text"),),
        )
    sentence = tradeoff_sentence(audit, tradeoff)
    return Answer(
        f"{sentence} A threshold per group closes the gap in what the model finds, usually at some cost in "
        "accuracy or in faces wrongly answered yes; whether that trade is right is a decision about people, not a "
        "figure the model can make. The thresholds are chosen on the test images themselves, so the figures are "
        "optimistic for new faces.",
        (Figure("trade-off", sentence, "text"),),
    )


# ---------------------------------------------------------------- lesson 4: face embeddings


def _need_embeddings(data: LessonData) -> Answer | None:
    if data.embeddings is not None:
        return None
    if not data.ds.has_images:
        return unavailable(
            "images",
            f"{data.ds.name} has no image files, so no face embeddings can be computed: open the demo (or a dataset "
            "with images) for this lesson.",
        )
    return unavailable("embeddings", "Compute the face embeddings first (button below); this step reads them.")


def query_image(data: LessonData) -> str | None:
    """A dataset image to search with: the first face whose identity has at least three faces (else any face)."""
    ds, emb = data.ds, data.embeddings
    if emb is None or not ds.has_images:
        return None
    rows = np.flatnonzero(emb.has_face)
    if not len(rows):
        return None
    if ds.has_identity:
        who = ds.table["identity"].to_numpy()[rows]
        known = np.array([w is not None for w in who])
        if known.any():
            labels, counts = np.unique(who[known].astype(str), return_counts=True)
            many = set(labels[counts >= 3])
            chosen = next((r for r, w in zip(rows, who) if w is not None and str(w) in many), None)
            if chosen is not None:
                return str(ds.table["image_id"][int(chosen)])
    return str(ds.table["image_id"][int(rows[0])])


def search_params(data: LessonData, k: int | None = None) -> dict[str, str]:
    image = query_image(data)
    params = {"image": image} if image else {}
    if k is not None:
        params["k"] = str(k)
    return params


LOOKALIKES = 12  # the look-alikes the Embeddings lesson shows at least
MOST_LOOKALIKES = 48  # the most Face search shows (its slider's end)


@dataclass(frozen=True)
class Lookalikes:
    """The lesson's query face among its nearest faces: who it is, and the first face of someone else."""

    image: str
    row: int
    identity: str
    stranger_rank: int | None  # 1-based rank of the nearest face not labelled as the query's identity
    stranger_distance: float | None
    stranger_identity: str | None

    @property
    def shown(self) -> int:
        """How many nearest faces the view shows: at least LOOKALIKES, and the stranger when Face search can."""
        return min(MOST_LOOKALIKES, max(LOOKALIKES, self.stranger_rank or 0))


def lookalikes(data: LessonData) -> Lookalikes | None:
    """The query image's nearest stranger, ranked as Face search's 'Every face in the dataset by distance' does."""
    ds, emb = data.ds, data.embeddings
    image = query_image(data)
    if image is None or emb is None or not ds.has_identity:
        return None
    row = ds.row_of(image)
    who = ds.table["identity"][row]
    ranked = all_distances(ds, index_for(emb), np.asarray(emb.vectors[row]))
    ranked = ranked.filter(ranked["row"] != row)
    others = [k for k, i in enumerate(ranked["identity"]) if i != who]
    if not others:
        return Lookalikes(image, row, str(who), None, None, None)
    first = others[0]
    return Lookalikes(
        image, row, str(who), first + 1, float(ranked["distance"][first]), ranked["identity"][first] or "no identity"
    )


def lookalike_params(data: LessonData) -> dict[str, str]:
    """Face search on the lesson's query image, showing enough look-alikes to reach the nearest stranger."""
    found = lookalikes(data)
    return search_params(data, found.shown if found else LOOKALIKES)


def embedding_overview(data: LessonData) -> Answer:
    """Face search page: how many faces have a descriptor and how many numbers make one."""
    if missing := _need_embeddings(data):
        return missing
    emb = data.embeddings
    shown = f"Searching {fmt.count(emb.n_valid)} faces ({emb.model} embeddings, {emb.dim} numbers each)."
    left = len(emb.has_face) - emb.n_valid
    return Answer(
        f"{fmt.count(emb.n_valid)} of the {fmt.count(len(emb.has_face))} images have a face descriptor of {emb.dim} "
        f"numbers ({fmt.count(left)} had no face the detector could find). Two photos are compared by the distance "
        f"between their {emb.dim} numbers: nothing else about the photo is used.",
        (Figure("faces and numbers", shown, "text"),),
    )


def same_person_distance(data: LessonData) -> Answer:
    """Face search page: the same-person distance calibrated on the dataset's own identities."""
    if missing := _need_embeddings(data):
        return missing
    ds, emb = data.ds, data.embeddings
    if not ds.has_identity:
        return unavailable(
            "identities",
            f"{ds.name} has no identity labels, so its same-person distance cannot be measured; the page uses "
            "dlib's own 0.6 for photos of real people.",
        )
    calibration = calibrate(emb.vectors, ds.table["identity"].to_numpy(), emb.has_face)
    if calibration is None:
        return Answer(f"{ds.name} has too few faces per identity to calibrate a same-person distance.")
    c = calibration
    medians = (
        f"the median distance between two photos of one person is {fmt.decimal(c.median_same, 2)}, between two "
        f"different people {fmt.decimal(c.median_different, 2)}"
    )
    measured = (
        f"Measured on {fmt.count(c.same_pairs)} pairs of photos of one person and {fmt.count(c.different_pairs)} "
        f"pairs of different people: {medians} (ROC AUC {fmt.decimal(c.auc)})."
    )
    cut = c.same_person
    if cut is None:
        shown = "No face is called the same person here"
        return Answer(
            f"{measured} {shown}: no distance finds the same person with a precision of at least "
            f"{fmt.percent(TARGET_PRECISION, 0)}.",
            (Figure("no claim", shown, "text"), Figure("medians", medians, "text")),
        )
    line = f"Same-person distance {fmt.decimal(cut.threshold, 3)}"
    precision = f"{fmt.percent(cut.precision)} of the faces closer than that to a query are the same person"
    return Answer(
        f"{measured} The page draws the line at {fmt.decimal(cut.threshold, 3)}: {precision}, and they are "
        f"{fmt.percent(cut.recall)} of the query's other photos. Two photos of one person can still be farther apart "
        "than that (the line is set for precision), so a face beyond it is not proof of a stranger.",
        (
            Figure("same-person distance", line, "text"),
            Figure("precision", precision, "text"),
            Figure("medians", medians, "text"),
        ),
    )


def nearest_same_identity(data: LessonData) -> Answer:
    """Face search page with a dataset image: how many of its nearest faces are the same person (by label), and
    how close the nearest face of someone else is."""
    if missing := _need_embeddings(data):
        return missing
    ds, emb = data.ds, data.embeddings
    if not ds.has_identity:
        return unavailable("identities", f"{ds.name} has no identity labels to tell a look-alike from the person.")
    found = lookalikes(data)
    if found is None:
        return Answer("No image of this dataset has a face descriptor.")
    k = found.shown
    hits = nearest_faces(ds, index_for(emb), np.asarray(emb.vectors[found.row]), k, "euclidean", found.row)
    same = sum(1 for i in hits["identity"] if i == found.identity)
    shown = same_identity_sentence(same, hits.height, found.identity)
    figures = [Figure("same identity among the nearest", shown, "text")]
    text = f"For {found.image} (identity {found.identity}): {shown}"
    if found.stranger_rank is None:
        return Answer(text + " Every other face of the dataset is this person: there is no stranger.", tuple(figures))
    distance = fmt.decimal(found.stranger_distance, DISTANCE_DECIMALS)
    if found.stranger_rank <= k:
        caption = f"{distance} · {found.stranger_identity}"
        figures.append(Figure("nearest stranger", caption, "text"))
        where = f"face {found.stranger_rank} of the {k} shown, captioned '{caption}'"
    else:
        where = (
            f"number {fmt.count(found.stranger_rank)} in 'Every face in the dataset by distance', past the {k} shown"
        )
    return Answer(
        f"{text} The nearest face of someone else (identity {found.stranger_identity}) is at distance {distance}: "
        f"{where}. Every closer face is the same person; a look-alike is as close as the descriptor can tell two "
        "people apart.",
        tuple(figures),
    )


def same_identity_sentence(same: int, k: int, identity) -> str:
    """The sentence the Face search page writes under the look-alikes of a labelled dataset image."""
    return f"{same} of the {k} nearest faces are labelled with the query's identity ({identity})."


# ---------------------------------------------------------------- lesson 5: clustering
# The Clustering page's views are core.cluster.view.View objects: a step writes its link with View.to_params and
# computes its answer from View.from_params of that link, the very rules the page reads its address with.

IDENTITY_SAMPLE = 20  # the clustering lesson groups the faces of the 20 most photographed people


def identity_view(data: LessonData, space: str, algo: str, **algo_params) -> dict[str, str]:
    """A Clustering view of the most photographed people's faces, coloured by identity (every face, coloured by
    cluster, on a dataset without identities)."""
    top, color = (IDENTITY_SAMPLE, "identity") if data.ds.has_identity else (0, "cluster")
    return cluster_params(data, space, algo, view_points(data), top, color, **algo_params)


def view_points(data: LessonData, most: int = 2_000) -> int:
    """Points of the lessons' clustering views: few enough for every step to run in the page at once."""
    return min(most, max(100, data.ds.n_images))


def cluster_params(
    data: LessonData, space: str, algo: str, n: int, top: int = 0, color: str = "cluster", **algo_params
) -> dict[str, str]:
    """URL parameters of a Clustering view (README "Links to a view"), the map coloured by `color`."""
    view = View(
        ViewOptions.of(data.ds),
        FeatureSpec(space),
        Subset(top_identities=top),
        n,
        ReductionSpec(),
        ClusterSpec.of(algo, **algo_params),
    )
    return view.to_params() | ({"color": color} if color != "cluster" else {})


def _space(data: LessonData, params: dict[str, str]) -> str:
    """The feature space a step's view asks for (left out of its link when it is the page's default)."""
    return params.get("space") or ViewOptions.of(data.ds).default_space


def _features(data: LessonData, params: dict[str, str]) -> tuple[FeatureMatrix, np.ndarray, View]:
    """The page's feature matrix of a view, its (reduced) points and the view itself."""
    view = View.from_params(params, data.ds)
    embeddings = data.embeddings if view.features.space == "embeddings" else None
    fm = build_features(data.ds, view.features, view.subset, view.point_limit, view.seed, embeddings=embeddings)
    return fm, reduce_by(fm.X, view.reduction, seed=view.seed).coords, view


def _cluster_missing(data: LessonData, space: str) -> Answer | None:
    if space == "embeddings":
        return _need_embeddings(data)
    return _missing_attributes(data)


def _scores(data: LessonData, fm: FeatureMatrix, X: np.ndarray, result: Clustering) -> tuple[str, list[Figure]]:
    """The Clustering page's scores of one result, as figures, and a sentence reading them."""
    inner = internal_metrics(X, result.labels, seed=0)
    silhouette = fmt.decimal(inner["silhouette"])
    noise = fmt.percent(inner["noise_fraction"])
    figures = [
        Figure("Clusters", fmt.count(inner["n_clusters"])),
        Figure("Noise", noise),
        Figure("Silhouette", silhouette),
    ]
    figures += [Figure("warning", w, "text") for w in result.warnings]
    text = (
        f"{fmt.count(fm.n)} faces, {fmt.plural(inner['n_clusters'], 'cluster')} ({noise} left as noise); "
        f"silhouette {silhouette} (an internal score: how separated the groups are, without knowing who is who)."
    )
    if result.warnings:
        text += f" {result.warnings[-1]}"
    if data.ds.has_identity:
        ext = external_metrics(data.ds.table["identity"].to_numpy()[fm.rows], result.labels)
        ari, f1 = fmt.decimal(ext["ari"]), fmt.decimal(ext["pairwise_f1"])
        figures += [Figure("ARI", ari), Figure("Pairwise F1", f1)]
        text += (
            f" Against the true identities (external scores): ARI {ari}, pairwise F1 {f1}; of the pairs of faces put "
            f"together, {fmt.percent(ext['pairwise_precision'], 0)} really are one person."
        )
    return text, figures


def clustering(data: LessonData, params: dict[str, str], goal: str, by_identity: bool = False) -> Answer:
    """Clustering page: clusters found, internal scores and (with identities) agreement with the true people.

    by_identity: the question is whether clusters are the people, which a dataset without identities cannot answer.
    """
    if missing := _cluster_missing(data, _space(data, params)):
        return missing
    if by_identity and not data.ds.has_identity:
        return unavailable(
            "identities",
            f"{data.ds.name} has no identity labels, so nothing says which faces belong to one person: its clusters "
            "can be scored only by how compact they are (silhouette), never by whether they are the people. Open "
            "the demo, or CelebA with its identity file, for this step.",
        )
    try:
        fm, X, view = _features(data, params)
    except DatasetError as exc:
        return Answer(str(exc))
    text, figures = _scores(data, fm, X, cluster_by(X, view.clustering, seed=view.seed))
    return Answer(f"{text} {goal}", tuple(figures))


def careless_eps(data: LessonData, space: str, pairs: int = 2000) -> float:
    """The typical distance between two faces of the view (median over seeded random pairs, 2 decimals): an eps
    chosen 'by feel', which chains nearly everything together."""
    if _cluster_missing(data, space):
        return 1.0
    _fm, X, _ = _features(data, identity_view(data, space, "dbscan"))
    rng = np.random.default_rng(0)
    first, second = rng.integers(0, len(X), pairs), rng.integers(0, len(X), pairs)
    keep = first != second
    diff = np.asarray(X[first[keep]], np.float64) - np.asarray(X[second[keep]], np.float64)
    return round(float(np.median(np.sqrt((diff**2).sum(axis=1)))), 2)


def dbscan_space(data: LessonData) -> str:
    """Embeddings when the dataset has them (DBSCAN's home ground), else annotated attributes."""
    return "embeddings" if data.embeddings is not None else "attributes"


def dbscan_params(data: LessonData, careless: bool) -> dict[str, str]:
    """DBSCAN (min_samples 3) at a careless eps, or at eps 0 (the page reads it off the k-distance curve), on the
    faces of the most photographed people: enough faces per person for dense groups to form."""
    space = dbscan_space(data)
    eps = careless_eps(data, space) if careless else 0
    return identity_view(data, space, "dbscan", eps=eps, min_samples=3)


def dbscan(data: LessonData, careless: bool) -> Answer:
    """The DBSCAN trap (one giant cluster at a careless eps) and the eps the k-distance curve suggests."""
    params = dbscan_params(data, careless)
    space = _space(data, params)
    if missing := _cluster_missing(data, space):
        return missing
    try:
        fm, X, view = _features(data, params)
    except DatasetError as exc:
        return Answer(str(exc))
    spec = view.clustering
    result = cluster_by(X, spec, seed=view.seed)
    text, figures = _scores(data, fm, X, result)
    if careless:
        goal = (
            f"eps {fmt.decimal(spec.param('eps'), 2)} is the typical distance between two faces here, so nearly "
            "every face has neighbours within it and the groups chain into one."
        )
    else:
        # eps 0: the clustering took the k-distance curve's suggestion (EPS_FLOOR when that was 0), as the page's
        # helper computes it for k = min_samples - 1.
        suggested = 0.0 if result.params["eps"] == EPS_FLOOR else float(result.params["eps"])
        k = max(1, int(spec.param("min_samples")) - 1)
        figures.append(Figure("suggested eps", f"Suggested eps: {fmt.decimal(suggested)}", "text"))
        goal = (
            f"eps 0 asks for the knee of the k-distance curve: {fmt.decimal(suggested)}, where the distance to a "
            f"face's {ordinal(k)}-nearest neighbour starts to climb."
        )
        if space == "attributes":
            goal += (
                " On 0/1 attributes distances take few values (the square root of how many labels differ), so the "
                "curve has no clean knee: DBSCAN is a poor fit here; k-means, or face embeddings, do better."
            )
    return Answer(f"{text} {goal}", tuple(figures))


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def rarest_present(data: LessonData, exclude: tuple[str, ...] = ()) -> str | None:
    """The attribute present in the fewest images (at least one) of the dataset, leaving out `exclude`."""
    ds = data.ds
    if len(ds.attributes) < 2:
        return None
    counts = _relations(data, Subset()).counts
    candidates = [(int(c), a) for a, c in zip(ds.attributes, counts) if c > 0 and a not in exclude]
    return min(candidates)[1] if candidates else None
