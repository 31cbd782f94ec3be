"""Clustering page (being built)."""

import streamlit as st

from ui.sidebar import dataset_picker, demo_banner

st.set_page_config(page_title="Clustering · FaceAtlas", layout="wide")
st.title("Clustering")
ds = dataset_picker()
demo_banner(ds)
st.info("This page is being built.")
