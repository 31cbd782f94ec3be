"""Attribute classifiers: train on embeddings or pixels, compare with baselines, inspect errors, try a photo."""

import streamlit as st

from core.errors import ModelFileError
from ui import classifiers as clf
from ui import fairness, links
from ui.sidebar import dataset_picker, demo_banner

st.set_page_config(page_title="Attribute classifiers · FaceAtlas", layout="wide")
st.title("Attribute classifiers")
ds = dataset_picker()
link = links.link_control(photos=True)
demo_banner(ds)

st.header("Train")
config = clf.train_form(ds)
clf.training_panel(ds, config)

st.header("Results on the test split")
meta = clf.model_picker(ds)
if meta is None:
    links.share(link)
    st.stop()
clf.results(ds, meta)

with clf.lesson_panel():
    clf.lesson(ds, meta)

st.header("Threshold, confusion matrix and curves")
try:
    attribute, threshold, preds = clf.threshold_view(ds, meta)
except (ModelFileError, OSError) as exc:
    # A ModelFileError says what happened and what to do; an OSError's wording is the system's, not ours.
    st.error(
        str(exc)
        if isinstance(exc, ModelFileError)
        else "The stored predictions of this model cannot be read; train it again."
    )
    links.share(link)
    st.stop()

st.header("Subgroups")
clf.subgroup_view(ds, meta, attribute, threshold, preds)

st.header("Fairness: the worst group")
fairness.fairness_section(ds, meta, attribute, preds)

st.header("Errors")
clf.error_gallery(ds, meta, attribute, threshold, preds)

st.header("Try it on a photo")
clf.try_it(ds, meta)
links.share(link)
