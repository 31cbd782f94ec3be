"""Streamlit widgets and panels shared by the pages (layout only; logic lives in core/).

Importing ui imports the heavy libraries the pages share, once per server process, before any page runs: Streamlit
runs each session's script in its own thread, and sessions importing scikit-learn and Altair (both import narwhals)
at the same moment on a cold server can stop in Python's import deadlock detection (_DeadlockError, seen with a class
of five opening the Lessons page at once). The first session to import ui imports them; the others wait for ui.
"""

import altair  # noqa: F401
import narwhals.stable.v1
import narwhals.stable.v2  # noqa: F401
import sklearn.linear_model  # noqa: F401
