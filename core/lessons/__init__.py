"""Guided lessons for a classroom: steps that open a page in a preset state, ask a question and answer it live.

core.lessons.model (Lesson, Step, Answer, Figure), core.lessons.catalogue (the lessons, LESSONS), core.lessons.answers
(the live figures, computed as the target pages compute them), core.lessons.data (the dataset and its stored
artefacts), core.lessons.handout (the printable one-page handout).
"""
