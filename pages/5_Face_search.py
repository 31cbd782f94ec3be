"""Face search: look-alikes of a photo's face by embedding, and images with similar attributes."""

import streamlit as st

from ui.face_search import attribute_search_section, face_search_section
from ui.sidebar import dataset_picker, demo_banner

st.set_page_config(page_title="Face search · FaceAtlas", layout="wide")
st.title("Face search")
ds = dataset_picker()
demo_banner(ds)
if ds.is_demo:
    st.caption("The demo's cartoon faces are not real faces: dlib finds few of them, so most demo rows use the "
               "aligned crop's fixed face box (flagged). Load a real dataset for meaningful look-alikes.")  # fmt: skip
by_face, by_attributes = st.tabs(["By face", "By attributes"])
with by_face:
    face_search_section(ds)
with by_attributes:
    attribute_search_section(ds)
