"""Attribute classifiers page (being built)."""

import streamlit as st

from ui.sidebar import dataset_picker, demo_banner

st.set_page_config(page_title="Attribute classifiers · FaceAtlas", layout="wide")
st.title("Attribute classifiers")
ds = dataset_picker()
demo_banner(ds)
st.info("This page is being built.")
