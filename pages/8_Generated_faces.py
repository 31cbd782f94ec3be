"""Generated faces: a DCGAN trained on the dataset's faces, faces emerging epoch by epoch, and what it learnt."""

import streamlit as st

from core.errors import ModelFileError
from ui import generate as gen
from ui import links
from ui.sidebar import dataset_picker, demo_banner

st.set_page_config(page_title="Generated faces · FaceAtlas", layout="wide")
st.title("Generated faces")
ds = dataset_picker()
link = links.link_control()
demo_banner(ds)
st.caption(
    "A generator learns to draw new faces from noise while a discriminator learns to tell them from the dataset's "
    "photos (a DCGAN). It can only recombine what it was shown: what it copies and what it amplifies are measured "
    "below."
)
why = gen.unavailable(ds)
if why:
    st.info(why)
    links.share(link)
    st.stop()

st.header("Train a generator")
config, epochs = gen.train_form(ds)
gen.training_panel(ds, config, epochs)
meta = gen.generator_picker(ds)
if meta is None:
    links.share(link)
    st.stop()

try:
    st.header("Faces emerging, epoch by epoch")
    gen.epochs_view(meta)
    gen.training_curves(meta)

    st.header("New faces")
    seed, conditions = gen.new_faces(ds, meta)
    st.subheader("From one face to another")
    gen.interpolation(meta, seed, conditions)
    gen.attribute_switch(meta, seed, conditions)
except ModelFileError as exc:
    st.error(str(exc))
    links.share(link)
    st.stop()

st.header("What it copies")
measured = gen.audit_panel(ds, meta)
if measured is None:
    links.share(link)
    st.stop()
audit, arrays = measured
gen.copying(ds, meta, audit, arrays)

st.header("What it amplifies")
gen.amplification(ds, meta, audit)

st.header("How many people")
gen.diversity(ds, audit, arrays)
links.share(link)
