"""Face search: look-alikes of a photo's face by embedding, and images with similar attributes."""

import streamlit as st

from ui import links, state
from ui.face_search import attribute_search_section, face_search_section
from ui.sidebar import dataset_picker, demo_banner

TABS = {"By face": None, "By attributes": "attributes"}
TAB_OF_PARAM = {param: label for label, param in TABS.items() if param}  # ?tab=attributes; no tab: by face

st.set_page_config(page_title="Face search · FaceAtlas", layout="wide")
st.title("Face search")
ds = dataset_picker()
link = links.link_control(photos=True)
demo_banner(ds)
if ds.is_demo:
    st.caption(
        "The demo's faces are drawn: dlib finds them, but look-alikes here mean drawn resemblance. "
        "Load a real dataset for real identities."
    )
links.restore(state.FS_TAB, "tab", TAB_OF_PARAM.__getitem__)
by_face, by_attributes = st.tabs(list(TABS), key=state.FS_TAB, on_change="rerun")
links.remember("tab", TABS.get(st.session_state.get(state.FS_TAB)))
if by_face.open:
    with by_face:
        face_search_section(ds)
if by_attributes.open:
    with by_attributes:
        attribute_search_section(ds)
links.share(link)
