"""Face search: look-alikes of a photo's face by embedding, and images with similar attributes."""

import streamlit as st

from ui.face_search import attribute_search_section, face_search_section
from ui.sidebar import dataset_picker, demo_banner

st.set_page_config(page_title="Face search · FaceAtlas", layout="wide")
st.title("Face search")
ds = dataset_picker()
demo_banner(ds)
if ds.is_demo:
    st.caption(
        "The demo's faces are drawn: dlib finds them, but look-alikes here mean drawn resemblance. "
        "Load a real dataset for real identities."
    )
by_face, by_attributes = st.tabs(["By face", "By attributes"])
with by_face:
    face_search_section(ds)
with by_attributes:
    attribute_search_section(ds)
