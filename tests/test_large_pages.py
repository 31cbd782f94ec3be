"""Every page on a dataset larger than the test demo: what a page sends to the browser stays bounded (issue 29).

The dataset has 6,000 annotation rows (more than the Clustering page's 5,000 default points) of 300 people, image
files for the first 300 rows only (a gallery and a thumbnail never need every file), embeddings of every row, a
classifier measured on 3,600 test images and a stored image audit that lists the 5,700 missing files. Each page runs in AppTest; the rows of every table and chart it
emits are counted from the Arrow data Streamlit would send (and any data inlined in a chart's spec).
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from core import cached
from core.charts.cluster import SELECTION
from core.charts.faces import HISTOGRAM_BINS
from core.classify.models import TrainConfig
from core.classify.train import train_attribute_model
from core.cluster.map import ALTAIR_MAX
from core.cluster.map_labels import LABELS_MAX
from core.data.celeba import CELEBA_ATTRIBUTES
from core.data.embeddings import save_embeddings
from core.data.ingest import open_dataset
from core.demo.label_model import CELEBA_PREVALENCE
from core.quality.audit import load_check, run_audit
from tests.support import PROJECT, copy_home, home_environment
from ui import long_lists
from ui.dataset_views import GALLERY_PAGE_SIZE
from ui.tables import MAX_ROWS

HOME = str(PROJECT / "Home.py")
NAME = "large"
N_ROWS = 6_000
N_PEOPLE = 300
WITH_FILES = 300  # rows whose image file exists
ELEMENT_ROWS = 2_000  # the most rows any table or chart may send (the 40 x 40 pair heatmap has 1,600)
IMAGES_SHOWN = 60  # the most thumbnails a page shows at once (a gallery page, one person's photos)


def _write_dataset(root, images) -> None:
    """CelebA original layout: N_ROWS rows, 20 photos per person, partitions by person, attributes at CelebA's
    prevalences (seeded), the demo's photos as the files of the first WITH_FILES rows."""
    rng = np.random.default_rng(29)
    ids = [f"{i:06d}.jpg" for i in range(1, N_ROWS + 1)]
    people = np.arange(N_ROWS) % N_PEOPLE + 1
    prevalence = np.array([CELEBA_PREVALENCE[a] for a in CELEBA_ATTRIBUTES])
    signs = np.where(rng.random((N_ROWS, len(CELEBA_ATTRIBUTES))) < prevalence, "1", "-1")
    (root / "Anno").mkdir(parents=True)
    (root / "Eval").mkdir()
    rows = "".join(f"{i} {' '.join(s)}\n" for i, s in zip(ids, signs.tolist()))
    (root / "Anno" / "list_attr_celeba.txt").write_text(f"{N_ROWS}\n{' '.join(CELEBA_ATTRIBUTES)}\n{rows}")
    (root / "Anno" / "identity_CelebA.txt").write_text("".join(f"{i} {p}\n" for i, p in zip(ids, people)))
    part = np.searchsorted([100, 120], people, side="right")  # people 1-100 train, 101-120 val, the rest test
    (root / "Eval" / "list_eval_partition.txt").write_text("".join(f"{i} {p}\n" for i, p in zip(ids, part)))
    folder = root / "Img" / "img_align_celeba"
    folder.mkdir(parents=True)
    for name, image in zip(ids[:WITH_FILES], images):
        shutil.copyfile(image, folder / name)


def _person_vectors(people: np.ndarray, seed: int = 29) -> np.ndarray:
    """(n, 128) float32 unit vectors, close together within a person (a stand-in for face embeddings)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((people.max() + 1, 128))
    x = centres[people] + 0.6 * rng.standard_normal((len(people), 128))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class LargeHome:
    home: Path
    model_id: str  # a logistic regression on the embeddings


@pytest.fixture(scope="module")
def large_home(demo_home, tmp_path_factory):
    """A home of its own (the demo, so no page draws one, and the large set), with embeddings, a classifier and an
    image audit."""
    home = copy_home(demo_home, tmp_path_factory.mktemp("large-home"), ("demo",), cache=False)
    images = sorted((demo_home / "data" / "demo" / "Img" / "img_align_celeba").glob("*.jpg"))[:WITH_FILES]
    _write_dataset(home / "data" / NAME, images)
    with home_environment(home):
        cached.dataset_refs.clear()
        ds = open_dataset(home / "data" / NAME, name=NAME)
        people = ds.table["identity"].cast(int).to_numpy()
        save_embeddings(ds, "csv", _person_vectors(people), np.ones(N_ROWS, bool))  # not dlib's: no photo queries
        run_audit(ds, ("images",), workers=1)  # 5,700 rows without a file: a list longer than any table may show
        meta = train_attribute_model(ds, TrainConfig(model="logreg", attributes=("Male", "Smiling", "Eyeglasses")))
        yield LargeHome(home, meta.model_id)
    cached.dataset_refs.clear()


def _arrow_rows(data: bytes) -> int:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all().num_rows if data else 0


def _inline_rows(spec: str) -> int:
    """Rows of data written into a Vega-Lite spec itself (Streamlit normally moves them into Arrow datasets)."""
    spec = json.loads(spec) if spec else {}
    rows = sum(len(v) for v in spec.get("datasets", {}).values())

    def walk(node) -> int:
        if isinstance(node, dict):
            values = node.get("values") if isinstance(node.get("values"), list) else []
            return len(values) + sum(walk(v) for k, v in node.items() if k != "values")
        if isinstance(node, list):
            return sum(walk(v) for v in node)
        return 0

    return rows + walk({k: v for k, v in spec.items() if k != "datasets"})


def _nodes(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _nodes(child)


def sent_rows(at: AppTest) -> list[tuple[str, int]]:
    """(kind, rows) of every table and chart on the page: "table", "chart" or "map" (the Clustering map's points)."""
    out = []
    for node in _nodes(at._tree):
        proto = getattr(node, "proto", None)
        if node.type in ("dataframe", "table"):
            out.append(("table", len(node.value)))
        elif node.type in ("vega_lite_chart", "arrow_vega_lite_chart"):
            rows = _arrow_rows(proto.data.data) + sum(_arrow_rows(d.data.data) for d in proto.datasets)
            rows += _inline_rows(proto.spec)
            out.append(("map" if f'"{SELECTION}"' in proto.spec else "chart", rows))
    return out


def images_shown(at: AppTest) -> int:
    return sum(len(node.proto.imgs) for node in _nodes(at._tree) if node.type == "image")


MODEL = "{model}"  # stands for the fixture's classifier in VIEWS


def _open(page: str, params: dict[str, str], model_id: str = "") -> AppTest:
    """The page in a fresh session, opened through Home's page registry (so its page links resolve)."""
    at = AppTest.from_file(HOME, default_timeout=120)
    at.query_params.update({"dataset": NAME, **{k: v.replace(MODEL, model_id) for k, v in params.items()}})
    if page != "Home.py":
        at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


# (page, URL parameters, the kinds of element the view must show: a page that showed nothing could not fail)
VIEWS = [
    ("Home.py", {}, set()),
    ("pages/1_Dataset.py", {}, {"chart"}),
    ("pages/1_Dataset.py", {"identity": "7"}, {"chart"}),
    ("pages/2_Attribute_relations.py", {}, {"chart"}),
    ("pages/3_Attribute_classifiers.py", {}, {"chart", "table"}),  # the newest model: ROC and PR of 3,600 images
    ("pages/3_Attribute_classifiers.py", {"model": MODEL, "attr": "Smiling", "by": "Male"}, {"chart", "table"}),
    ("pages/4_Clustering.py", {"algo": "kmeans"}, {"map", "table", "chart"}),  # re-ranking 5,000 points is a job
    ("pages/5_Face_search.py", {"src": "dataset", "image": "000001.jpg"}, {"chart", "table"}),
    ("pages/6_Data_quality.py", {"check": "images"}, {"chart", "table"}),
    ("pages/7_Lessons.py", {}, set()),
]


@pytest.mark.parametrize(("page", "params", "kinds"), VIEWS, ids=[f"{p}?{q}" for p, q, _ in VIEWS])
def test_no_page_sends_every_row(large_home, page, params, kinds):
    at = _open(page, params, large_home.model_id)
    sent = sent_rows(at)
    assert kinds <= {kind for kind, _ in sent}, sent
    for kind, rows in sent:
        # the map draws a sample of the clustered points, and a name for each of its largest clusters
        limit = ALTAIR_MAX + LABELS_MAX if kind == "map" else ELEMENT_ROWS
        assert rows <= limit < N_ROWS, (kind, rows, sent)
    assert images_shown(at) <= IMAGES_SHOWN
    for picker in [*at.selectbox, *at.multiselect]:  # a picker's options travel whole: searched above LISTED
        assert len(picker.options) <= long_lists.LISTED + 1 < N_ROWS, (picker.label, len(picker.options))


def test_long_lists_show_their_first_rows_and_say_so(large_home):
    at = _open("pages/5_Face_search.py", {"src": "dataset", "image": "000001.jpg"})
    tables = [rows for kind, rows in sent_rows(at) if kind == "table"]
    charts = [rows for kind, rows in sent_rows(at) if kind == "chart"]
    assert MAX_ROWS in tables and max(charts) <= HISTOGRAM_BINS + 1  # its bars and the same-person rule
    faces = N_ROWS - 1  # every face but the query's own
    assert f"Listing 1,000 of the {faces:,} faces, nearest first; the histogram counts all of them." in [
        c.value for c in at.caption
    ]
    at = _open("pages/6_Data_quality.py", {"check": "images"})
    assert MAX_ROWS in [rows for kind, rows in sent_rows(at) if kind == "table"]
    problems = load_check(open_dataset(large_home.home / "data" / NAME, name=NAME), "images").tables["problems"].height
    assert problems > N_ROWS - WITH_FILES  # every missing file, and what the scan found in the others
    assert f"Listing 1,000 of the {problems:,} unusable images; the CSV download below lists them all." in [
        c.value for c in at.caption
    ]


def test_the_gallery_pages(large_home):
    at = _open("pages/1_Dataset.py", {})
    pages = at.number_input(key="gallery-page")
    assert pages.max == math.ceil(N_ROWS / GALLERY_PAGE_SIZE) and pages.value == 1
    assert _gallery_ids(at) == [f"{i:06d}.jpg" for i in range(1, GALLERY_PAGE_SIZE + 1)]
    pages.set_value(3).run()
    assert not at.exception
    third = [f"{i:06d}.jpg" for i in range(2 * GALLERY_PAGE_SIZE + 1, 3 * GALLERY_PAGE_SIZE + 1)]
    assert _gallery_ids(at) == third
    assert at.query_params["page"] in ("3", ["3"])  # shareable: a link opens this page of the gallery


def _gallery_ids(at: AppTest) -> list[str]:
    """The image ids the page's thumbnails show (each caption starts with one)."""
    return [c.split(" · ")[0] for node in _nodes(at._tree) if node.type == "image" for c in node.captions]
