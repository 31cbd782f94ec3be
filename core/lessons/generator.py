"""Live answers of the lesson 'What a generator learns from its data': each reads the dataset's newest stored
generator and its audit (what the Generated faces page shows first) and words its figures as that page does
(core.generate.report), so the answer and the page show the same strings.
"""

from __future__ import annotations

from core import format as fmt
from core.generate import report
from core.generate.audit import GeneratorAudit
from core.generate.store import GeneratorMeta
from core.lessons.data import LessonData
from core.lessons.model import Answer, Figure, unavailable

NOT_MEASURED = (
    "The generator of {name} has not been measured since it was last trained: open the Generated faces page and "
    "measure it (a background job), then come back."
)


def newest_generator(data: LessonData) -> GeneratorMeta | None:
    """The generator the page opens on: the dataset's most recently trained one."""
    return data.generators[0] if data.ds.has_images and data.generators else None


def _missing(data: LessonData) -> Answer | None:
    ds = data.ds
    if not ds.has_images:
        return unavailable("images", f"{ds.name} has no image files, so no generator can learn from its faces.")
    if not data.generators:
        return unavailable(
            "generator",
            f"No face generator has been trained on {ds.name} yet. Train one (a background job; at 16 or 32 px it "
            "takes a few minutes), then reveal the answer.",
        )
    return None


def _audit(data: LessonData) -> tuple[GeneratorAudit | None, Answer | None]:
    meta = newest_generator(data)
    measured = data.generator_audit(meta)
    if measured is None:
        return None, unavailable("generator", NOT_MEASURED.format(name=data.ds.name))
    return measured[0], None


def view(data: LessonData, **params: str) -> dict[str, str]:
    """The Generated faces page on the newest generator (nothing to set before one exists)."""
    meta = newest_generator(data)
    return {"gan": meta.generator_id, **params} if meta else {}


def emerging(data: LessonData) -> Answer:
    """How long it trained and whether the discriminator won: the last epoch's D(real) and D(fake)."""
    if missing := _missing(data):
        return missing
    meta = newest_generator(data)
    last = meta.last_epoch
    if last.d_fake < 0.1:
        verdict = "the discriminator wins outright, and a generator it always catches learns little"
    elif last.d_fake > 0.9:
        verdict = "the discriminator is fooled by almost every face: it has stopped teaching the generator anything"
    else:
        verdict = "neither network wins outright: they are still playing the game that teaches the generator"
    figures = (
        Figure(report.EPOCHS_TRAINED, fmt.count(meta.epochs_done)),
        Figure(report.D_REAL_LAST, report.belief(last.d_real)),
        Figure(report.D_FAKE_LAST, report.belief(last.d_fake)),
    )
    return Answer(
        f"The generator trained {fmt.plural(meta.epochs_done, 'epoch')} on {fmt.plural(meta.faces, 'face')}. After "
        "its first epoch its faces are blurs of the average face; each epoch adds what the discriminator caught it "
        f"missing. Over the last epoch the discriminator believed real faces real with a mean "
        f"{report.belief(last.d_real)} and generated ones with {report.belief(last.d_fake)}: {verdict}.",
        figures,
    )


def copies(data: LessonData) -> Answer:
    """The share of generated faces closer to a training face than two photos of one person, beside real faces."""
    if missing := _missing(data):
        return missing
    audit, missing = _audit(data)
    if missing:
        return missing
    c = audit.copying
    threshold = report.threshold_sentence(c, data.ds.name)
    if c.threshold is None:
        return Answer(threshold, (Figure("threshold", threshold, "text"),))
    sentence = report.copying_sentence(c)
    return Answer(
        f"{sentence} {threshold} A generator that copies would put its faces left of the line, closer than a "
        "person's own photos; one that only learnt what faces look like keeps them as far as strangers are.",
        (
            Figure(report.COPIED, fmt.percent(c.share_below)),
            Figure(report.REAL_COPIED, fmt.percent(c.real_share_below)),
            Figure("copying", sentence, "text"),
        ),
    )


def amplifies(data: LessonData) -> Answer:
    """The attribute whose share moved most between the training faces and the generated ones."""
    if missing := _missing(data):
        return missing
    audit, missing = _audit(data)
    if missing:
        return missing
    if not audit.prevalence:
        return unavailable(
            "model",
            f"No stored classifier of {data.ds.name} can score a generated face yet: train one (the Generated faces "
            "page offers a small CNN on the faces' pixels), measure the generator again, then reveal the answer.",
        )
    moved = report.most_changed(audit.prevalence)
    sentence = report.prevalence_sentence(moved)
    direction = "more common" if moved.generated_share > moved.real_share else "rarer"
    return Answer(
        f"The largest change: {sentence} The generator makes {moved.attribute} {direction} than the data it learnt "
        "from. Compare with the real faces scored the same way (the table's last columns): what they do not show is "
        "the generator's doing, not the classifier's.",
        (Figure("largest change", sentence, "text"),),
    )


def people(data: LessonData) -> Answer:
    """How many identities the nearest training faces of generated and of real faces belong to."""
    if missing := _missing(data):
        return missing
    if not data.ds.has_identity:
        return unavailable("identities", f"{data.ds.name} has no identity labels to count people by.")
    audit, missing = _audit(data)
    if missing:
        return missing
    d = audit.diversity
    return Answer(
        f"{report.diversity_sentence(d)} Fewer people among the generated faces means the generator draws a few "
        "kinds of face again and again (mode collapse), however new each one looks.",
        (Figure(report.PEOPLE_GENERATED, fmt.count(d.generated)), Figure(report.PEOPLE_REAL, fmt.count(d.real))),
    )
