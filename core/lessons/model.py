"""What a lesson is: steps that each open a page in a preset state, ask a question and answer it from the data.

A step's `params` and `answer` are functions of the open dataset, so a lesson is written once and its figures
are always the dataset's own (never a number typed into the lesson). The answer is computed with the same core
functions the target page uses and carries each figure as that page shows it, so a test (and a student) can
check the lesson against the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.lessons.data import LessonData

# The prerequisites an answer can lack, and the sentence that says so when a step cannot be answered.
NEEDS = {
    "attributes": "attribute annotations (yes/no labels such as Smiling or Bald)",
    "identities": "identity labels (who is in each image)",
    "images": "image files",
    "embeddings": "face embeddings",
    "model": "a trained attribute classifier",
    "generator": "a trained face generator",
}

# The pages a step can open, by file under pages/ (Home.py and the pages' page_link paths use the same names).
PAGES = {
    "dataset": ("pages/1_Dataset.py", "Dataset"),
    "relations": ("pages/2_Attribute_relations.py", "Attribute relations"),
    "classifiers": ("pages/3_Attribute_classifiers.py", "Attribute classifiers"),
    "clustering": ("pages/4_Clustering.py", "Clustering"),
    "search": ("pages/5_Face_search.py", "Face search"),
    "generate": ("pages/8_Generated_faces.py", "Generated faces"),
}
SHOWN_AS = ("metric", "text")


@dataclass(frozen=True)
class Figure:
    """One number of an answer, written exactly as the target page shows it.

    shown "metric": the page has an st.metric labelled `label` whose value is `value`;
    shown "text": some text on the page (caption, markdown, alert) contains `value`.
    """

    label: str
    value: str
    shown: str = "metric"

    def __post_init__(self) -> None:
        if self.shown not in SHOWN_AS:
            raise ValueError(f"Unknown kind of figure {self.shown!r}; choose one of {', '.join(SHOWN_AS)}.")


@dataclass(frozen=True)
class Answer:
    """A step's answer on one dataset: what it means in words, and the figures behind it.

    missing names the prerequisite (a key of NEEDS) the dataset lacks when the step cannot be answered yet;
    `text` then says what to do.
    """

    text: str
    figures: tuple[Figure, ...] = ()
    missing: str | None = None

    @property
    def available(self) -> bool:
        return self.missing is None


def unavailable(need: str, text: str = "") -> Answer:
    """An Answer saying the dataset lacks `need` (a key of NEEDS), with what to do."""
    if need not in NEEDS:
        raise ValueError(f"Unknown prerequisite {need!r}; choose one of {', '.join(NEEDS)}.")
    return Answer(text or f"This step needs {NEEDS[need]}, which this dataset does not have.", missing=need)


@dataclass(frozen=True)
class Step:
    """One question: the page and view that show the answer, what to look at, and the answer itself."""

    title: str
    page: str  # a key of PAGES
    question: str
    look: str  # what to look at on the page
    params: Callable[[LessonData], dict[str, str]]  # the target page's URL parameters (besides dataset)
    answer: Callable[[LessonData], Answer]

    def __post_init__(self) -> None:
        if self.page not in PAGES:
            raise ValueError(f"Unknown page {self.page!r}; choose one of {', '.join(PAGES)}.")

    @property
    def page_file(self) -> str:
        return PAGES[self.page][0]

    @property
    def page_label(self) -> str:
        return PAGES[self.page][1]


@dataclass(frozen=True)
class Lesson:
    """A short guided walk through the app: a title, what it teaches, and its steps in order."""

    id: str  # the URL's lesson=<id>
    title: str
    summary: str
    steps: tuple[Step, ...]
