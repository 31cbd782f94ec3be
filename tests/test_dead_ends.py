"""No dead ends: every page, driven through its main choices on every kind of dataset the loaders accept, shows no
exception, no error and no library message; a missing prerequisite says what it unlocks and offers its button.

Datasets (built small here): the demo with identity embeddings, its annotations without images, a folder of photos
without attributes, an LFW-style folder, an embedding CSV. Background jobs are recorded, not started.

How the combinations are pruned (each kept one reaches a code path the others do not):
- Clustering: every algorithm on every feature space the dataset offers (reduction none, PCA map), reached by
  switching within one session as a user would (the issue's re-ranked-on-attributes dead end is such a switch);
  then every reduction x map projection with the space's default algorithm (the projection only decides the map, the
  reduction only the input of the clustering: their cross with the algorithms repeats paths already run).
- Other pages: each select, radio and toggle through all of its options, one at a time from the defaults.
- Generated faces: the training form on every dataset that has enough images (the others say why), then, on the
  demo, a tiny generator conditioned on one attribute (it reaches every control the unconditioned one does, and the
  attribute's own), before and after it is measured.
"""

from __future__ import annotations

import os
import re
import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import ui.jobs
from bench.synthetic_embeddings import identity_embeddings
from core import cached
from core.classify.models import FEATURES, MODEL_FEATURES
from core.cluster.algorithms import ALGORITHMS
from core.cluster.reduce import MAP_METHODS
from core.cluster.view import default_algorithm
from core.data.embeddings import save_embeddings
from core.data.ingest import open_dataset
from core.generate.audit import audit_generator
from core.generate.models import IMAGE_SIZES, GanConfig
from core.generate.train import train_generator
from core.quality import CHECKS, run_audit
from tests.support import PROJECT, seed_face_weights
from ui import state
from ui.clustering.sidebar import SPACE_LABELS

PAGES = {
    "home": PROJECT / "Home.py",
    "dataset": PROJECT / "pages" / "1_Dataset.py",
    "relations": PROJECT / "pages" / "2_Attribute_relations.py",
    "classifiers": PROJECT / "pages" / "3_Attribute_classifiers.py",
    "clustering": PROJECT / "pages" / "4_Clustering.py",
    "search": PROJECT / "pages" / "5_Face_search.py",
    "quality": PROJECT / "pages" / "6_Data_quality.py",
    "generate": PROJECT / "pages" / "8_Generated_faces.py",
}
DATASETS = ("demo", "annotations_only", "photos", "people", "csvemb")
# Words of library messages (numpy, scikit-learn, SciPy, polars, Python) that FaceAtlas's own sentences never use.
LIBRARY_WORDS = re.compile(
    r"Traceback|Exception|Error\b|\bmust be an?\b|\bGot \S+ instead|parameter of|n_samples|n_clusters|Linkage 'Z'|"
    r"contains NaN|out of bounds|shape \(|dtype|NoneType|object has no attribute '|not supported between|invalid value",
    re.IGNORECASE,
)


def _write_embedding_csv(path, n: int = 60) -> None:
    rng = np.random.default_rng(4)
    who = np.arange(n) // 5
    vectors = identity_embeddings(who, dim=20, seed=2)
    attrs = {a: rng.integers(0, 2, n) * 2 - 1 for a in ("Male", "Smiling", "Eyeglasses", "Young")}
    header = ["image_name", "id", *attrs, *[f"e{k}" for k in range(20)]]
    lines = [",".join(header)]
    for i in range(n):
        values = [
            f"{i + 1:06d}.jpg",
            str(who[i]),
            *(str(attrs[a][i]) for a in attrs),
            *(f"{v:.5f}" for v in vectors[i]),
        ]
        lines.append(",".join(values))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def kinds_home(demo_home, tmp_path_factory):
    """One home holding every kind of dataset; jobs the pages ask for are recorded, not started."""
    home = tmp_path_factory.mktemp("kinds")
    data = home / "data"
    shutil.copytree(demo_home / "data" / "demo", data / "demo")
    shutil.copytree(demo_home / "data" / "demo" / "Anno", data / "annotations_only" / "Anno")
    images = sorted((data / "demo" / "Img" / "img_align_celeba").glob("*.jpg"))
    (data / "photos").mkdir()
    for image in images[:12]:
        shutil.copy(image, data / "photos" / image.name)
    for k, image in enumerate(images[12:24]):
        person = data / "people" / f"Person_{k % 3}"
        person.mkdir(parents=True, exist_ok=True)
        shutil.copy(image, person / f"Person_{k % 3}_{k:04d}.jpg")
    (data / "csvemb").mkdir()
    _write_embedding_csv(data / "csvemb" / "celeba_buffalo_s.csv")
    saved = {k: os.environ.get(k) for k in ("FACEATLAS_HOME", "FACEATLAS_CACHE")}
    os.environ["FACEATLAS_HOME"] = str(home)
    os.environ["FACEATLAS_CACHE"] = str(home / "cache")
    ds = open_dataset(data / "demo", name="demo")
    save_embeddings(
        ds, "dlib", identity_embeddings(ds.table["identity"].to_numpy(), seed=1), np.ones(ds.n_images, bool)
    )
    cached.dataset_refs.clear()
    started: list = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ui.jobs, "start_job", lambda kind, argv, owner=None: started.append(kind) or "recorded")
        yield home, started
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    cached.dataset_refs.clear()


def open_page(page: str, dataset: str, **params) -> AppTest:
    at = AppTest.from_file(str(PAGES[page]), default_timeout=120)
    at.query_params.update({"dataset": dataset, **params})
    at.run()
    assert_clean(at, f"{page} on {dataset} {params}")
    return at


def assert_clean(at: AppTest, where: str) -> None:
    """No exception box, no error, and nothing shown that reads like a library's message."""
    assert not at.exception, (where, [e.value for e in at.exception])
    assert not at.error, (where, [e.value for e in at.error])
    for element in (*at.warning, *at.info, *at.caption):
        assert not LIBRARY_WORDS.search(element.value), (where, element.value)


def step(at: AppTest, where: str, change) -> None:
    change(at)
    at.run()
    assert_clean(at, where)


def has(at: AppTest, kind: str, key: str) -> bool:
    return any(getattr(w, "key", None) == key for w in getattr(at, kind))


@pytest.mark.parametrize("dataset", DATASETS)
def test_home_dataset_and_relations(kinds_home, dataset):
    open_page("home", dataset)
    at = open_page("dataset", dataset)
    if has(at, "radio", "prev-split"):
        for option in at.radio(key="prev-split").options:
            step(at, f"dataset split {option}", lambda a, o=option: a.radio(key="prev-split").set_value(o))
    if has(at, "selectbox", "identity"):
        first = at.selectbox(key="identity").options[0].rsplit(" (", 1)[0]  # options read "7 (35 images)"
        step(at, "identity", lambda a: a.selectbox(key="identity").set_value(first))
    if has(at, "selectbox", "gallery-partition"):
        for option in at.selectbox(key="gallery-partition").options:
            step(at, f"gallery {option}", lambda a, o=option: a.selectbox(key="gallery-partition").select(o))
    at = open_page("relations", dataset)
    if has(at, "button_group", "measure"):
        for measure in ("phi", "lift", "P(A|B)"):
            step(at, f"measure {measure}", lambda a, m=measure: a.button_group(key="measure").set_value(m))
        step(at, "alphabetical", lambda a: a.toggle(key="rel-cluster").set_value(False))
        step(at, "all models", lambda a: a.button(key="model-all").click())


@pytest.mark.parametrize("dataset", DATASETS)
def test_classifiers_and_face_search(kinds_home, dataset):
    at = open_page("classifiers", dataset)
    if not has(at, "radio", "clf-features"):  # no attribute labels: the page says there is nothing to train
        assert any("nothing to train" in i.value for i in at.info), [i.value for i in at.info]
    for feature in FEATURES if has(at, "radio", "clf-features") else ():
        step(at, f"features {feature}", lambda a, f=feature: a.radio(key="clf-features").set_value(f))
        for kind in (m for m, f in MODEL_FEATURES.items() if f == feature):
            step(at, f"{feature} {kind}", lambda a, k=kind: a.selectbox(key="clf-model").set_value(k))
    at = open_page("search", dataset)
    if has(at, "radio", "fs-source"):
        for source in at.radio(key="fs-source").options:
            step(at, f"source {source}", lambda a, s=source: a.radio(key="fs-source").set_value(s))
        if has(at, "selectbox", "fs-metric"):
            step(at, "cosine", lambda a: a.selectbox(key="fs-metric").set_value("cosine"))
    at.session_state["fs-tab"] = "By attributes"
    at.run()
    assert_clean(at, f"search attributes on {dataset}")
    if has(at, "radio", "fs-attr-source"):
        step(at, "copy from an image", lambda a: a.radio(key="fs-attr-source").set_value("Copy from an image"))


@pytest.mark.slow
@pytest.mark.parametrize("dataset", DATASETS)
def test_clustering_every_space_algorithm_reduction_and_map(kinds_home, dataset):
    _, started = kinds_home
    at = open_page("clustering", dataset)
    if not has(at, "selectbox", "cl-space"):  # nothing to cluster: the page says what unlocks it
        assert any("nothing to cluster" in i.value for i in at.info), [i.value for i in at.info]
        if dataset in ("photos", "people"):
            assert has(at, "button", "cl-embed")  # the button that computes the embeddings, with its time
            assert any("Computing them takes about" in i.value for i in at.info)
        return
    spaces = [k for k, label in SPACE_LABELS.items() if label in at.selectbox(key="cl-space").options]
    for space in spaces:
        step(at, f"space {space}", lambda a, s=space: a.selectbox(key="cl-space").set_value(s))
        for algo in ALGORITHMS:
            step(at, f"{space} {algo}", lambda a, g=algo: a.selectbox(key="cl-algo").set_value(g))
        step(
            at,
            f"{space} default algorithm",
            lambda a, s=space: a.selectbox(key="cl-algo").set_value(default_algorithm(s)),
        )
        for reduce in ("pca", "umap", "none"):
            step(at, f"{space} reduce {reduce}", lambda a, r=reduce: a.selectbox(key="cl-reduce").set_value(r))
            for method in MAP_METHODS:
                step(at, f"{space} {reduce} map {method}", lambda a, m=method: a.selectbox(key="cl-map").set_value(m))
    assert "cluster-map" in started and "cluster-reduce" in started  # UMAP / t-SNE went to background jobs


@pytest.mark.parametrize("dataset", DATASETS)
def test_data_quality_every_check_before_and_after_the_audit(kinds_home, dataset):
    at = open_page("quality", dataset)
    for check in CHECKS:
        step(at, f"check {check}", lambda a, c=check: a.segmented_control(key="dq-check").set_value(c))
    if dataset == "demo":  # 400 images: the page's own tests audit it
        return
    run_audit(open_dataset(kinds_home[0] / "data" / dataset, name=dataset), workers=1)
    cached.dataset_refs.clear()
    at = open_page("quality", dataset)
    assert not any("Not yet run" in i.value for i in at.info), [i.value for i in at.info]  # every runnable check ran
    for check in CHECKS:
        step(at, f"audited {check}", lambda a, c=check: a.segmented_control(key="dq-check").set_value(c))


TINY_GAN = GanConfig(image_size=16, width=8, batch_size=32, attributes=("Male",))


@pytest.mark.parametrize("dataset", DATASETS)
def test_generated_faces_form_and_trained_views(kinds_home, face_weights, dataset):
    home, started = kinds_home
    at = open_page("generate", dataset)
    if not has(at, "select_slider", state.GEN_IMAGE_SIZE):  # no images, or fewer than a batch: the page says why
        assert any("generator" in i.value or "nothing to generate" in i.value for i in at.info), at.info
        assert "Train the generator" not in [b.label for b in at.button]
        return
    for size in IMAGE_SIZES:
        step(at, f"image size {size}", lambda a, s=size: a.select_slider(key=state.GEN_IMAGE_SIZE).set_value(s))
    step(at, "conditioned", lambda a: a.multiselect(key=state.GEN_ATTRIBUTES).set_value(["Male", "Eyeglasses"]))
    step(at, "train", lambda a: a.button(key="gen-train").click())
    assert "generate" in started  # recorded, not started
    if dataset != "demo":
        return
    ds = open_dataset(home / "data" / dataset, name=dataset)
    meta = train_generator(ds, TINY_GAN, 1).meta
    cached.generators.clear()
    at = open_page("generate", dataset, gan=meta.generator_id, px="16")
    assert "Measure the generator" in [b.label for b in at.button]  # not measured yet: the button that measures it
    for epoch in (0, 1):
        step(at, f"epoch {epoch}", lambda a, e=epoch: a.slider(key=state.GEN_EPOCH).set_value(e))
    ask = f"{state.GEN_ASK}-Male"  # one yes / no / any control per conditioned attribute
    for choice in ("yes", "no", "any"):
        step(at, f"Male {choice}", lambda a, c=choice: a.segmented_control(key=ask).set_value(c))
    step(at, "seed", lambda a: a.number_input(key=state.GEN_SEED).set_value(5))
    step(at, "from", lambda a: a.number_input(key=state.GEN_FROM).set_value(64))
    step(at, "switch", lambda a: a.selectbox(key=state.GEN_SWITCH).set_value("Male"))
    seed_face_weights(face_weights, home / "cache")  # the audit describes generated faces with dlib's descriptor
    audit_generator(ds, meta, 64)
    cached.dataset_refs.clear()
    at = open_page("generate", dataset, gan=meta.generator_id, px="16")
    assert "Measure the generator" not in [b.label for b in at.button]
    assert [m.label for m in at.metric if m.label == "People among generated faces"]  # every audited section shows


def test_library_errors_become_plain_sentences():
    from sklearn.cluster import KMeans

    from core.cluster.algorithms import algorithm
    from core.errors import GENERIC_MESSAGE, DatasetError, user_message

    try:
        KMeans(n_clusters=0).fit(np.zeros((3, 2)))
    except ValueError as exc:
        assert user_message(exc) == GENERIC_MESSAGE  # scikit-learn's wording never reaches a page
    try:
        algorithm("nope")
    except ValueError as exc:
        assert user_message(exc).startswith("Unknown algorithm 'nope'; choose one of")  # ours says what to do
    assert user_message(DatasetError("No dataset called x.")) == "No dataset called x."
