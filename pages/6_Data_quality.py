"""Data quality: suspect attribute labels, suspect identity labels, duplicates and unusable images."""

import streamlit as st

from ui import links
from ui import quality as ui
from ui.sidebar import dataset_picker, demo_banner

st.set_page_config(page_title="Data quality · FaceAtlas", layout="wide")
st.title("Data quality")
ds = dataset_picker()
link = links.link_control()
demo_banner(ds)
st.caption(
    "Which labels are probably wrong, which photos are filed under the wrong person, which images are copies of "
    "each other and which cannot be used. Every list is a list of suspects to look at, not a verdict."
)
ui.demo_note(ds)
results = ui.audit_panel(ds)
check = ui.check_picker()
st.subheader(ui.CHECK_TITLES[check])
ui.SECTIONS[check](ds, results[check])
links.share(link)
