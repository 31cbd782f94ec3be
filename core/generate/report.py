"""The audit's figures in words, one wording for the page, the lesson and the command line.

Every number goes through core.format, so the lesson's answer and the page show the same string.
"""

from __future__ import annotations

from core import format as fmt
from core.faces.calibration import TRUSTWORTHY_AUC
from core.generate.audit import Copying, Diversity, Prevalence
from core.generate.store import GeneratorMeta
from core.stats.intervals import Rate

# Metric labels the page shows and the lesson's figures name.
EPOCHS_TRAINED = "Epochs trained"
D_FAKE_LAST = "D(fake), last epoch"
D_REAL_LAST = "D(real), last epoch"
COPIED = "Generated faces closer than the same-person distance"
REAL_COPIED = "Real faces closer than it"
SAME_PERSON = "Same-person distance"
PEOPLE_GENERATED = "People among generated faces"
PEOPLE_REAL = "People among real faces"

SPACE_WORDS = {
    "embeddings": "the dataset's face embedding (dlib's descriptor)",
    "pixels": "pixels (16 px; no face embeddings on this dataset)",
}


def belief(value: float) -> str:
    """A discriminator's mean probability of 'real', as the page shows it: two decimals."""
    return fmt.decimal(value, 2)


def threshold_sentence(copying: Copying, dataset: str) -> str:
    """Where 'same person' ends in the space the faces are compared in, and where that cut comes from."""
    if copying.threshold is None:
        return (
            f"{dataset} has no identity labels, so nothing says how close two photos of one person are in pixels: "
            "the distances are shown without a cut."
        )
    cut = fmt.decimal(copying.threshold, 3)
    if copying.source == "dlib":
        return f"Same person means closer than {cut}: dlib's cut for real photos ({dataset} has no identity labels)."
    sentence = (
        f"Same person means closer than {cut}: the cut between distances of photos of one person and of different "
        f"people of {dataset} (ROC AUC {fmt.decimal(copying.auc, 3)})."
    )
    if copying.auc is not None and copying.auc < TRUSTWORTHY_AUC:
        sentence += " That cut separates this dataset's people poorly, so a face below it is weak evidence of a copy."
    return sentence


def copying_sentence(copying: Copying) -> str:
    """The share of generated faces closer to a training face than the same-person distance, beside real faces."""
    if copying.threshold is None:
        return "Without a same-person distance, no face can be called a copy."
    generated = fmt.k_of_n(copying.generated_below, copying.generated, "generated faces")
    real = fmt.k_of_n(copying.real_below, copying.real, "real faces")
    return (
        f"{generated} are closer to a training face than two photos of one person usually are; measured the same way "
        f"(cut to the generator's size, their own photo left out), {real} are that close to another training photo."
    )


def prevalence_sentence(p: Prevalence) -> str:
    """'Eyeglasses: 12.0% of generated faces (…) vs 6.5% of the training faces (+5.5 pp).'"""
    generated = Rate(p.generated, p.generated_n)
    low, high = generated.interval
    return (
        f"{p.attribute}: {fmt.percent(generated.share)} of generated faces (95% interval {fmt.percent(low)}–"
        f"{fmt.percent(high)}) vs {fmt.percent(p.real_share)} of the training faces "
        f"({fmt.signed_points(p.generated_share - p.real_share)})."
    )


def most_changed(prevalence: tuple[Prevalence, ...]) -> Prevalence | None:
    """The scored attribute whose share moved most between training and generated faces (the first of ties)."""
    return max(prevalence, key=lambda p: abs(p.generated_share - p.real_share), default=None)


def diversity_sentence(diversity: Diversity) -> str:
    if diversity.generated is None:
        return "Without identity labels the faces cannot be counted by person."
    return (
        f"The nearest training faces of {fmt.count(diversity.generated_n)} generated faces belong to "
        f"{fmt.plural(diversity.generated, 'person', 'people')}; those of {fmt.count(diversity.real_n)} real faces to "
        f"{fmt.plural(diversity.real, 'person', 'people')}."
    )


def describe(meta: GeneratorMeta) -> str:
    """One line naming a stored generator in a picker."""
    conditioned = f"conditioned on {', '.join(meta.config.attributes)}" if meta.config.conditional else "unconditional"
    return (
        f"{meta.config.image_size} px · {fmt.plural(meta.epochs_done, 'epoch')} · {conditioned} · "
        f"{fmt.plural(meta.faces, 'face')} · {meta.updated[:16].replace('T', ' ')} ({meta.generator_id})"
    )
