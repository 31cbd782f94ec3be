"""FaceAtlas front door: pick a dataset, see what is in it, and where to go next."""

from pathlib import Path

import streamlit as st

from core import format as fmt
from core.data.summary import dataset_summary, sample_image_ids
from ui import links
from ui.demo_drawing import is_drawing
from ui.gallery import image_grid
from ui.sidebar import dataset_picker, demo_banner

# A file of the app's own (sent inline as a data: URI): a ":material/…:" page icon makes the browser fetch an SVG
# from a Google font host, and FaceAtlas runs offline.
PAGE_ICON = Path(__file__).parent / "ui" / "assets" / "page_icon.svg"
st.set_page_config(page_title="FaceAtlas", page_icon=str(PAGE_ICON), layout="wide")

PAGES = [
    (
        "pages/1_Dataset.py",
        "Dataset",
        ":material/bar_chart:",
        "Prevalence of every attribute, identities, and a filtered image gallery.",
    ),
    (
        "pages/2_Attribute_relations.py",
        "Attribute relations",
        ":material/hub:",
        "How attributes depend on each other: P(A | B), correlation, lift, and predicting one from the others.",
    ),
    (
        "pages/3_Attribute_classifiers.py",
        "Attribute classifiers",
        ":material/target:",
        "Train models that predict attributes from faces and compare them with baselines.",
    ),
    (
        "pages/4_Clustering.py",
        "Clustering",
        ":material/scatter_plot:",
        "Group faces by identity embedding or by attributes, on a 2-D map.",
    ),
    (
        "pages/5_Face_search.py",
        "Face search",
        ":material/person_search:",
        "Upload a photo and find the most similar faces in the dataset.",
    ),
    (
        "pages/6_Data_quality.py",
        "Data quality",
        ":material/rule:",
        "Suspect attribute and identity labels, duplicate images and images that cannot be used.",
    ),
    (
        "pages/7_Lessons.py",
        "Lessons",
        ":material/school:",
        "Guided walks for a class: questions that open pages in the right state, answers computed from the data.",
    ),
    (
        "pages/8_Generated_faces.py",
        "Generated faces",
        ":material/face_retouching_natural:",
        "A GAN trained on the faces: watch faces emerge, and measure what it copies and what it amplifies.",
    ),
]


def overview(summary: dict) -> None:
    cols = st.columns(5)
    cols[0].metric("Images", fmt.count(summary["rows"]), help="Rows in the dataset's annotation table.")
    cols[1].metric(
        "Identities",
        fmt.count(summary["identities"]) if summary["identities"] else "–",
        help="Different people, where the dataset labels who is in each image.",
    )
    cols[2].metric("Attributes", len(summary["attributes"]), help="Yes/no labels per image (Smiling, Eyeglasses…).")
    cols[3].metric(
        "Image files found", fmt.count(summary["images_found"]), help="Images present on disk (0: annotations only)."
    )
    cols[4].metric(
        "Embeddings",
        ", ".join(summary["embeddings"]) or "none yet",
        help="Face descriptors (128 numbers per face) that face search and identity clustering compare.",
    )
    parts = summary["partitions"]
    if parts:
        st.caption("Partitions: " + " · ".join(f"{name} {fmt.count(count)}" for name, count in parts.items()))
    else:
        st.caption("No train/val/test partition in this dataset; pages that need one split by identity.")
    st.caption(f"**Licence.** {summary['licence']}")


def guide() -> None:
    st.subheader("Where to go next")
    for path, label, icon, text in PAGES:
        col_link, col_text = st.columns([1, 3])
        col_link.page_link(path, label=label, icon=icon)
        col_text.write(text)


st.title("FaceAtlas")
st.caption(
    "Explore face-attribute datasets such as CelebA and LFW: what is in them, how attributes relate, "
    "how well they can be predicted, and how faces group."
)
ds = dataset_picker()
link = links.link_control()
demo_banner(ds)
summary = dataset_summary(ds)
st.header(ds.name)
overview(summary)
for warning in [] if is_drawing(ds) else summary["warnings"]:  # "no image folder" while the faces are drawn
    st.warning(warning)
if ds.has_images:
    st.subheader("A first glance")
    image_grid(ds, sample_image_ids(ds, n=12), columns=6, size=128)
guide()
links.share(link)
