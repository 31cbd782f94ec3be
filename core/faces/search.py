"""Face search: query faces (from bytes or a dataset row) against a dataset's embeddings or attributes.

Used by the Face search page and the `neighbours` command; results are polars
frames with image_id, identity, distance (nearest first) and the row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from PIL import Image, ImageDraw

from core.data.dataset import Dataset
from core.data.embeddings import DLIB_MODEL, Embeddings, load_embeddings
from core.data.images import open_rgb
from core.errors import DatasetError, ImageError
from core.faces import pipeline as faces
from core.faces.calibration import SamePersonRule, calibrate_embeddings, same_person, same_person_rule
from core.faces.neighbours import EmbeddingIndex, build_index, exact_distances, nearest, nearest_by_attributes

DISTANCE_DECIMALS = 3  # distances are shown (and printed by `core search`) with this many decimals, rounded once
# A query face this close to a stored face is that image (its distance shows as 0.000): an image of the dataset
# uploaded again goes through the dataset's own detection path and gets its stored descriptor.
SAME_IMAGE_DISTANCE = 0.5 * 10**-DISTANCE_DECIMALS
BOX_COLOURS = ("#e4572e", "#29335c", "#f3a712", "#669bbc", "#a8c686")


@dataclass
class QueryFaces:
    """Every face found in a query photo: boxes in the shown image's pixels and one descriptor per face."""

    image: Image.Image  # upright RGB, longer side at most faces.MAX_DETECT_SIDE (what is shown)
    boxes: list[tuple[int, int, int, int]]  # largest first, in `image` pixels
    vectors: np.ndarray  # (F, 128) float32; (0, 128) when faces were found without descriptors
    scale: float = 1.0  # `image` pixels per pixel of the photo as given

    def boxes_in_photo(self) -> list[tuple[int, int, int, int]]:
        """The boxes in the pixels of the photo as given (before any downscaling for detection)."""
        return [tuple(round(v / self.scale) for v in box) for box in self.boxes]


def faces_in_image(
    img: Image.Image, config: faces.FaceConfig = faces.FaceConfig(), aligned: bool = False, describe: bool = True
) -> QueryFaces:
    """Detect every face in an RGB image and (unless describe=False) describe each, mirror-averaged like the dataset."""
    arr, scale = faces.to_array(img)
    if aligned:
        result = faces.process_array(arr, aligned=True, config=config)
        boxes = result.boxes[:1] if result.has_face else []  # the face the dataset's embedding describes
        chips = [result.chip] if result.has_face else []
    else:
        boxes = faces.detect_faces(arr, config)
        chips = [faces.face_chip(arr, faces.landmarks(arr, b)) for b in boxes] if describe else []
    vectors = (
        faces.describe_chips(np.stack(chips), mirror=config.mirror)
        if chips and describe
        else np.zeros((0, faces.DESCRIPTOR_DIM), np.float32)
    )
    return QueryFaces(Image.fromarray(arr) if scale < 1 else img, list(boxes), vectors, scale)


def faces_in_bytes(
    data: bytes, dataset_aligned: bool = False, config: faces.FaceConfig = faces.FaceConfig()
) -> QueryFaces:
    """Decode a photo safely (ImageError with a user message) and find its faces as the dataset's were found.

    On an aligned dataset (CelebA's img_align, the demo) a photo of the aligned crop's size goes through the
    same fast path and fixed-box fallback as the dataset's own images, so a dataset image uploaded again
    gets exactly its stored descriptor.
    """
    if not data:
        raise ImageError("The file is empty.")
    img = open_rgb(data)
    return faces_in_image(img, config, aligned=dataset_aligned and img.size == faces.ALIGNED_SIZE)


def draw_boxes(
    img: Image.Image, boxes: list[tuple[int, int, int, int]], chosen: int | None = None, max_side: int = 480
) -> Image.Image:
    """A copy of `img` (longer side at most max_side) with each box drawn and numbered; the chosen one thicker."""
    scale = min(1.0, max_side / max(img.size))
    out = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale)))) if scale < 1 else img.copy()
    draw = ImageDraw.Draw(out)
    width = max(2, round(max(out.size) / 160))
    for i, box in enumerate(tuple(round(v * scale) for v in b) for b in boxes):
        colour = BOX_COLOURS[i % len(BOX_COLOURS)]
        draw.rectangle(box, outline=colour, width=width * (2 if i == chosen else 1))
        draw.text((box[0] + width, box[1] + width), str(i + 1), fill=colour)
    return out


def index_for(emb: Embeddings) -> EmbeddingIndex:
    """Search index of stored embeddings (rows without a face masked)."""
    return build_index(np.asarray(emb.vectors), emb.has_face)


def ranked_frame(ds: Dataset, rows: np.ndarray, dist: np.ndarray) -> pl.DataFrame:
    """image_id, identity, distance (rounded once, to DISTANCE_DECIMALS), row for the given rows (already ordered)."""
    ids = ds.table["image_id"].to_numpy()
    identity = ds.table["identity"].to_list()
    return pl.DataFrame(
        {
            "image_id": [str(ids[r]) for r in rows],
            "identity": [identity[r] for r in rows],
            "distance": [round(float(d), DISTANCE_DECIMALS) for d in dist],
            "row": rows.astype(np.int64),
        },
        schema={"image_id": pl.String, "identity": pl.String, "distance": pl.Float64, "row": pl.Int64},
    )


def nearest_faces(
    ds: Dataset, index: EmbeddingIndex, query: np.ndarray, k: int, metric: str = "euclidean", exclude: int | None = None
) -> pl.DataFrame:
    """The k dataset faces nearest to a (128,) query vector, with exact (float64) distances."""
    rows, dist = nearest(index, query, k, metric, exclude)
    return ranked_frame(ds, rows, dist)


def dataset_row_of_face(index: EmbeddingIndex, query: np.ndarray) -> int | None:
    """The row whose stored face a (128,) query vector is (closer than SAME_IMAGE_DISTANCE), or None."""
    rows, dist = nearest(index, query, 1)
    return int(rows[0]) if len(rows) and dist[0] < SAME_IMAGE_DISTANCE else None


def all_distances(ds: Dataset, index: EmbeddingIndex, query: np.ndarray, metric: str = "euclidean") -> pl.DataFrame:
    """Every dataset face with its exact distance to the query, nearest first (rows without a face left out)."""
    rows = np.flatnonzero(index.mask)
    dist = exact_distances(index.vectors, rows, query, metric)
    order = np.lexsort((rows, dist))
    return ranked_frame(ds, rows[order], dist[order])


def nearest_attribute_rows(
    ds: Dataset, query: np.ndarray, k: int, exclude: int | None = None, matrix: np.ndarray | None = None
) -> pl.DataFrame:
    """The k images whose attribute vectors differ from the (A,) 0/1 query in the fewest attributes."""
    matrix = ds.attribute_matrix() if matrix is None else matrix
    rows, dist = nearest_by_attributes(matrix, query, k, exclude)
    return ranked_frame(ds, rows, dist)


@dataclass(frozen=True)
class FaceMatches:
    """One face of a query photo and the dataset faces nearest to it."""

    box: tuple[int, int, int, int]  # left, top, right, bottom in the photo's pixels
    neighbours: pl.DataFrame  # image_id, identity, distance, row, same_person (bool) (nearest first)
    dataset_image: str | None  # the dataset image this face is (its stored face, at distance 0), or None


@dataclass(frozen=True)
class PhotoSearch:
    """Every face of a query photo with its neighbours, and the rule that decided which are the same person."""

    faces: list[FaceMatches]  # largest face first
    same_person: SamePersonRule


def search_photo(ds: Dataset, data: bytes, k: int = 10, metric: str = "euclidean") -> PhotoSearch:
    """Every face of a photo (largest first) with its k nearest dataset faces and the same-person decision for
    each: the Face search page's query, with its rule. A photo whose largest face is one of the dataset's stored
    faces (a dataset image uploaded again) is searched as that image: on the demo its identities then decide."""
    emb = load_embeddings(ds, DLIB_MODEL)
    if emb is None:
        raise DatasetError(
            f"{ds.name} has no dlib face embeddings to compare a photo with yet: compute them on the Face search "
            f"page or with `python -m core embed {ds.name}`."
        )
    found = faces_in_bytes(data, ds.aligned)
    index = index_for(emb)
    own_rows = [dataset_row_of_face(index, vector) for vector in found.vectors]
    in_dataset = bool(own_rows) and own_rows[0] is not None
    rule = same_person_rule(ds, emb.model, metric, in_dataset, lambda: calibrate_embeddings(ds, emb))
    image_ids = ds.table["image_id"]
    matches = []
    for box, vector, own in zip(found.boxes_in_photo(), found.vectors, own_rows):
        hits = nearest_faces(ds, index, vector, k, metric)
        decided = same_person(hits["distance"].to_numpy(), rule.threshold)
        image = None if own is None else str(image_ids[own])
        matches.append(FaceMatches(box, hits.with_columns(pl.Series("same_person", decided)), image))
    return PhotoSearch(matches, rule)


def neighbours_of_image(
    ds: Dataset, image_id: str, k: int, by: str = "embedding", metric: str = "euclidean"
) -> pl.DataFrame:
    """k nearest images to one image of the dataset (itself excluded): image_id, identity, distance."""
    row = ds.row_of(image_id)
    if row is None:
        raise DatasetError(f"{image_id!r} is not an image id of {ds.name}.")
    if by == "attributes":
        if not ds.attributes:
            raise DatasetError(f"{ds.name} has no attribute annotations to compare.")
        hits = nearest_attribute_rows(ds, ds.attribute_matrix()[row], k, exclude=row)
    elif by == "embedding":
        emb = load_embeddings(ds)
        if emb is None:
            raise DatasetError(f"{ds.name} has no face embeddings yet: run `python -m core embed {ds.name}` first.")
        if not emb.has_face[row]:
            raise DatasetError(f"No face was found in {image_id}, so it has no embedding to search with.")
        hits = nearest_faces(ds, index_for(emb), np.asarray(emb.vectors[row]), k, metric, exclude=row)
    else:
        raise ValueError(f"Unknown search {by!r}; choose embedding or attributes.")
    return hits.drop("row")
