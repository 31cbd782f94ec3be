"""Attribute relations page: P(A|B) / phi / lift heatmap, one pair in detail, attribute-from-attributes models."""

import streamlit as st

from core import cached
from ui import links
from ui.relations_views import (
    filter_sidebar,
    heatmap_section,
    model_section,
    pair_section,
    require_attributes,
    subset_size,
)
from ui.sidebar import dataset_picker, demo_banner

st.set_page_config(page_title="Attribute relations · FaceAtlas", layout="wide")
st.title("Attribute relations")
ds = dataset_picker()
link = links.link_control()
demo_banner(ds)
require_attributes(ds)
subset = filter_sidebar(ds)
rel = cached.relation_stats(ds, subset)
subset_size(ds, rel, subset)
heatmap_section(ds, subset, rel)
pair_section(ds, subset, rel)
model_section(ds, subset)
links.share(link)
