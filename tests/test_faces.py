"""Face pipeline and embedding job on a few real photos (../shared/real/celeba_wild_sample) and bad files."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from core.__main__ import main
from core.data.embeddings import embeddings_root, load_embeddings
from core.data.images import open_rgb
from core.data.ingest import ingest
from core.faces import pipeline as faces
from core.faces.embed_job import chunks_dir, embed_dataset, load_status
from tests.support import WILD_SAMPLE, needs

pytestmark = needs(WILD_SAMPLE)
# Two photos each of two identities (from identity.txt).
SAME = {"7458": ("000833.jpg", "004688.jpg"), "7413": ("001651.jpg", "026674.jpg")}
FAST = faces.FaceConfig(rescue="none")  # tests never need the slow CNN rescue


def _identities():
    rows = [line.split() for line in (WILD_SAMPLE / "identity.txt").read_text().splitlines()[1:]]
    return dict(rows)


def test_same_identity_pairs_are_as_listed():
    ids = _identities()
    assert {ids[a] for a, _ in SAME.values()} | {ids[b] for _, b in SAME.values()} == set(SAME)
    assert all(ids[a] == ids[b] == who for who, (a, b) in SAME.items())


def test_pipeline_on_real_photos_same_person_closer():
    names = [n for pair in SAME.values() for n in pair]
    batch = faces.describe_images([WILD_SAMPLE / n for n in names], config=FAST)
    assert batch.status.tolist() == [faces.STATUS_FACE] * 4
    assert batch.vectors.shape == (4, 128) and batch.vectors.dtype == np.float32
    d = np.linalg.norm(batch.vectors[:, None] - batch.vectors[None], axis=2)
    assert d[0, 1] < 0.6 and d[2, 3] < 0.6  # the same person
    assert min(d[0, 2], d[0, 3], d[1, 2], d[1, 3]) > max(d[0, 1], d[2, 3])


def test_chip_and_mirror_descriptor():
    result = faces.process_image(WILD_SAMPLE / "000833.jpg", config=FAST)
    assert result.chip.shape == (150, 150, 3) and result.n_faces >= 1
    plain = faces.describe_chips(result.chip[None], mirror=False)[0]
    flipped = faces.describe_chips(result.chip[None, :, ::-1], mirror=False)[0]
    mirrored = faces.describe_chips(result.chip[None], mirror=True)[0]
    np.testing.assert_allclose(mirrored, (plain + flipped) / 2, atol=1e-6)
    assert 0 < np.linalg.norm(plain - flipped) < 0.5


def test_bytes_and_bad_inputs():
    data = (WILD_SAMPLE / "001651.jpg").read_bytes()
    ok = faces.process_image(data, config=FAST)
    assert ok.has_face
    truncated = faces.process_image(data[: len(data) // 4], config=FAST)
    assert truncated.status == faces.STATUS_FAILED and "damaged" in truncated.error
    assert faces.process_image(b"not an image", config=FAST).status == faces.STATUS_FAILED


def _mixed_folder(folder):
    """Two real photos, an RGBA PNG and a grayscale copy of real ones, a corrupt JPEG, a faceless image."""
    folder.mkdir(parents=True)
    for n in ("000833.jpg", "001651.jpg"):
        shutil.copy(WILD_SAMPLE / n, folder / n)
    rgba = Image.open(WILD_SAMPLE / "004688.jpg").convert("RGBA")
    rgba.putalpha(180)
    rgba.save(folder / "alpha.png")
    Image.open(WILD_SAMPLE / "026674.jpg").convert("L").save(folder / "gray.jpg")
    data = (WILD_SAMPLE / "002045.jpg").read_bytes()
    (folder / "corrupt.jpg").write_bytes(data[: len(data) // 3])
    Image.new("RGB", (320, 240), (90, 140, 200)).save(folder / "sky.jpg")
    return folder


def test_mixed_folder_embeds_what_it_can(tmp_path, isolated_cache):
    ds = ingest(_mixed_folder(tmp_path / "mixed"), "mixed")
    summary = embed_dataset(ds, workers=1, config=FAST, chunk_size=4)
    assert (summary.images, summary.embedded, summary.no_face, summary.failed) == (6, 4, 1, 1)
    assert summary.failed_files == ("corrupt.jpg",)
    emb = load_embeddings(ds, "dlib")
    status = dict(zip(ds.table["image_id"].to_list(), load_status(ds).tolist()))
    assert status["corrupt.jpg"] == faces.STATUS_FAILED and status["sky.jpg"] == faces.STATUS_NO_FACE
    assert status["alpha.png"] == status["gray.jpg"] == faces.STATUS_FACE
    has = dict(zip(ds.table["image_id"].to_list(), emb.has_face.tolist()))
    assert not has["corrupt.jpg"] and not has["sky.jpg"] and has["gray.jpg"]
    row = {n: i for i, n in enumerate(ds.table["image_id"].to_list())}
    v = np.asarray(emb.vectors)
    assert np.linalg.norm(v[row["alpha.png"]] - v[row["000833.jpg"]]) < 0.6  # same person (7458)
    assert np.linalg.norm(v[row["gray.jpg"]] - v[row["001651.jpg"]]) < 0.6  # same person (7413)
    assert not v[row["sky.jpg"]].any()
    assert not chunks_dir(ds).exists()  # chunks are removed once assembled


@pytest.mark.slow
def test_resume_after_interruption_gives_the_same_matrix(tmp_path, isolated_cache):
    folder = tmp_path / "six"
    folder.mkdir()
    for n in ("000833.jpg", "001651.jpg", "026674.jpg", "004688.jpg", "002045.jpg", "000277.jpg"):
        shutil.copy(WILD_SAMPLE / n, folder / n)
    ds = ingest(folder, "six")
    full = embed_dataset(ds, workers=1, config=FAST, chunk_size=2)
    reference = np.array(load_embeddings(ds, "dlib").vectors)
    shutil.rmtree(embeddings_root(ds))

    partial = embed_dataset(ds, workers=1, config=FAST, chunk_size=2, stop_after_chunks=2)  # "killed" after 2 chunks
    assert partial.images == 4 and load_embeddings(ds, "dlib") is None
    chunk_files = sorted(chunks_dir(ds).glob("chunk_*.npz"))
    assert len(chunk_files) == 2
    chunk_files[1].write_bytes(chunk_files[1].read_bytes()[:100])  # killed while writing: truncated

    resumed = embed_dataset(ds, workers=2, config=FAST, chunk_size=2)
    assert resumed.resumed == 2  # only the intact chunk was reused
    assert (resumed.embedded, resumed.no_face) == (full.embedded, full.no_face)
    np.testing.assert_array_equal(np.asarray(load_embeddings(ds, "dlib").vectors), reference)


def test_stale_chunks_are_never_mixed_in(tmp_path, isolated_cache):
    folder = tmp_path / "two"
    folder.mkdir()
    for n in ("000833.jpg", "001651.jpg"):
        shutil.copy(WILD_SAMPLE / n, folder / n)
    ds = ingest(folder, "two")
    chunks = chunks_dir(ds)
    chunks.mkdir(parents=True)
    (chunks / "manifest.json").write_text(json.dumps({"token": "other-dataset", "rows": 2, "chunk_size": 2}))
    np.savez(
        chunks / "chunk_000000.npz",
        vectors=np.ones((2, 128), np.float32),
        status=np.zeros(2, np.int8),
        n_faces=np.ones(2, np.int16),
    )
    summary = embed_dataset(ds, workers=1, config=FAST, chunk_size=2)
    assert summary.resumed == 0
    assert not np.any(np.asarray(load_embeddings(ds, "dlib").vectors) == 1.0)


def test_cli_embed_and_neighbours_json(tmp_path, isolated_cache, capsys):
    folder = tmp_path / "people"
    for who, pair in SAME.items():
        (folder / who).mkdir(parents=True)
        for n in pair:
            shutil.copy(WILD_SAMPLE / n, folder / who / n)
    progress = tmp_path / "progress.json"
    assert main(["embed", str(folder), "--workers", "1", "--json", "--progress-file", str(progress)]) == 0
    out = json.loads(capsys.readouterr().out)
    published = json.loads(progress.read_text())
    assert published["state"] == "done" and published["done"] == published["total"] == 4
    assert published["result"]["embedded"] == 4
    assert {k: out[k] for k in ("images", "embedded", "no_face", "failed", "model")} == {
        "images": 4,
        "embedded": 4,
        "no_face": 0,
        "failed": 0,
        "model": "dlib",
    }
    assert main(["neighbours", str(folder), "--image", "7458/000833.jpg", "-k", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["query"] == "7458/000833.jpg"
    hits = result["neighbours"]
    assert next(h["image_id"] for h in hits) == "7458/004688.jpg" and hits[0]["identity"] == "7458"
    assert "7458/000833.jpg" not in [h["image_id"] for h in hits] and len(hits) == 3
    assert [h["distance"] for h in hits] == sorted(h["distance"] for h in hits)


def _celeba_crop(name):
    """A 178x218 crop of a wild photo aligned the CelebA way (eyes from the 68-point model)."""
    img = open_rgb(WILD_SAMPLE / name)
    arr, scale = faces.to_array(img)
    box = faces.detect_faces(arr, FAST)[0]
    eyes = faces.eye_centres68(faces.shape_points(faces.landmarks(arr, box, "landmarks68"))) / scale
    return np.asarray(faces.align_like_celeba(img, eyes))


def test_aligned_fast_path_matches_detection_on_celeba_style_crops():
    for name in ("000833.jpg", "001651.jpg"):
        crop = _celeba_crop(name)
        assert crop.shape == (218, 178, 3)
        fast = faces.process_array(crop, aligned=True)
        assert fast.status == faces.STATUS_ALIGNED
        # the crop's face sits where CelebA puts it: HOG's box is centred near the fixed box
        centre = lambda b: np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])  # noqa: E731
        assert np.abs(centre(fast.boxes[0]) - centre(faces.ALIGNED_BOX)).max() < 15
        eyes = faces.eye_centres5(fast.landmarks)
        assert np.abs(eyes - np.array(faces.ALIGNED_EYES)).max() < 8
        detected = faces.process_array(crop, aligned=False)
        assert detected.status == faces.STATUS_FACE
        np.testing.assert_array_equal(fast.chip, detected.chip)  # hence the same descriptors


def test_aligned_image_without_a_detectable_face_keeps_the_fixed_box_flagged():
    blank = np.full((218, 178, 3), 200, np.uint8)
    for fast in (True, False):
        result = faces.process_array(
            blank, aligned=True, config=faces.FaceConfig(rescue="auto" if fast else "none", fast_aligned=fast)
        )
        assert result.status == faces.STATUS_FALLBACK and result.boxes == [faces.ALIGNED_BOX] and result.has_face
    assert faces.process_array(blank, aligned=False, config=FAST).status == faces.STATUS_NO_FACE
