"""Read dataset folders in every layout FaceAtlas knows into the common table.

Each loader returns a `Source`: the table (image_id, identity, partition, 0/1
attribute columns), where the images are, and the warnings a user should see.
Parsing errors raise DatasetError with a one-line message naming the file,
the line and what to do; problems that still leave a usable dataset
(count line disagrees, duplicates, missing images) become warnings.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from core import format as fmt
from core.data.celeba import CELEBA_ATTRIBUTES
from core.data.paths import IMAGE_EXTENSIONS, is_image_file
from core.errors import DatasetError

log = logging.getLogger(__name__)

MAX_ANNOTATION_BYTES = 1 << 30  # 1 GiB: larger "annotation" files are refused, not read
MAX_HEADER_BYTES = 1 << 20
MAX_ATTRIBUTES = 1000
IMAGE_COLUMNS = ("image_id", "image_name", "image", "filename", "file", "file_name", "path")
IDENTITY_COLUMNS = ("identity", "id", "person", "person_id", "label")
PARTITION_COLUMNS = ("partition", "split", "subset")
PARTITION_WORDS = {
    "0": "train",
    "1": "val",
    "2": "test",
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}
DEMO_MARKER = "FACEATLAS_DEMO.json"


@dataclass
class Source:
    """What a loader read from a folder, before it is cached."""

    layout: str
    table: pl.DataFrame
    attributes: tuple[str, ...]
    image_dir: Path | None
    warnings: list[str] = field(default_factory=list)
    images_found: int = 0
    aligned: bool = False
    embeddings: tuple[np.ndarray, np.ndarray] | None = None  # (vectors (N,D) float32, valid (N,) bool)
    extra_tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    extras: dict = field(default_factory=dict)


# ---------------------------------------------------------------- layout detection


def _first_existing(root: Path, *candidates: str) -> Path | None:
    for rel in candidates:
        p = root / rel
        if p.is_file():
            if not _inside(p, root):  # a link out of the dataset folder is never read
                log.warning("%s links outside %s; ignored", p, root)
                continue
            return p
    return None


def celeba_files(root: Path) -> dict[str, Path | None]:
    """The CelebA original-layout annotation files present under root."""
    return {
        "attr": _first_existing(root, "Anno/list_attr_celeba.txt", "list_attr_celeba.txt"),
        "identity": _first_existing(root, "Anno/identity_CelebA.txt", "identity_CelebA.txt"),
        "partition": _first_existing(
            root, "Eval/list_eval_partition.txt", "Anno/list_eval_partition.txt", "list_eval_partition.txt"
        ),
        "bbox": _first_existing(root, "Anno/list_bbox_celeba.txt", "list_bbox_celeba.txt"),
        "landmarks": _first_existing(root, "Anno/list_landmarks_align_celeba.txt", "list_landmarks_align_celeba.txt"),
    }


def kaggle_files(root: Path) -> dict[str, Path | None]:
    return {
        "attr": _first_existing(root, "list_attr_celeba.csv"),
        "partition": _first_existing(root, "list_eval_partition.csv"),
        "bbox": _first_existing(root, "list_bbox_celeba.csv"),
        "landmarks": _first_existing(root, "list_landmarks_align_celeba.csv"),
        "identity": _first_existing(root, "identity_CelebA.txt", "Anno/identity_CelebA.txt"),
    }


def _has_image(folder: Path | str) -> bool:
    try:
        with os.scandir(folder) as it:
            return any(e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS for e in it)
    except OSError:
        return False


def _csv_header(path: Path) -> list[str]:
    with open(path, "rb") as f:
        line = f.readline(MAX_HEADER_BYTES)
    if len(line) >= MAX_HEADER_BYTES:
        raise DatasetError(f"{path.name}: the header line is longer than 1 MB; this is not an annotation table.")
    line = line.removeprefix(codecs.BOM_UTF8)
    return [c.strip().strip('"') for c in line.decode("utf-8", "replace").strip().split(",")]


def _repeated_names(names: list[str], path: Path, where: str = "the header") -> None:
    """Each column needs a name of its own: name the repeated ones (a parser would fail or rename them silently)."""
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    repeated = [name for name, n in counts.items() if n > 1]
    if not repeated:
        return
    shown, rest = repeated[:8], len(repeated) - 8
    if rest > 0:
        listed = ", ".join(shown) + f" and {fmt.count(rest)} more"
    else:
        listed = ", ".join(shown[:-1]) + f" and {shown[-1]}" if len(shown) > 1 else shown[0]
    times = "twice" if all(counts[name] == 2 for name in repeated) else "more than once"
    verb = "appears" if len(repeated) == 1 else "appear"
    raise DatasetError(f"{path.name}, {where}: {listed} {verb} {times}; give each column its own name and reload.")


def embedding_csv_in(root: Path) -> Path | None:
    """A CSV with an image column and many numeric columns (celeba_buffalo_*.csv style), if any."""
    if root.is_file() and root.suffix.lower() == ".csv":
        candidates = [root]
    else:
        candidates = sorted(p for p in root.glob("*.csv") if not p.name.startswith("list_") and _inside(p, root))
    for path in candidates:
        try:
            header = [h.lower() for h in _csv_header(path)]
        except (OSError, DatasetError):
            continue
        known = {a.lower() for a in CELEBA_ATTRIBUTES} | set(IMAGE_COLUMNS) | set(IDENTITY_COLUMNS)
        if any(h in IMAGE_COLUMNS for h in header) and sum(h not in known for h in header) >= 16:
            return path
    return None


def _person_dirs(root: Path) -> list[Path]:
    """The folders of root, sorted (the entry's own type: no stat per folder, LFW has thousands)."""
    try:
        with os.scandir(root) as it:
            return [Path(p) for p in sorted(e.path for e in it if not e.name.startswith(".") and e.is_dir())]
    except OSError:
        return []


def _has_person_folder(root: Path) -> bool:
    """Whether any folder of root holds an image: stops at the first, in the directory's own order (no sorting), so
    thousands of empty folders cost one directory read each (10,000: about 60 ms of CPU)."""
    try:
        with os.scandir(root) as it:
            return any(not e.name.startswith(".") and e.is_dir() and _has_image(e.path) for e in it)
    except OSError:
        return False


def detect_layout(root: Path) -> str | None:
    """Which loader reads this folder (cheap: looks at names, parses nothing)."""
    if root.is_file():
        return "embedding_csv" if embedding_csv_in(root) else None
    if not root.is_dir():
        return None
    if celeba_files(root)["attr"]:
        return "celeba"
    if kaggle_files(root)["attr"]:
        return "celeba_kaggle"
    if embedding_csv_in(root):
        return "embedding_csv"
    if _has_image(root):
        return "folder"
    if _has_person_folder(root):
        return "lfw"
    return None


def source_paths(root: Path, layout: str) -> list[Path]:
    """Files and folders whose change must change the dataset's fingerprint."""
    if layout == "celeba":
        files = [p for p in celeba_files(root).values() if p]
        return files + [d for d in _celeba_image_dir_candidates(root) if d.is_dir()]
    if layout == "celeba_kaggle":
        files = [p for p in kaggle_files(root).values() if p]
        return files + [d for d in _kaggle_image_dir_candidates(root) if d.is_dir()]
    if layout == "embedding_csv":
        csv = embedding_csv_in(root)
        base = root.parent if root.is_file() else root
        return [csv] + [d for d in _kaggle_image_dir_candidates(base) if d.is_dir()]
    if layout == "lfw":
        return [root, *_person_dirs(root), *_attribute_csvs(root)]
    identity = [p for p in (root / "identity.txt", root / "identity_CelebA.txt") if p.is_file()]
    return [root, *_attribute_csvs(root), *identity]


# ---------------------------------------------------------------- text parsing


def _read_bytes(path: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_ANNOTATION_BYTES:
        raise DatasetError(f"{path.name} is {fmt.decimal(size / 2**30, 1)} GB, too large for an annotation file.")
    data = path.read_bytes().removeprefix(codecs.BOM_UTF8)  # Notepad's "UTF-8 with BOM" is UTF-8
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DatasetError(f"{path.name}, line {line}: not UTF-8 text. Save the file as UTF-8 and reload.") from None
    return data


def _split_line(data: bytes, start: int, path: Path, line_no: int) -> tuple[str, int]:
    end = data.find(b"\n", start)
    end = len(data) if end < 0 else end
    if end - start > MAX_HEADER_BYTES:
        raise DatasetError(f"{path.name}, line {line_no}: longer than 1 MB; this is not an annotation file.")
    return data[start:end].decode("utf-8").strip(), end + 1


def _normalise_whitespace(body: bytes) -> bytes:
    """Collapse runs of spaces/tabs to one space and trim line ends (CelebA pads with spaces)."""
    body = body.replace(b"\r", b"").replace(b"\t", b" ")
    while b"  " in body:
        body = body.replace(b"  ", b" ")
    return body.replace(b"\n ", b"\n").replace(b" \n", b"\n").strip(b" \n")


def _first_bad_line(body: bytes, n_columns: int, first_line_no: int, numeric: bool) -> str:
    for i, line in enumerate(body.split(b"\n")):
        if len(line) > MAX_HEADER_BYTES:
            return f"line {first_line_no + i} is longer than 1 MB"
        tokens = line.split()
        if tokens and len(tokens) != n_columns:
            return f"line {first_line_no + i} has {len(tokens)} values, expected {n_columns}"
        bad = next((t for t in tokens[1:] if numeric and not t.lstrip(b"-+").isdigit()), None)
        if bad is not None:
            return f"line {first_line_no + i}: {bad.decode(errors='replace')[:20]!r} is not a whole number"
    return "a row could not be parsed"


def read_whitespace_table(
    path: Path, *, count_line: bool, header: bool, value_dtype=pl.Int64, min_columns: int = 2
) -> tuple[pl.DataFrame, int | None]:
    """Parse a CelebA-style text table: [count line], [header line], rows of 'image v1 v2 ...'.

    Returns the frame (first column `image_id`, then one column per header name or
    c1..cn) and the count the file claims (None without a count line).
    """
    data = _read_bytes(path)
    pos, line_no, claimed, names = 0, 1, None, None
    if count_line:
        text, pos = _split_line(data, pos, path, line_no)
        try:
            claimed = int(text)
        except ValueError:
            raise DatasetError(f"{path.name}, line 1: expected the number of images, found {text[:40]!r}.") from None
        line_no += 1
    if header:
        text, pos = _split_line(data, pos, path, line_no)
        names = text.split()
        if not names:
            raise DatasetError(f"{path.name}, line {line_no}: the header line (attribute names) is missing.")
        if len(names) > MAX_ATTRIBUTES:
            raise DatasetError(
                f"{path.name}: {fmt.count(len(names))} columns in the header; at most {MAX_ATTRIBUTES} are supported."
            )
        if names[0].lower() in IMAGE_COLUMNS:
            names = names[1:]
        if _looks_like_names(text.encode()):  # a row of values where the header belongs is diagnosed below
            _repeated_names(names, path, f"line {line_no}")
        line_no += 1
    body = _normalise_whitespace(data[pos:])
    if not body:
        return pl.DataFrame(schema={"image_id": pl.String}), claimed
    first = body[: body.find(b"\n")] if b"\n" in body else body
    if len(first) > MAX_HEADER_BYTES:  # splitting it would make millions of objects
        raise DatasetError(f"{path.name}, line {line_no}: longer than 1 MB; this is not an annotation file.")
    n_columns = len(first.split())
    if names is None:
        names = [f"c{i}" for i in range(1, n_columns)]
    elif n_columns != len(names) + 1:
        if header and _looks_like_names(first):
            raise DatasetError(
                f"{path.name}, line {line_no}: a second header line? Expected rows of an image name and "
                f"{len(names)} values."
            )
        raise DatasetError(
            f"{path.name}, line {line_no}: {n_columns - 1} values but the header names {len(names)} columns."
        )
    if n_columns < min_columns:
        raise DatasetError(f"{path.name}: expected an image name and values on each line.")
    schema = {"image_id": pl.String, **dict.fromkeys(names, value_dtype)}
    numeric = value_dtype != pl.String
    try:
        frame = pl.read_csv(io.BytesIO(body), separator=" ", has_header=False, schema=schema, quote_char=None)
    except Exception:  # polars raises several kinds; the message below says where
        raise DatasetError(f"{path.name}: {_first_bad_line(body, n_columns, line_no, numeric)}.") from None
    if sum(frame.null_count().row(0)):  # polars fills short rows with nulls
        raise DatasetError(f"{path.name}: {_first_bad_line(body, n_columns, line_no, numeric)}.")
    return frame, claimed


def _looks_like_names(line: bytes) -> bool:
    tokens = line.split()
    return len(tokens) > 1 and not any(t.lstrip(b"-").isdigit() for t in tokens[1:])


# ---------------------------------------------------------------- attribute tables


def _to_binary(frame: pl.DataFrame, attributes: list[str], path: Path) -> pl.DataFrame:
    """Check attribute columns hold only -1/0/1 and convert to UInt8 0/1."""
    for name in attributes:
        col = frame[name]
        if col.dtype not in (pl.Int64, pl.Int32, pl.Int16, pl.Int8, pl.UInt8, pl.Boolean):
            raise DatasetError(f"{path.name}: column {name} holds non-integer values; expected -1/1 or 0/1.")
        bad = frame.filter(~pl.col(name).cast(pl.Int64).is_in([-1, 0, 1]) | pl.col(name).is_null())
        if bad.height:
            row = bad.row(0, named=True)
            raise DatasetError(
                f"{path.name}: {fmt.count(bad.height)} values of {name} are not -1, 0 or 1 (first: {row[name]!r} for "
                f"{row['image_id']}). Fix the file and reload."
            )
    return frame.with_columns([(pl.col(a).cast(pl.Int64) > 0).cast(pl.UInt8) for a in attributes])


def _dedupe(frame: pl.DataFrame, path: Path, warnings: list[str]) -> pl.DataFrame:
    dup = frame["image_id"].is_duplicated()
    if dup.any():
        n = int(frame.filter(dup)["image_id"].n_unique())
        example = frame.filter(dup)["image_id"][0]
        warnings.append(
            f"{path.name}: {fmt.count(n)} image ids appear more than once (e.g. {example}); the first row of each is "
            "kept."
        )
        frame = frame.unique(subset="image_id", keep="first", maintain_order=True)
    return frame


def _check_count(claimed: int | None, rows: int, path: Path, warnings: list[str]) -> None:
    if claimed is not None and claimed != rows:
        warnings.append(
            f"{path.name} says {fmt.count(claimed)} images on its first line but holds {fmt.count(rows)} rows; the "
            f"{fmt.count(rows)} rows were loaded."
        )


def _attribute_names_ok(names: list[str], path: Path) -> None:
    for n in names:
        if n in ("identity", "partition", "image_id"):
            raise DatasetError(f"{path.name}: an attribute may not be called {n!r}.")


def _with_identity_partition(
    table: pl.DataFrame, identity: pl.DataFrame | None, partition: pl.DataFrame | None
) -> pl.DataFrame:
    if identity is not None:
        identity = identity.unique(subset="image_id", keep="first")
        table = table.join(identity, on="image_id", how="left", maintain_order="left")
    else:
        table = table.with_columns(pl.lit(None, dtype=pl.String).alias("identity"))
    if partition is not None:
        partition = partition.unique(subset="image_id", keep="first")
        table = table.join(partition, on="image_id", how="left", maintain_order="left")
    else:
        table = table.with_columns(pl.lit(None, dtype=pl.String).alias("partition"))
    return table


def _order_columns(table: pl.DataFrame, attributes: list[str]) -> pl.DataFrame:
    return table.select(
        pl.col("image_id").cast(pl.String),
        pl.col("identity").cast(pl.String),
        pl.col("partition").cast(pl.String),
        *[pl.col(a).cast(pl.UInt8) for a in attributes],
    )


def _partition_labels(values: pl.Series, path: Path) -> pl.Series:
    words = values.cast(pl.String).str.strip_chars().str.to_lowercase()
    mapped = words.replace_strict(PARTITION_WORDS, default=None, return_dtype=pl.String)
    unknown = words.filter(mapped.is_null() & words.is_not_null())
    if len(unknown):
        raise DatasetError(f"{path.name}: partition value {unknown[0]!r} is not 0/1/2 or train/val/test.")
    return mapped


def _read_identity_txt(path: Path, warnings: list[str]) -> pl.DataFrame | None:
    """image_id, identity from an identity file; None (with a warning) when it holds no rows."""
    frame = _read_pairs(path, "identities", warnings)
    return None if frame is None else frame.rename({frame.columns[1]: "identity"}).select("image_id", "identity")


def _read_partition_txt(path: Path, warnings: list[str]) -> pl.DataFrame | None:
    """image_id, partition (train/val/test) from a partition file; None (with a warning) when it holds no rows."""
    frame = _read_pairs(path, "partitions", warnings)
    if frame is None:
        return None
    return pl.DataFrame({"image_id": frame["image_id"], "partition": _partition_labels(frame[frame.columns[1]], path)})


def _read_pairs(path: Path, what: str, warnings: list[str]) -> pl.DataFrame | None:
    """The rows 'image value' of a two-column text file, or None (with a warning) when it has none."""
    has_header = _first_token_is_not_image(path)
    frame, _ = read_whitespace_table(path, count_line=False, header=has_header, value_dtype=pl.String)
    if frame.width < 2 or frame.height == 0:
        warnings.append(f"{path.name} holds no rows, so the dataset is shown without {what}.")
        return None
    return frame


def _first_token_is_not_image(path: Path) -> bool:
    with open(path, "rb") as f:
        line = f.readline(MAX_HEADER_BYTES).decode("utf-8", "replace").split()
    return bool(line) and Path(line[0]).suffix.lower() not in IMAGE_EXTENSIONS


# ---------------------------------------------------------------- images


def _celeba_image_dir_candidates(root: Path) -> list[Path]:
    candidates = [root / "Img" / "img_align_celeba", root / "img_align_celeba", root / "Img", root]
    return [d for d in candidates if _inside(d, root)]


def _kaggle_image_dir_candidates(root: Path) -> list[Path]:
    candidates = [
        root / "img_align_celeba" / "img_align_celeba",
        root / "img_align_celeba",
        root / "Img" / "img_align_celeba",
        root / "images",
        root,
    ]
    return [d for d in candidates if _inside(d, root)]


def _pick_image_dir(candidates: list[Path]) -> Path | None:
    for d in candidates:
        if d.is_dir() and _has_image(d):
            return d
    return None


def _count_present(table: pl.DataFrame, image_dir: Path | None, warnings: list[str]) -> int:
    """How many table rows have a file on disk; warn about the rest."""
    if image_dir is None:
        warnings.append("No image folder found: attribute statistics work, image panels are empty.")
        return 0
    with os.scandir(image_dir) as it:
        names = [e.name for e in it]
    found = int(table["image_id"].is_in(pl.Series(names, dtype=pl.String).implode()).sum())
    missing = table.height - found
    if missing:
        warnings.append(
            f"{fmt.count(missing)} of {fmt.count(table.height)} images named in the annotations are missing from "
            f"{image_dir.name}/; their rows load, their pictures show as unavailable."
        )
    return found


# ---------------------------------------------------------------- loaders


def load_celeba(root: Path) -> Source:
    """CelebA original layout: Anno/*.txt, Eval/list_eval_partition.txt, Img/img_align_celeba/."""
    files = celeba_files(root)
    warnings: list[str] = []
    attr_path = files["attr"]
    frame, claimed = read_whitespace_table(attr_path, count_line=True, header=True)
    attributes = [c for c in frame.columns if c != "image_id"]
    _attribute_names_ok(attributes, attr_path)
    _check_count(claimed, frame.height, attr_path, warnings)
    frame = _dedupe(_to_binary(frame, attributes, attr_path), attr_path, warnings)
    identity = _read_identity_txt(files["identity"], warnings) if files["identity"] else None
    partition = _read_partition_txt(files["partition"], warnings) if files["partition"] else None
    table = _order_columns(_with_identity_partition(frame, identity, partition), attributes)
    _warn_unmatched(table, identity, partition, warnings)
    extra_tables = _optional_tables(
        files, lambda path: read_whitespace_table(path, count_line=True, header=True)[0], warnings
    )
    image_dir = _pick_image_dir(_celeba_image_dir_candidates(root))
    found = _count_present(table, image_dir, warnings)
    aligned = (image_dir is not None and "align" in str(image_dir).lower()) or (root / DEMO_MARKER).exists()
    return Source("celeba", table, tuple(attributes), image_dir, warnings, found, aligned, extra_tables=extra_tables)


def _optional_tables(
    files: dict[str, Path | None], read: Callable[[Path], pl.DataFrame], warnings: list[str]
) -> dict[str, pl.DataFrame]:
    """The optional bbox and landmarks tables, each as `read` reads it; one it cannot read is skipped and said."""
    tables = {}
    for key in ("bbox", "landmarks"):
        if files[key]:
            try:
                tables[key] = read(files[key])
            except DatasetError as exc:
                warnings.append(f"{exc} (optional file skipped)")
    return tables


def _warn_unmatched(
    table: pl.DataFrame, identity: pl.DataFrame | None, partition: pl.DataFrame | None, warnings: list[str]
) -> None:
    if identity is not None:
        n = table["identity"].null_count()
        if n:
            warnings.append(f"{fmt.count(n)} images have no identity in the identity file.")
    if partition is not None:
        n = table["partition"].null_count()
        if n:
            warnings.append(f"{fmt.count(n)} images have no partition in the partition file.")


def _read_csv(path: Path) -> pl.DataFrame:
    _read_bytes(path)  # size and encoding checks with a clear message
    header = _csv_header(path)
    if len(header) > MAX_ATTRIBUTES + 4096:
        raise DatasetError(f"{path.name}: {fmt.count(len(header))} columns; this is not an annotation table.")
    _repeated_names(header, path, "line 1")
    try:
        return pl.read_csv(path, infer_schema_length=10_000)
    except Exception as exc:  # polars' parse errors are long; keep the first line
        first = str(exc).strip().splitlines()[0][:160]
        raise DatasetError(f"{path.name}: could not be read as CSV ({first}).") from None


def _read_image_csv(path: Path) -> pl.DataFrame:
    """A CSV of per-image rows (bbox, landmarks) with its image column named image_id."""
    frame = _read_csv(path)
    return frame.rename({_image_column(frame, path): "image_id"})


def _image_column(frame: pl.DataFrame, path: Path) -> str:
    lower = {c.lower(): c for c in frame.columns}
    for name in IMAGE_COLUMNS:
        if name in lower:
            return lower[name]
    raise DatasetError(f"{path.name}: no image column (expected one of {', '.join(IMAGE_COLUMNS)}).")


def _check_attribute_count(attributes: list[str], path: Path) -> None:
    if len(attributes) > MAX_ATTRIBUTES:
        raise DatasetError(
            f"{path.name}: {fmt.count(len(attributes))} attribute columns; at most {MAX_ATTRIBUTES} are supported."
        )


def _binary_columns(frame: pl.DataFrame, skip: set[str]) -> list[str]:
    """Integer/boolean columns whose values are all within -1/0/1."""
    out = []
    for c in frame.columns:
        if c in skip or not (frame[c].dtype.is_integer() or frame[c].dtype == pl.Boolean):
            continue
        values = frame[c].cast(pl.Int64)
        if values.null_count() == 0 and values.is_in([-1, 0, 1]).all():
            out.append(c)
    return out


def load_kaggle(root: Path) -> Source:
    """CelebA Kaggle layout: list_*.csv beside img_align_celeba/img_align_celeba/."""
    files = kaggle_files(root)
    warnings: list[str] = []
    attr_path = files["attr"]
    frame = _read_csv(attr_path)
    image_col = _image_column(frame, attr_path)
    frame = frame.rename({image_col: "image_id"}).with_columns(pl.col("image_id").cast(pl.String))
    attributes = [c for c in frame.columns if c != "image_id"]
    if not attributes:
        raise DatasetError(f"{attr_path.name}: no attribute columns after the image column.")
    _check_attribute_count(attributes, attr_path)
    frame = _dedupe(_to_binary(frame, attributes, attr_path), attr_path, warnings)
    partition = None
    if files["partition"]:
        p = _read_csv(files["partition"])
        pcol = _image_column(p, files["partition"])
        others = [c for c in p.columns if c != pcol]
        if not others or p.height == 0:
            warnings.append(f"{files['partition'].name} has no partition column, so the dataset is shown without one.")
        else:
            labels = _partition_labels(p[others[0]], files["partition"])
            partition = pl.DataFrame({"image_id": p[pcol].cast(pl.String), "partition": labels})
    identity = _read_identity_txt(files["identity"], warnings) if files["identity"] else None
    table = _order_columns(_with_identity_partition(frame, identity, partition), attributes)
    _warn_unmatched(table, identity, partition, warnings)
    extra_tables = _optional_tables(files, _read_image_csv, warnings)
    image_dir = _pick_image_dir(_kaggle_image_dir_candidates(root))
    found = _count_present(table, image_dir, warnings)
    return Source(
        "celeba_kaggle",
        table,
        tuple(attributes),
        image_dir,
        warnings,
        found,
        aligned=True,
        extra_tables=extra_tables,
    )


def _numeric_text_columns(frame: pl.DataFrame, skip: set) -> pl.DataFrame:
    """Text columns that are numbers apart from a few 'nan'/'inf'/blank cells become Float64."""
    casts = []
    for c in frame.columns:
        if c in skip or frame[c].dtype != pl.String:
            continue
        as_float = frame[c].str.strip_chars().cast(pl.Float64, strict=False)
        if as_float.null_count() <= max(1, frame.height // 10):
            casts.append(as_float.alias(c))
    return frame.with_columns(casts) if casts else frame


def load_embedding_csv(root: Path) -> Source:
    """celeba_buffalo_*.csv style: image_name, id, attribute columns, float embedding columns."""
    path = embedding_csv_in(root)
    base = root.parent if root.is_file() else root
    warnings: list[str] = []
    frame = _read_csv(path)
    image_col = _image_column(frame, path)
    lower = {c.lower(): c for c in frame.columns}
    id_col = next((lower[n] for n in IDENTITY_COLUMNS if n in lower), None)
    part_col = next((lower[n] for n in PARTITION_COLUMNS if n in lower), None)
    skip = {image_col, id_col, part_col}
    named = [c for c in frame.columns if c in CELEBA_ATTRIBUTES]
    attributes = named or _binary_columns(frame, skip)
    _check_attribute_count(attributes, path)
    frame = _numeric_text_columns(frame, skip | set(attributes))
    emb_cols = [c for c in frame.columns if c not in skip and c not in attributes and frame[c].dtype.is_numeric()]
    if len(emb_cols) < 2:
        raise DatasetError(f"{path.name}: no embedding columns (float columns after the attributes).")
    frame = frame.rename({image_col: "image_id"}).with_columns(pl.col("image_id").cast(pl.String))
    frame = _to_binary(frame, attributes, path) if attributes else frame
    vectors = frame.select(pl.col(emb_cols).cast(pl.Float32)).to_numpy().astype(np.float32)
    valid = np.isfinite(vectors).all(axis=1)
    if (~valid).any():
        warnings.append(
            f"{path.name}: {fmt.count(int((~valid).sum()))} rows have missing, NaN or infinite embedding values; they "
            "are left out of searches and clustering."
        )
        vectors[~valid] = 0.0
    identity = frame.select("image_id", pl.col(id_col).cast(pl.String).alias("identity")) if id_col else None
    partition = (
        pl.DataFrame({"image_id": frame["image_id"], "partition": _partition_labels(frame[part_col], path)})
        if part_col
        else None
    )
    keep = frame.select("image_id", *attributes).with_row_index("_row")
    dup = keep["image_id"].is_duplicated()
    if dup.any():
        warnings.append(f"{path.name}: {fmt.count(int(dup.sum()))} rows repeat an image id; the first of each is kept.")
        keep = keep.unique(subset="image_id", keep="first", maintain_order=True)
        rows = keep["_row"].to_numpy()
        vectors, valid = vectors[rows], valid[rows]
    table = _order_columns(_with_identity_partition(keep.drop("_row"), identity, partition), attributes)
    image_dir = _pick_image_dir(_kaggle_image_dir_candidates(base)[:-1])
    found = _count_present(table, image_dir, warnings) if image_dir else 0
    return Source(
        "embedding_csv",
        table,
        tuple(attributes),
        image_dir,
        warnings,
        found,
        aligned=image_dir is not None,
        embeddings=(np.ascontiguousarray(vectors), valid),
        extras={"embedding_source": path.name},
    )


def _attribute_csvs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*.csv") if _inside(p, root))


def _join_attribute_csv(root: Path, table: pl.DataFrame, warnings: list[str]) -> tuple[pl.DataFrame, list[str]]:
    """Attach an optional attributes CSV (image column + 0/1 or -1/1 columns) to a scanned image table."""
    for path in _attribute_csvs(root):
        try:
            frame = _read_csv(path)
            image_col = _image_column(frame, path)
        except DatasetError as exc:
            warnings.append(f"{exc} (attributes CSV skipped)")
            continue
        lower = {c.lower(): c for c in frame.columns}
        id_col = next((lower[n] for n in IDENTITY_COLUMNS if n in lower), None)
        part_col = next((lower[n] for n in PARTITION_COLUMNS if n in lower), None)
        frame = frame.rename({image_col: "image_id"}).with_columns(pl.col("image_id").cast(pl.String))
        attributes = _binary_columns(frame, {"image_id", id_col, part_col})
        _check_attribute_count(attributes, path)
        frame = _dedupe(_to_binary(frame, attributes, path), path, warnings)
        cols = [pl.col("image_id"), *[pl.col(a) for a in attributes]]
        if id_col:
            cols.append(pl.col(id_col).cast(pl.String).alias("_identity"))
        if part_col:
            cols.append(_partition_labels(frame[part_col], path).alias("_partition"))
        joined = table.join(frame.select(cols), on="image_id", how="left", maintain_order="left")
        unmatched = joined[attributes[0]].null_count() if attributes else 0
        if unmatched:
            warnings.append(
                f"{path.name}: {fmt.count(unmatched)} images have no row; their attributes count as absent."
            )
        joined = joined.with_columns([pl.col(a).fill_null(0) for a in attributes])
        if id_col:
            joined = joined.with_columns(pl.coalesce("_identity", "identity").alias("identity")).drop("_identity")
        if part_col:
            joined = joined.with_columns(pl.coalesce("_partition", "partition").alias("partition")).drop("_partition")
        return joined, attributes
    return table, []


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):
        return False


def _scan_images(folder: Path, root: Path, warnings: list[str]) -> list[str]:
    """Image file names in folder, leaving out links that lead outside root."""
    names, outside, undecodable = [], 0, 0
    with os.scandir(folder) as it:
        for entry in it:
            path = Path(entry.path)
            if not is_image_file(path):
                continue
            if entry.is_symlink() and not _inside(path, root):
                outside += 1
                continue
            if not _is_utf8(entry.name):
                undecodable += 1
                continue
            if entry.is_file():
                names.append(entry.name)
    if outside:
        warnings.append(f"{folder.name}/: {outside} linked files point outside the dataset folder and were skipped.")
    if undecodable:
        warnings.append(f"{folder.name}/: {undecodable} file names are not valid UTF-8 and were skipped; rename them.")
    return sorted(names)


def _is_utf8(name: str) -> bool:
    """False for names the file system gave as undecodable bytes (surrogate escapes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def load_lfw(root: Path) -> Source:
    """LFW layout: one folder per person; identity = folder name; optional pairs.txt kept."""
    warnings: list[str] = []
    ids, people = [], []
    for person_dir in _person_dirs(root):
        if person_dir.is_symlink() and not _inside(person_dir, root):
            warnings.append(f"{person_dir.name}/ links outside the dataset folder and was skipped.")
            continue
        if not _is_utf8(person_dir.name):
            warnings.append(
                f"{person_dir.name.encode('utf-8', 'replace').decode()}/: the folder name is not valid UTF-8 "
                "and was skipped; rename it."
            )
            continue
        for name in _scan_images(person_dir, root, warnings):
            ids.append(f"{person_dir.name}/{name}")
            people.append(person_dir.name)
    if not ids:
        raise DatasetError(f"{root.name}: no images in its person folders.")
    table = pl.DataFrame(
        {"image_id": ids, "identity": people, "partition": [None] * len(ids)},
        schema={"image_id": pl.String, "identity": pl.String, "partition": pl.String},
    )
    table, attributes = _join_attribute_csv(root, table, warnings)
    extras = {"pairs": "pairs.txt"} if (root / "pairs.txt").is_file() else {}
    return Source("lfw", _order_columns(table, attributes), tuple(attributes), root, warnings, len(ids), extras=extras)


def load_folder(root: Path) -> Source:
    """A plain folder of images, optionally with an attributes CSV and an identity.txt beside them."""
    warnings: list[str] = []
    names = _scan_images(root, root, warnings)
    if not names:
        raise DatasetError(f"{root.name}: no images (.jpg, .png, .webp, .bmp) in this folder.")
    table = pl.DataFrame(
        {"image_id": names, "identity": [None] * len(names), "partition": [None] * len(names)},
        schema={"image_id": pl.String, "identity": pl.String, "partition": pl.String},
    )
    table, attributes = _join_attribute_csv(root, table, warnings)
    identity_file = _first_existing(root, "identity.txt", "identity_CelebA.txt", "identities.txt")
    if identity_file is not None:
        identity = _read_identity_txt(identity_file, warnings)
        if identity is not None:
            table = table.drop("identity").join(identity, on="image_id", how="left", maintain_order="left")
            _warn_unmatched(table, identity, None, warnings)
    return Source("folder", _order_columns(table, attributes), tuple(attributes), root, warnings, len(names))


LOADERS = {
    "celeba": load_celeba,
    "celeba_kaggle": load_kaggle,
    "embedding_csv": load_embedding_csv,
    "lfw": load_lfw,
    "folder": load_folder,
}


def load_source(root: Path, layout: str | None = None) -> Source:
    """Read a dataset folder (layout auto-detected) into a Source."""
    layout = layout or detect_layout(root)
    if layout is None:
        raise DatasetError(
            f"{root.name}: no dataset found. Expected CelebA annotation files (Anno/list_attr_celeba.txt "
            "or list_attr_celeba.csv), an embedding CSV, person folders (LFW) or images."
        )
    if layout not in LOADERS:
        raise DatasetError(f"Unknown layout {layout!r}; choose one of {', '.join(LOADERS)}.")
    source = LOADERS[layout](root)
    if source.table.height == 0:
        raise DatasetError(f"{root.name}: the annotation file has no rows.")
    return source
