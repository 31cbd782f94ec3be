"""A small class on one served app (issue 30): five students take one lesson step each through the app's websocket
(tests/streamlit_client.py, what bench/bench_class.py runs at 30), and no page shows an error; two students who
press the lesson's Train at once share one job, and a third who starts another training sees it wait in the queue;
a student's session state stays small.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import sys

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from bench.synthetic_embeddings import identity_embeddings
from core import cached
from core.data.embeddings import save_embeddings
from core.data.ingest import open_dataset
from core.jobs import acquire_slot, cancel_job, job_status
from core.lessons.catalogue import LESSONS
from tests.browser_support import start_server, stop_server
from tests.streamlit_client import StreamlitClient
from tests.support import PROJECT, copy_home, home_environment

LESSON = LESSONS["base-rates"]
MODEL_STEP = 4  # base-rates' step read from the lessons' classifier (Attribute classifiers)
SESSION_STATE_BOUND = 16 * 1024  # bytes of a student's session state after a lesson step (pickled)


@pytest.fixture(scope="module")
def class_home(demo_home, tmp_path_factory):
    """The small demo with stand-in face embeddings and no classifier: the lesson's last step offers to train it."""
    home = copy_home(demo_home, tmp_path_factory.mktemp("class-home"), ("demo",), cache=False)
    with home_environment(home):
        ds = open_dataset(home / "data" / "demo", name="demo")
        vectors = identity_embeddings(ds.table["identity"].to_numpy(), seed=3)
        save_embeddings(ds, "lessons", vectors, np.ones(len(vectors), bool), synthetic=True)
    return home


def train_jobs(home) -> set[str]:
    folder = home / "cache" / "jobs"
    return {p.name for p in folder.glob("train-*")} if folder.exists() else set()


async def take_a_step(base: str, step: int) -> tuple[list, StreamlitClient]:
    """One student: the teacher's link to `step`, the step's view, back through the sidebar, reveal the answer."""
    student = StreamlitClient(base)
    await student.connect()
    done = [await student.open("Lessons", f"dataset=demo&lesson={LESSON.id}&step={step}")]
    view = next(p for p in student.page_links() if p.label.startswith("Open "))
    done.append(await student.follow(view))
    done.append(await student.navigate("Lessons"))
    done.append(await student.click(f"lesson-reveal-{LESSON.id}-{step}"))
    return done, student


async def press_train_together(base: str) -> tuple[list, list[StreamlitClient]]:
    """Two students on the classifier step (no classifier yet) press Train at the same moment."""
    students = [StreamlitClient(base), StreamlitClient(base)]
    done = []
    for student in students:
        await student.connect()
        done.append(await student.open("Lessons", f"dataset=demo&lesson={LESSON.id}&step={MODEL_STEP}"))
    assert all(s.has_widget("button", "lesson-train") for s in students), [s.page.text() for s in students]
    done += await asyncio.gather(*(s.click("lesson-train") for s in students))
    return done, students


async def shown(client: StreamlitClient, text: str, limit_s: float = 120.0) -> None:
    """Until the page shows `text` (its job panel refreshes on its fragment's timer), or `limit_s` has passed: the
    assert that follows says what the page showed instead."""
    waited = 0.0
    while text not in client.page.text() and waited < limit_s:
        await asyncio.sleep(0.5)
        waited += 0.5


async def a_small_class(base: str, home) -> dict:
    (s1, c1), (s2, c2), (s3, c3), (trained, trainers) = await asyncio.gather(
        take_a_step(base, 1), take_a_step(base, 2), take_a_step(base, 3), press_train_together(base)
    )
    lesson_jobs = train_jobs(home)
    s3.append(await c3.navigate("Attribute_classifiers"))  # the third starts another training: it waits
    s3.append(await c3.click("clf-train"))
    await shown(c3, "it starts when one ends")  # the job's process says so once it waits for a slot
    out = {
        "interactions": [*s1, *s2, *s3, *trained],
        "lesson_jobs": lesson_jobs,
        "trainer_pages": [t.page.text() for t in trainers],
        "third_page": c3.page.text(),
        "jobs": train_jobs(home),
    }
    for client in (c1, c2, c3, *trainers):
        await client.close()
    return out


@pytest.mark.slow
def test_a_class_shares_one_training_job_and_sees_no_error(class_home, tmp_path, monkeypatch):
    """Five sessions on one server; one job slot, held by another job for the whole test, so every training waits
    in the queue (nothing here depends on how fast a job runs)."""
    monkeypatch.setenv("FACEATLAS_MAX_JOBS", "1")
    proc, base = start_server(class_home, tmp_path / "server.log")
    with home_environment(class_home):
        held = acquire_slot(tmp_path / "another-job-progress.json")  # "a job already runs on this server"
        try:
            seen = asyncio.run(a_small_class(base, class_home))
            states = {job: job_status(job).state for job in seen["jobs"]}
        finally:
            os.close(held)
            for job in train_jobs(class_home):
                cancel_job(job)
            stop_server(proc)
    errors = [(i.action, e) for i in seen["interactions"] for e in i.errors]
    assert errors == []
    assert len(seen["lesson_jobs"]) == 1  # two students pressed Train: one job
    assert all("Training the lessons' classifier" in page for page in seen["trainer_pages"])
    assert len(seen["jobs"]) == 2  # the third student's training is another job, waiting its turn
    assert set(states.values()) == {"queued"}
    assert "queued:" in seen["third_page"] and "it starts when one ends" in seen["third_page"]
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def state_bytes(state) -> dict[str, int]:
    """Pickled size of every session-state value (a lock, which cannot be pickled, by its in-memory size)."""
    sizes = {}
    for key, value in state.items():
        try:
            sizes[key] = len(pickle.dumps(value))
        except (TypeError, pickle.PicklingError):
            sizes[key] = sys.getsizeof(value)
    return sizes


def test_a_students_session_state_stays_small(class_home, monkeypatch):
    """Everything a lesson step reads (the dataset, answers, embeddings) lives in the server's shared caches: the
    session keeps only choices and ids."""
    monkeypatch.setenv("FACEATLAS_HOME", str(class_home))
    monkeypatch.setenv("FACEATLAS_CACHE", str(class_home / "cache"))
    cached.dataset_refs.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(PROJECT / "Home.py"), default_timeout=120)  # through Home: page links resolve
    at.query_params.update({"dataset": "demo", "lesson": LESSON.id, "step": "2"})
    at.run()
    at.switch_page("pages/7_Lessons.py")
    at.run()
    at.button(key=f"lesson-reveal-{LESSON.id}-2").click().run()
    at.button(key="lesson-next").click().run()
    assert not at.exception
    assert "3. Predicting Bald from the other labels" in [h.value for h in at.subheader]
    sizes = state_bytes(at.session_state)
    assert sum(sizes.values()) < SESSION_STATE_BOUND, sorted(sizes.items(), key=lambda kv: -kv[1])[:5]
    cached.dataset_refs.clear()
