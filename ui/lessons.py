"""Sections of the Lessons page: pick a lesson and a step, open its view, reveal its live answer, print a handout.

The lesson and step live in the URL (lesson=<id>&step=<n>), and so do the steps whose answers were revealed
(done=1,3), so a reload or a shared link keeps a student's place; the link for a class leaves `done` out.
"""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

import streamlit as st

from core import cached
from core import format as fmt
from core.cli.generate import generate_job_spec
from core.cli.train import train_job_spec
from core.data.dataset import Dataset
from core.generate.audit import AUDIT_SAMPLES, feature_space
from core.generate.models import DEFAULT_EPOCHS, GanConfig
from core.generate.train import estimated_seconds
from core.lessons.catalogue import LESSONS, lesson_model_config
from core.lessons.data import LessonData, data_version
from core.lessons.handout import COPIES, figures_text, handout_bytes, render_handout
from core.lessons.model import Answer, Lesson, Step
from ui import links, state
from ui.jobs import embeddings_prerequisite, job_launcher

LESSON, STEP, DONE = "lesson", "step", "done"  # URL parameter names (README "Links to a view")
TRAIN_SECONDS = 20  # logistic regression on embeddings for the lessons' attributes, job start included
GENERATOR_JOB = "lesson-generator-job"  # session key: the generator job this page started
LESSON_GENERATOR_SIZE = 32  # px: the lesson's generator trains in minutes where 64 px takes a quarter of an hour


def lesson_data(ds: Dataset) -> LessonData:
    """The open dataset with the loaders the other pages share (embeddings, stored classifiers, their predictions)."""
    return LessonData(
        ds,
        embeddings=cached.current_embeddings,
        models=cached.saved_models,
        predictions=lambda meta: cached.test_predictions(meta.model_id, meta.created),
    )


def _resume(key: str, last: str, name: str) -> None:
    """Back from another page (whose link dropped this page's parameters, and Streamlit this page's widget state):
    the lesson and step the student left (kept under `last`)."""
    if key not in st.session_state and name not in st.query_params and last in st.session_state:
        st.session_state[key] = st.session_state[last]


def lesson_picker() -> Lesson:
    """The lesson chosen (URL lesson=<id>), the first one by default."""
    ids = list(LESSONS)
    _resume(state.LESSON, state.LESSON_LAST, LESSON)
    chosen = links.synced(
        LESSON,
        state.LESSON,
        ids[0],
        lambda: st.selectbox(
            "Lesson",
            ids,
            format_func=lambda i: f"{ids.index(i) + 1}. {LESSONS[i].title}",
            key=state.LESSON,
            help=f"{len(ids)} short walks through FaceAtlas; each step opens a page in the state it talks about.",
        ),
        valid=links.one_of(ids),
    )
    st.session_state[state.LESSON_LAST] = chosen
    return LESSONS[chosen]


def _done(lesson: Lesson) -> set[int]:
    """Steps of this lesson whose answer was revealed: the URL's done= seeds the lesson a session opens on (a reload,
    a shared link); another lesson picked later starts with none."""
    if state.LESSONS_REVEALED not in st.session_state:
        try:
            shown = {int(x) for x in links.as_list(st.query_params.get(DONE, ""))}
        except ValueError:
            shown = set()
        st.session_state[state.LESSONS_REVEALED] = {lesson.id: {k for k in shown if 1 <= k <= len(lesson.steps)}}
    return st.session_state[state.LESSONS_REVEALED].setdefault(lesson.id, set())


def lesson_intro(ds: Dataset, data: LessonData, lesson: Lesson) -> None:
    """What the lesson teaches, what this dataset offers it, and the student's progress."""
    st.markdown(lesson.summary)
    offers = {
        "attributes": len(ds.attributes) >= 2,
        "identities": ds.has_identity,
        "images": ds.has_images,
        "face embeddings": data.embeddings is not None,
        "a trained classifier": bool(data.models),
    }
    st.caption(
        f"{ds.name} offers the lessons: "
        + " · ".join(f"{name} {'✓' if has else '✗'}" for name, has in offers.items())
        + ". Steps that need what is missing say so, and what to do."
    )
    done = _done(lesson)
    n = len(lesson.steps)
    st.progress(len(done) / n, text=f"{len(done)} of {n} answers revealed")


def _follow_lesson(lesson: Lesson) -> None:
    """A new lesson starts at its first step (the URL's step= applies to the lesson it came with)."""
    before = st.session_state.get(state.LESSON_STEP_OF)
    st.session_state[state.LESSON_STEP_OF] = lesson.id
    if before is not None and before != lesson.id:
        st.session_state[state.LESSON_STEP] = 1


def _move(delta: int, n: int) -> None:
    st.session_state[state.LESSON_STEP] = min(n, max(1, st.session_state.get(state.LESSON_STEP, 1) + delta))


def step_picker(lesson: Lesson) -> int:
    """The step shown (1-based; URL step=<n>), with previous/next buttons."""
    n = len(lesson.steps)
    _follow_lesson(lesson)
    numbers = list(range(1, n + 1))
    _resume(state.LESSON_STEP, state.LESSON_STEP_LAST, STEP)
    links.restore(state.LESSON_STEP, STEP, int, links.one_of(numbers))
    done = _done(lesson)
    step = st.segmented_control(
        "Step",
        numbers,
        default=1,
        required=True,
        format_func=lambda k: f"{'✓ ' if k in done else ''}{k}. {lesson.steps[k - 1].title}",
        key=state.LESSON_STEP,
    )
    links.remember(STEP, step, 1)
    st.session_state[state.LESSON_STEP_LAST] = step
    row = st.container(horizontal=True)
    row.button(
        "Previous step",
        key="lesson-prev",
        icon=":material/arrow_back:",
        on_click=_move,
        args=(-1, n),
        disabled=step == 1,
    )
    row.button(
        "Next step", key="lesson-next", icon=":material/arrow_forward:", on_click=_move, args=(1, n), disabled=step == n
    )
    return int(step)


def _reveal(lesson: Lesson, step: int, shown: bool) -> None:
    done = _done(lesson)
    (done.add if shown else done.discard)(step)


def view_text(params: dict[str, str]) -> str:
    """The view's parameters as one short line ('pair_a=Bald, pair_b=Male'; 'as it opens' when none)."""
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "as it opens"


def step_section(ds: Dataset, data: LessonData, lesson: Lesson, step: int) -> None:
    """The question, the link that opens the page in the step's view, what to look at, and the answer on request."""
    k = step - 1
    current = lesson.steps[k]
    version = data_version(ds)
    params = cached.lesson_view(data, lesson.id, k, version)
    st.subheader(f"{step}. {current.title}")
    st.markdown(f"**Question.** {current.question}")
    st.page_link(
        current.page_file,
        label=f"Open {current.page_label} in this view",
        icon=":material/open_in_new:",
        query_params={"dataset": ds.name, **params},
        help=f"Opens {current.page_label} on {ds.name} with {view_text(params)}.",
    )
    st.markdown(f"**Look at.** {current.look}")
    answer = cached.lesson_answer(data, lesson.id, k, version)
    if not answer.available:
        _prerequisite(ds, answer)
        return
    revealed = step in _done(lesson)
    if not revealed:
        st.button(
            "Reveal the answer",
            key=f"lesson-reveal-{lesson.id}-{step}",
            type="primary",
            on_click=_reveal,
            args=(lesson, step, True),
            help="Computed from the dataset that is open, with the same functions as the page.",
        )
    else:
        _answer(ds, answer)
        st.button(
            "Hide the answer", key=f"lesson-hide-{lesson.id}-{step}", on_click=_reveal, args=(lesson, step, False)
        )
    links.remember(DONE, sorted(_done(lesson)), [])


def _answer(ds: Dataset, answer: Answer) -> None:
    with st.container(border=True):
        st.markdown(f"**Answer on {ds.name}.** {answer.text}")
        if answer.figures:
            st.caption("As the page shows it:")
            st.markdown("\n".join(f"- {line}" for line in figures_text(answer)))


def _prerequisite(ds: Dataset, answer: Answer) -> None:
    """Why the step cannot be answered on this dataset, and the button that fixes it when one can."""
    if answer.missing == "embeddings":
        st.info(answer.text)
        embeddings_prerequisite(ds, "this lesson's steps on faces", key="lesson-embed")
    elif answer.missing == "model":
        st.info(answer.text)
        config = lesson_model_config(ds)
        job_launcher(
            train_job_spec(ds, config) if config else None,
            "Training the lessons' classifier",
            "Train the lessons' classifier",
            key="lesson-train",
            remember=state.LESSON_TRAIN_JOB,
            expected=TRAIN_SECONDS,
            help=f"Logistic regression on face embeddings for {', '.join(config.attributes) if config else 'none'}; "
            "about 20 s in the background. It then appears on the Attribute classifiers page too.",
        )
    elif answer.missing == "generator" and lesson_generator_job(ds) is not None:
        st.info(answer.text)
        job, expected = lesson_generator_job(ds)
        job_launcher(
            job,
            "Training the lesson's face generator",
            "Train a face generator",
            key="lesson-generator",
            remember=GENERATOR_JOB,
            expected=expected,
            help=f"A small generator (32 px) on {ds.name}'s faces, measured once trained; about "
            f"{fmt.duration(expected)} in the background. It then appears on the Generated faces page too.",
        )
    else:
        st.info(answer.text)


def lesson_generator_job(ds: Dataset):
    """(the job that trains and measures the lesson's generator, its expected seconds), or None when the dataset
    has a generator already (it only needs measuring, on its page) or has no images."""
    config = GanConfig(image_size=LESSON_GENERATOR_SIZE)
    if ds.images_found < config.batch_size or cached.generators(ds):
        return None
    embeddings = feature_space(ds) == "embeddings"
    expected = estimated_seconds(ds.n_images, config, DEFAULT_EPOCHS, AUDIT_SAMPLES, embeddings)
    return generate_job_spec(ds, config, DEFAULT_EPOCHS), expected


def class_link(ds: Dataset, lesson: Lesson, step: int) -> None:
    """The address of this step for a class: dataset, lesson and step only (no revealed answers)."""
    query = urlencode({"dataset": ds.name, LESSON: lesson.id, STEP: step})
    st.caption("Link to this step for your class (answers stay hidden until each student reveals them):")
    st.code(f"{st.context.url or ''}?{query}", language=None, wrap_lines=True)


def handout_file(ds: Dataset, data: LessonData, lesson: Lesson, kind: str, copy: str = "student"):
    """A callable that draws a handout (student or teacher copy) when its download button is clicked (never on an
    ordinary rerun)."""

    def draw() -> bytes:
        version = data_version(ds)
        answers = [cached.lesson_answer(data, lesson.id, k, version) for k in range(len(lesson.steps))]
        views = [view_text(cached.lesson_view(data, lesson.id, k, version)) for k in range(len(lesson.steps))]
        date = datetime.date.today().isoformat()
        return handout_bytes(render_handout(lesson, ds.name, answers, views, date, copy), kind)

    return draw


def handout_section(ds: Dataset, data: LessonData, lesson: Lesson) -> None:
    """Download buttons for the lesson's one-page handouts: a student copy without the answers, a teacher copy
    with them (computed from this dataset now)."""
    st.subheader("Handouts")
    st.caption(
        "One printable A4 page each: the **student copy** has every question of this lesson, the view to open, where "
        f"to look and room to answer; the **teacher copy** adds each answer with the figures of {ds.name} now "
        "(computed when you click, a few seconds)."
    )
    row = st.container(horizontal=True)
    for copy in COPIES:
        for kind, mime in (("pdf", "application/pdf"), ("png", "image/png")):
            row.download_button(
                f"{copy.capitalize()} copy ({kind.upper()})",
                handout_file(ds, data, lesson, kind, copy),
                file_name=f"faceatlas-{lesson.id}-{ds.name}-{copy}.{kind}",
                mime=mime,
                key=f"lesson-handout-{copy}-{kind}",
                on_click="ignore",
                icon=":material/download:",
            )


def all_lessons() -> None:
    """Every lesson in one glance."""
    with st.expander("All lessons", expanded=False):
        for n, lesson in enumerate(LESSONS.values(), 1):
            steps: tuple[Step, ...] = lesson.steps
            st.markdown(f"**{n}. {lesson.title}** ({len(steps)} steps): {lesson.summary}")
