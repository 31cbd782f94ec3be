"""Dataset page (being built)."""

import streamlit as st

from ui.sidebar import dataset_picker, demo_banner

st.set_page_config(page_title="Dataset · FaceAtlas", layout="wide")
st.title("Dataset")
ds = dataset_picker()
demo_banner(ds)
st.info("This page is being built.")
