"""Dataset page: attribute prevalence, present/absent donuts, identities, filtered gallery."""

import streamlit as st

from ui import links
from ui.dataset_views import donut_section, gallery_section, identity_section, prevalence_section
from ui.demo_drawing import images_missing_text, is_drawing
from ui.sidebar import dataset_picker, demo_banner

st.set_page_config(page_title="Dataset · FaceAtlas", layout="wide")
st.title("Dataset")
ds = dataset_picker()
link = links.link_control()
demo_banner(ds)
if is_drawing(ds):
    st.info(f"{images_missing_text(ds)} Every count and chart already works.")
elif not ds.has_images:
    st.info(
        "Images are not available for this dataset (annotations only): image panels stay empty, "
        "every count and chart still works."
    )
prevalence_section(ds)
donut_section(ds)
identity_section(ds)
gallery_section(ds)
links.share(link)
