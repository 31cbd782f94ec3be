"""A lesson's printable one-page handouts: the student copy (its questions, the view to open, where to look and room
to answer) and the teacher copy (the same with each answer and its figures, computed from the open dataset now).

Drawn with Pillow on an A4 page at 150 dpi (PNG), and saved as a one-page PDF by Pillow too, so no PDF library is
needed. The text shrinks until it fits one page.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from core.lessons.model import Answer, Lesson

PAGE = (1240, 1754)  # A4 portrait at 150 dpi
DPI = 150
MARGIN = 90
LARGEST, SMALLEST = 26, 13  # body font sizes tried, largest first
INK, GREY, ACCENT = (20, 20, 20), (95, 95, 95), (31, 119, 180)
COPIES = {"student": "student copy", "teacher": "teacher copy, with the answers"}
# Pillow's built-in font lacks some symbols; DejaVu (Debian's default) has them. Either way these are safe.
PLAIN = str.maketrans({"×": "x", "≥": ">=", "≤": "<=", "–": "-", "—": "-", "’": "'", "→": "->", "…": "..."})


@dataclass(frozen=True)
class Line:
    text: str
    size: int
    bold: bool = False
    colour: tuple[int, int, int] = INK
    gap: int = 0  # extra space above the line


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _wrap(text: str, font, width: int) -> list[str]:
    lines, current = [], ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and font.getlength(trial) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    return [*lines, current] if current else lines


def figures_text(answer: Answer | None) -> list[str]:
    """The figures of an answer as handout lines ('label: value', or the page's own words)."""
    if answer is None:
        return ["(not computed)"]
    if not answer.available:
        return [f"Not available on this dataset: {answer.text}"]
    if not answer.figures:
        return [answer.text]
    return [f.value if f.shown == "text" else f"{f.label}: {f.value}" for f in answer.figures]


def _check(copy: str) -> None:
    if copy not in COPIES:
        raise ValueError(f"Unknown handout copy {copy!r}; choose one of {', '.join(COPIES)}.")


def _content(
    lesson: Lesson,
    dataset: str,
    answers: Sequence[Answer | None],
    views: Sequence[str],
    date: str,
    body: int,
    copy: str,
) -> list[Line]:
    small = max(SMALLEST - 2, body - 4)
    out = [
        Line(f"FaceAtlas lesson: {lesson.title}", body + 14, True),
        Line(f"Dataset: {dataset} · {COPIES[copy]} · {date}", small, colour=GREY, gap=6),
        Line(lesson.summary, body, gap=14),
    ]
    for k, (step, answer, view) in enumerate(zip(lesson.steps, answers, views), 1):
        out.append(Line(f"{k}. {step.title}", body + 2, True, ACCENT, gap=22))
        out.append(Line(step.question, body, gap=4))
        out.append(Line(f"Open: {step.page_label} · {view}", small, colour=GREY, gap=4))
        out.append(Line(f"Look at: {step.look}", small, colour=GREY, gap=2))
        if answer is not None and not answer.available:  # both copies: the step cannot be done on this dataset
            out.append(Line(f"Not available on this dataset: {answer.text}", small, gap=6))
        elif copy == "teacher":
            out.append(Line("Answer:", small, True, gap=6))
            out.append(Line(answer.text if answer is not None else "(not computed)", small))
            if answer is not None and answer.figures:
                out.append(Line("As the page shows it:", small, True, gap=4))
                out += [Line(f"• {text}", small) for text in figures_text(answer)]
        else:
            out += [Line("Your answer: " + "_" * 60, small, colour=GREY, gap=10), Line("_" * 72, small, GREY, gap=8)]
    closing = "Answers computed live" if copy == "teacher" else "Views and steps checked"
    out.append(Line(f"{closing} by FaceAtlas on the dataset named above.", small, colour=GREY, gap=24))
    return out


def handout_lines(
    lesson: Lesson,
    dataset: str,
    answers: Sequence[Answer | None],
    views: Sequence[str],
    date: str,
    copy: str = "student",
) -> list[str]:
    """The handout's text, one entry per paragraph, before wrapping (what render_handout draws)."""
    _check(copy)
    return [line.text for line in _content(lesson, dataset, answers, views, date, LARGEST, copy)]


def _layout(lines: list[Line], width: int) -> tuple[list[tuple[Line, list[str], ImageFont.FreeTypeFont]], int]:
    laid, height = [], 0
    for line in lines:
        font = _font(line.size, line.bold)
        wrapped = _wrap(line.text.translate(PLAIN), font, width)
        laid.append((line, wrapped, font))
        height += line.gap + len(wrapped) * int(line.size * 1.32)
    return laid, height


def _body_size(lesson, dataset, answers, views, date, copy) -> tuple[int, list, bool]:
    """The largest body size whose layout fits one page: (size, layout, fits); the smallest size when none does."""
    width = PAGE[0] - 2 * MARGIN
    for body in range(LARGEST, SMALLEST - 1, -1):
        laid, height = _layout(_content(lesson, dataset, answers, views, date, body, copy), width)
        if height <= PAGE[1] - 2 * MARGIN:
            return body, laid, True
    return SMALLEST, laid, False


def handout_fits(
    lesson: Lesson, dataset: str, answers: Sequence[Answer | None], views: Sequence[str], copy: str = "student"
) -> bool:
    """Whether the handout fits one page at a readable size (else render_handout cuts its end)."""
    _check(copy)
    return _body_size(lesson, dataset, answers, views, "2000-01-01", copy)[2]


def render_handout(
    lesson: Lesson,
    dataset: str,
    answers: Sequence[Answer | None],
    views: Sequence[str],
    date: str,
    copy: str = "student",
) -> Image.Image:
    """The handout as an A4 RGB image: every step's question, the view to open and (teacher copy) its answer.

    views: one short description of each step's view (its URL parameters); date: when the figures were computed;
    copy: "student" (room to answer, no answers) or "teacher" (each answer with its figures).
    """
    _check(copy)
    _body, laid, _fits = _body_size(lesson, dataset, answers, views, date, copy)
    image = Image.new("RGB", PAGE, "white")
    draw = ImageDraw.Draw(image)
    y = MARGIN
    for line, wrapped, font in laid:
        y += line.gap
        for text in wrapped:
            if y + line.size > PAGE[1] - MARGIN // 2:  # the smallest size still overflows: cut, never a second page
                return image
            draw.text((MARGIN, y), text, fill=line.colour, font=font)
            y += int(line.size * 1.32)
    return image


def handout_bytes(image: Image.Image, kind: str) -> bytes:
    """The handout image as PNG or PDF bytes (a one-page PDF at 150 dpi)."""
    if kind not in ("png", "pdf"):
        raise ValueError(f"Unknown handout format {kind!r}; choose one of png, pdf.")
    buffer = io.BytesIO()
    if kind == "png":
        image.save(buffer, format="PNG", optimize=True)
    else:
        image.save(buffer, format="PDF", resolution=DPI)
    return buffer.getvalue()
