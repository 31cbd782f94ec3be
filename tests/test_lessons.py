"""Lessons (issue 17): every step opens its page in its view without an exception, on the demo (with embeddings and the
lessons' classifier) and on the real CelebA annotations without images; each live answer's figures are what that page
shows for the same view; the Lessons page keeps a student's place in the URL, links each step, degrades clearly on
datasets that lack what a step needs, and draws a one-page handout.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
from urllib.parse import parse_qs

import numpy as np
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from bench.synthetic_embeddings import identity_embeddings
from core import cached
from core.classify.train import train_attribute_model
from core.data.embeddings import save_embeddings
from core.data.ingest import open_dataset
from core.demo import DEFAULT_IMAGES, write_labels
from core.lessons.answers import clustering as clustering_answer
from core.lessons.answers import lookalikes
from core.lessons.catalogue import LESSONS, lesson_by_id, lesson_model_config
from core.lessons.data import LESSON_MODEL, LESSON_MODEL_WORDS, LessonData
from core.lessons.handout import COPIES, PAGE, figures_text, handout_bytes, handout_fits, handout_lines, render_handout
from core.lessons.model import Answer, Figure
from core.stats.intervals import MIN_MODEL_IMAGES, MIN_MODEL_POSITIVES
from tests.support import PROJECT, REAL_ANNOTATIONS
from ui import lessons as lessons_ui

HOME = str(PROJECT / "Home.py")
LESSONS_PAGE = "pages/7_Lessons.py"
EMBEDDING_MODEL = "lessons"  # not dlib's name: Face search then compares the stored vectors, as the lesson does
STEPS = [(lesson.id, k) for lesson in LESSONS.values() for k in range(len(lesson.steps))]


def _clear_caches() -> None:
    cached.dataset_refs.clear()
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(scope="module")
def lessons_home(demo_home, tmp_path_factory):
    """A home with the small demo (stand-in embeddings and the lessons' classifier), the real CelebA annotations
    without images (when ../shared is there), a demo copy without embeddings and a folder of people without labels."""
    home = tmp_path_factory.mktemp("lessons-home")
    data = home / "data"
    shutil.copytree(demo_home / "data" / "demo", data / "demo")
    images = sorted((data / "demo" / "Img" / "img_align_celeba").glob("*.jpg"))
    for k, image in enumerate(images[:8]):  # identities but no attributes, no embeddings
        person = data / "people" / f"Person_{k % 2}"
        person.mkdir(parents=True, exist_ok=True)
        shutil.copy(image, person / f"Person_{k % 2}_{k:04d}.jpg")
    # Attributes only (no identities, no images): the demo's first 300 rows, so the demo's classifier (which any
    # dataset with the same labels shares) is not this one's.
    attrs = data / "attrs" / "Anno"
    attrs.mkdir(parents=True)
    header, rows = (data / "demo" / "Anno" / "list_attr_celeba.txt").read_text().splitlines()[1:2], 300
    body = (data / "demo" / "Anno" / "list_attr_celeba.txt").read_text().splitlines()[2 : 2 + rows]
    (attrs / "list_attr_celeba.txt").write_text("\n".join([str(rows), *header, *body]) + "\n")
    if REAL_ANNOTATIONS.exists():
        (data / "celeba" / "Anno").mkdir(parents=True)
        for name in ("list_attr_celeba.txt", "identity_CelebA.txt"):
            shutil.copyfile(REAL_ANNOTATIONS / name, data / "celeba" / "Anno" / name)
    saved = {k: os.environ.get(k) for k in ("FACEATLAS_HOME", "FACEATLAS_CACHE")}
    os.environ["FACEATLAS_HOME"] = str(home)
    os.environ["FACEATLAS_CACHE"] = str(home / "cache")
    _clear_caches()
    ds = open_dataset(data / "demo", name="demo")
    vectors = identity_embeddings(ds.table["identity"].to_numpy(), seed=3)
    has_face = np.ones(len(vectors), bool)
    has_face[::50] = False
    save_embeddings(ds, EMBEDDING_MODEL, vectors, has_face, synthetic=True)
    train_attribute_model(ds, lesson_model_config(ds))
    yield home
    _clear_caches()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _dataset(home, name: str):
    if not (home / "data" / name).exists():
        pytest.skip(f"{name} is not in this home (../shared absent)")
    return open_dataset(home / "data" / name, name=name)


def _page_text(at: AppTest) -> str:
    parts = [e.value for kind in ("caption", "markdown", "warning", "info", "success", "error") for e in at.get(kind)]
    parts += [img.caption for e in at.get("image") for img in e.proto.imgs]  # a gallery's captions
    return "\n".join(str(p) for p in parts)


def _assert_shown(at: AppTest, figure: Figure, where: str) -> None:
    if figure.shown == "metric":
        shown = [m.value for m in at.metric if m.label == figure.label]
        assert shown == [figure.value], (where, figure, [(m.label, m.value) for m in at.metric])
    else:
        assert figure.value in _page_text(at), (where, figure, _page_text(at)[-3000:])


# What each dataset cannot answer, by (lesson, step index): the annotations have no images, so no embeddings and
# no face classifier; "attrs" (the demo's attributes alone) has no identities either; "people" (folders of images)
# has identities but no attributes and no embeddings yet. Everything else must be answered.
FACES = {
    ("base-rates", 3): "images",
    ("judgements", 3): "images",
    ("embeddings", 0): "images",
    ("embeddings", 1): "images",
    ("embeddings", 2): "images",
    ("clustering", 0): "images",
    ("fairness", 1): "images",
    ("fairness", 2): "images",
    ("fairness", 3): "images",
    ("fairness", 4): "images",
}
# The generator lesson (tests/test_generate.py checks its answers against its page): no generator is trained in
# this home, and it needs images before anything else.
GENERATOR_STEPS = [(lesson_id, k) for lesson_id, k in STEPS if lesson_id == "generator"]
NO_GENERATOR = dict.fromkeys(GENERATOR_STEPS, "generator")
NO_IMAGES = dict.fromkeys(GENERATOR_STEPS, "images")
UNANSWERABLE = {
    "demo": NO_GENERATOR,
    "attrs": FACES | {("clustering", 1): "identities"} | NO_IMAGES,
    "people": dict.fromkeys(STEPS, "attributes")
    | {("embeddings", 0): "embeddings", ("embeddings", 1): "embeddings", ("embeddings", 2): "embeddings"}
    | {("clustering", 0): "embeddings"}
    | NO_GENERATOR,
    "celeba": FACES | NO_IMAGES,
}
LEAST_COMPARED = {"demo": 60, "celeba": 40, "attrs": 30, "people": 0}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["demo", "celeba", "attrs", "people"])
def test_every_step_opens_its_view_showing_the_lessons_figures(lessons_home, name):
    ds = _dataset(lessons_home, name)
    data = LessonData(ds)
    compared = 0
    for lesson_id, k in STEPS:
        step = lesson_by_id(lesson_id).steps[k]
        where = f"{name} {lesson_id} step {k + 1}"
        answer = step.answer(data)
        assert answer.missing == UNANSWERABLE[name].get((lesson_id, k)), (where, answer)
        assert answer.text
        at = AppTest.from_file(str(PROJECT / step.page_file), default_timeout=120)
        at.query_params.update({"dataset": name, **step.params(data)})
        at.run()
        assert not at.exception, (where, at.exception)
        for figure in answer.figures:
            _assert_shown(at, figure, where)
            compared += 1
        assert answer.figures or not answer.available, where
    print(name, "figures compared:", compared)
    assert compared >= LEAST_COMPARED[name], compared


GARBLED = "not-a-choice"


@pytest.mark.slow
def test_every_step_parameter_is_one_its_page_reads(lessons_home):
    """A step's view is the page's view only if the page reads each of its parameters: set to nonsense, the page
    replaces it (falls back to its default), where a name the page does not read would stay in the address."""
    data = LessonData(_dataset(lessons_home, "demo"))
    probes: dict[tuple[str, str], dict[str, str]] = {}
    for lesson_id, k in STEPS:
        step = lesson_by_id(lesson_id).steps[k]
        params = step.params(data)
        for name in params:
            probes.setdefault((step.page_file, name), params)
    assert len(probes) >= 15, sorted(probes)
    for (page, name), params in probes.items():
        at = AppTest.from_file(str(PROJECT / page), default_timeout=120)
        at.query_params.update({"dataset": "demo", **params, name: GARBLED})
        at.run()
        assert not at.exception, (page, name, at.exception)
        assert at.query_params.get(name) not in (GARBLED, [GARBLED]), f"{page} does not read {name}="


def test_the_lessons_page_links_each_step_to_its_view(lessons_home):
    """Walking one session through every lesson and step: each 'Open … in this view' link is the step's view."""
    data = LessonData(_dataset(lessons_home, "demo"))
    at = _lessons_page({"dataset": "demo"})
    for lesson_id, k in STEPS:
        if at.selectbox(key="lesson").value != lesson_id:
            at.selectbox(key="lesson").select(lesson_id).run()
        at.get("button_group")[0].set_value(k + 1).run()
        assert not at.exception, (lesson_id, k, at.exception)
        step = lesson_by_id(lesson_id).steps[k]
        link = next(p for p in _page_links(at) if p.label == f"Open {step.page_label} in this view")
        assert link.page == step.page_file.removeprefix("pages/").removesuffix(".py").split("_", 1)[1]
        query = {key: v[0] for key, v in parse_qs(link.query_string).items()}
        assert query == {"dataset": "demo", **step.params(data)}, (lesson_id, k)


def test_the_dbscan_steps_show_the_trap_and_the_way_out(lessons_home):
    """On the demo's people, a careless eps chains every face into one cluster; the k-distance curve's eps does not."""
    data = LessonData(_dataset(lessons_home, "demo"))
    careless, knee = (lesson_by_id("clustering").steps[k].answer(data) for k in (2, 3))
    figures = {a: {f.label: f.value for f in a.figures} for a in (careless, knee)}
    assert figures[careless]["Clusters"] == "1" and "One cluster holds 100%" in figures[careless]["warning"]
    assert int(figures[knee]["Clusters"]) > 5 and float(figures[knee]["ARI"]) > 0.1, figures[knee]


def test_clustering_views_follow_the_pages_own_defaults(lessons_home):
    """An n the page refuses (more points than the dataset has) falls back to the page's default, in both."""
    ds = _dataset(lessons_home, "demo")
    params = {"space": "attributes", "algo": "kmeans", "n": "999999", "k": "5"}
    answer = clustering_answer(LessonData(ds), params, "")
    at = AppTest.from_file(str(PROJECT / "pages" / "4_Clustering.py"), default_timeout=120)
    at.query_params.update({"dataset": "demo", **params})
    at.run()
    assert not at.exception
    assert any(f"{ds.n_images:,} points" in c.value for c in at.caption)
    for figure in answer.figures:
        _assert_shown(at, figure, "n out of range")


def _lessons_page(params: dict) -> AppTest:
    """The Lessons page in a fresh session opened on `params` (through Home, so its page links resolve)."""
    at = AppTest.from_file(HOME, default_timeout=120)
    at.query_params.update(params)
    at.run()
    at.switch_page(LESSONS_PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def _page_links(at: AppTest) -> list:
    return [e.proto for e in at.get("page_link")]


def test_a_step_link_opens_its_view_and_progress_survives_a_reload(lessons_home):
    ds = _dataset(lessons_home, "demo")
    lesson = lesson_by_id("conditional")
    at = _lessons_page({"dataset": "demo", "lesson": "conditional", "step": "2"})
    assert at.selectbox(key="lesson").value == "conditional"
    assert at.get("button_group")[0].value == 2  # the step picker
    link = next(p for p in _page_links(at) if "Open Attribute relations" in p.label)
    query = {k: v[0] for k, v in parse_qs(link.query_string).items()}
    assert query == {"dataset": "demo", "measure": "lift", "pair_a": "Eyeglasses", "pair_b": "Male"}
    assert link.page == "Attribute_relations"
    answer = lesson.steps[1].answer(LessonData(ds))
    assert all(f.value not in _page_text(at) for f in answer.figures)  # hidden until revealed
    at.button(key="lesson-reveal-conditional-2").click().run()
    assert not at.exception, at.exception
    text = _page_text(at)
    assert all(line in text for line in figures_text(answer)), text
    assert at.query_params["done"] in ("2", ["2"])
    # The class link: the step without the revealed answers.
    assert any(c.value.endswith("?dataset=demo&lesson=conditional&step=2") for c in at.code), [c.value for c in at.code]
    # A reload is a new session on the same address: the same step, its answer still revealed.
    again = _lessons_page({k: v if isinstance(v, str) else v[0] for k, v in dict(at.query_params).items()})
    assert again.get("button_group")[0].value == 2
    assert all(line in _page_text(again) for line in figures_text(answer))
    again.button(key="lesson-next").click().run()
    assert again.get("button_group")[0].value == 3
    assert again.query_params["step"] in ("3", ["3"])
    assert "Reveal the answer" in [b.label for b in again.button]


def test_back_from_a_page_the_lesson_and_step_are_kept(lessons_home):
    """Following a step's link leaves the Lessons page (and its URL); coming back shows the same lesson and step."""
    _dataset(lessons_home, "demo")
    at = _lessons_page({"dataset": "demo", "lesson": "fairness", "step": "2"})
    at.switch_page("pages/2_Attribute_relations.py").run()
    assert not at.exception, at.exception
    for name in ("lesson", "step"):
        at.query_params.pop(name, None)
    at.switch_page(LESSONS_PAGE).run()
    assert at.selectbox(key="lesson").value == "fairness"
    assert at.get("button_group")[0].value == 2
    at.selectbox(key="lesson").select("clustering").run()  # another lesson starts at its first step
    assert at.get("button_group")[0].value == 1


def test_home_links_to_the_lessons(lessons_home):
    at = AppTest.from_file(HOME, default_timeout=60)
    at.query_params["dataset"] = "demo"
    at.run()
    assert any(p.label == "Lessons" and p.page == "Lessons" for p in _page_links(at))


@pytest.mark.parametrize(
    ("name", "lesson", "step", "says", "button"),
    [
        ("people", "base-rates", "1", "has no attribute annotations", None),
        ("people", "embeddings", "1", "Compute the face embeddings first", "Compute face embeddings"),
        ("celeba", "fairness", "2", "no image files and no face embeddings", None),
    ],
)
def test_steps_say_what_a_dataset_lacks(lessons_home, name, lesson, step, says, button):
    _dataset(lessons_home, name)
    at = _lessons_page({"dataset": name, "lesson": lesson, "step": step})
    assert any(says in i.value for i in at.info), [i.value for i in at.info]
    assert not at.error, [e.value for e in at.error]
    labels = [b.label for b in at.button]
    assert "Reveal the answer" not in labels
    if button:
        assert button in labels
    assert any(p.label.startswith("Open ") for p in _page_links(at))  # the page can still be opened


def test_no_model_offers_the_training_button(lessons_home, tmp_path, monkeypatch):
    """With embeddings but no classifier, a classifier step offers to train the lessons' model (a background job)."""
    ds = _dataset(lessons_home, "demo")
    monkeypatch.setattr(LessonData, "models", property(lambda self: []))
    answer = lesson_by_id("fairness").steps[1].answer(LessonData(ds))
    assert answer.missing == "model"
    monkeypatch.setattr(cached, "saved_models", lambda *a, **k: [])
    st.cache_data.clear()  # answers cached while the model was listed
    at = _lessons_page({"dataset": "demo", "lesson": "fairness", "step": "2"})
    assert "Train the lessons' classifier" in [b.label for b in at.button]


@pytest.mark.parametrize("lesson_id", list(LESSONS))
def test_the_student_copy_asks_and_the_teacher_copy_answers(lessons_home, lesson_id):
    """Both copies hold every question and view; only the teacher copy holds the answers and their figures, and
    each fits one page at a readable size."""
    ds = _dataset(lessons_home, "demo")
    data = LessonData(ds)
    lesson = lesson_by_id(lesson_id)
    answers = [s.answer(data) for s in lesson.steps]
    views = [lessons_ui.view_text(s.params(data)) for s in lesson.steps]
    student = "\n".join(handout_lines(lesson, ds.name, answers, views, "2026-01-01", "student"))
    teacher = "\n".join(handout_lines(lesson, ds.name, answers, views, "2026-01-01", "teacher"))
    for step, answer, view in zip(lesson.steps, answers, views):
        assert all(step.question in text and view in text for text in (student, teacher))
        assert answer.text in teacher and all(line in teacher for line in figures_text(answer))
        if answer.available:  # else both copies say what the step needs first (no generator trained yet, say)
            assert answer.text not in student
            assert not [line for line in figures_text(answer) if line in student], step.title
    doable = sum(a.available for a in answers)
    assert student.count("Your answer:") == doable and "Your answer:" not in teacher
    assert all(handout_fits(lesson, ds.name, answers, views, copy) for copy in ("student", "teacher"))


def test_handout_is_one_page_with_the_questions_and_figures(lessons_home):
    ds = _dataset(lessons_home, "demo")
    data = LessonData(ds)
    lesson = lesson_by_id("base-rates")
    answers = [s.answer(data) for s in lesson.steps]
    views = ["view"] * len(lesson.steps)
    image = render_handout(lesson, ds.name, answers, views, "2026-01-01", "teacher")
    png = Image.open(io.BytesIO(handout_bytes(image, "png")))
    assert png.size == PAGE and png.format == "PNG"
    ink = np.asarray(png.convert("L")) < 128
    assert ink[: PAGE[1] // 2].mean() > 0.01  # text on the page, not a blank sheet
    pdf = handout_bytes(image, "pdf")
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") <= 1
    with pytest.raises(ValueError, match="png, pdf"):
        handout_bytes(image, "gif")


def test_handout_buttons_on_the_page(lessons_home):
    ds = _dataset(lessons_home, "demo")
    at = _lessons_page({"dataset": "demo", "lesson": "fairness"})
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Student copy (PDF)", "Student copy (PNG)", "Teacher copy (PDF)", "Teacher copy (PNG)"]
    # What the PNG buttons hand the browser when clicked (they draw the handout only then): two different pages.
    pngs = [lessons_ui.handout_file(ds, LessonData(ds), lesson_by_id("fairness"), "png", c)() for c in COPIES]
    assert all(Image.open(io.BytesIO(png)).size == PAGE for png in pngs) and pngs[0] != pngs[1]


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match="base-rates"):
        lesson_by_id("nope")
    with pytest.raises(ValueError, match="metric, text"):
        Figure("x", "1", "chart")
    assert Answer("t").available


CLASSIFIER_STEPS = [
    (lesson.id, k) for lesson in LESSONS.values() for k, s in enumerate(lesson.steps) if s.page == "classifiers"
]


def test_classifier_steps_name_and_open_the_lessons_model_kind(lessons_home, monkeypatch):
    """A newer model of another kind (a CNN from pixels) is stored: every classifier step still says and opens the
    lessons' logistic regression on face embeddings, on the Lessons page's own link too."""
    ds = _dataset(lessons_home, "demo")
    logreg = LessonData(ds).model_for(("Bald",))
    assert logreg is not None and logreg.model == LESSON_MODEL
    cnn = dataclasses.replace(logreg, model_id="cnn-pixels-newer", model="cnn", features="pixels", created="9999")
    data = LessonData(ds, models=lambda ds: [cnn, logreg])
    for lesson_id, k in CLASSIFIER_STEPS:
        step = lesson_by_id(lesson_id).steps[k]
        assert LESSON_MODEL_WORDS in step.question, (lesson_id, k)
        assert step.params(data)["model"] == logreg.model_id, (lesson_id, k)
    monkeypatch.setattr(cached, "saved_models", lambda *a, **kw: [cnn, logreg])
    st.cache_data.clear()
    at = _lessons_page({"dataset": "demo", "lesson": "base-rates", "step": "4"})
    assert any(LESSON_MODEL_WORDS in m.value for m in at.markdown)
    link = next(p for p in _page_links(at) if p.label == "Open Attribute classifiers in this view")
    assert parse_qs(link.query_string)["model"] == [logreg.model_id]
    st.cache_data.clear()


def test_the_subgroup_steps_can_be_scored_on_the_default_demo(tmp_path):
    """Every step that compares a classifier across two groups has, in the default demo's test split, enough
    images in each group with both answers to be scored (the rule the answers and the page use)."""
    write_labels(tmp_path / "demo", DEFAULT_IMAGES, seed=0)
    ds = open_dataset(tmp_path / "demo", name="demo")
    test = ds.table["partition"].to_numpy() == "test"
    pairs = {
        (s.answer.keywords["attribute"], s.answer.keywords["by"])
        for lesson in LESSONS.values()
        for s in lesson.steps
        if {"attribute", "by"} <= set(getattr(s.answer, "keywords", {}))
    }
    assert ("Wavy_Hair", "Male") in pairs
    for attribute, by in pairs:
        labels = ds.attribute_matrix()[test]
        yes, group = labels[:, ds.attributes.index(attribute)] == 1, labels[:, ds.attributes.index(by)] == 1
        for members in (group, ~group):
            positives, negatives = int((yes & members).sum()), int((~yes & members).sum())
            assert members.sum() >= MIN_MODEL_IMAGES, (attribute, by, int(members.sum()))
            assert min(positives, negatives) >= MIN_MODEL_POSITIVES, (attribute, by, positives, negatives)


def test_the_lookalike_step_answers_how_close_the_nearest_stranger_is(lessons_home):
    """Its view shows enough faces to reach the first face of someone else, and the answer gives that face's
    distance and identity as the page captions it (every closer face is the query's person)."""
    ds = _dataset(lessons_home, "demo")
    data = LessonData(ds)
    step = lesson_by_id("embeddings").steps[2]
    found = lookalikes(data)
    assert found is not None and found.stranger_rank is not None
    params = step.params(data)
    assert int(params["k"]) == min(48, max(12, found.stranger_rank)) and params["image"] == found.image
    answer = step.answer(data)
    figures = {f.label: f.value for f in answer.figures}
    caption = f"{found.stranger_distance:.3f} · {found.stranger_identity}"
    assert figures["nearest stranger"] == caption and caption in answer.text
    emb = data.embeddings
    distances = np.linalg.norm(emb.vectors[emb.has_face] - emb.vectors[found.row], axis=1)
    who = ds.table["identity"].to_numpy()[emb.has_face]
    assert found.stranger_distance == pytest.approx(distances[who != found.identity].min(), abs=1e-3)
