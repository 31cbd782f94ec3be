"""Lessons: guided classroom walks; each step opens a page in a preset state and answers its question live."""

import streamlit as st

from ui import lessons, links
from ui.sidebar import dataset_picker, demo_banner

st.set_page_config(page_title="Lessons · FaceAtlas", layout="wide")
st.title("Lessons")
ds = dataset_picker()
link = links.link_control()
demo_banner(ds)
st.caption(
    "Short walks through FaceAtlas for a class. Each step asks a question, opens the page that answers it in the "
    "right state, says what to look at, and reveals the answer computed from the dataset that is open."
)
data = lessons.lesson_data(ds)
lesson = lessons.lesson_picker()
lessons.lesson_intro(ds, data, lesson)
step = lessons.step_picker(lesson)
lessons.step_section(ds, data, lesson, step)
lessons.class_link(ds, lesson, step)
lessons.handout_section(ds, data, lesson)
lessons.all_lessons()
links.share(link)
