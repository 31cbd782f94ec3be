"""Pages never die on what the server's files do: a damaged stored result, a full disk or a link's odd parameter
each give a sentence (and a way to compute the result again), never "This app has encountered an error", and no
message names a path on the server."""

from __future__ import annotations

import builtins
import errno
import io
import os
import shutil
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

import core.errors
from core import cached
from core.data.ingest import open_dataset
from core.errors import DiskFullError, is_disk_full, said_when_disk_full
from core.quality import run_audit
from core.quality.store import quality_dir
from tests.support import PROJECT, copy_home
from ui import links

HOME = str(PROJECT / "Home.py")
FACE_SEARCH = str(PROJECT / "pages" / "5_Face_search.py")
DATA_QUALITY = str(PROJECT / "pages" / "6_Data_quality.py")
DISK_FULL = "The server's disk is full"


@pytest.fixture
def home(demo_home, tmp_path, monkeypatch) -> Path:
    """A copy of the test demo's home (its own ingest key), isolated from the session's."""
    copy_home(demo_home, tmp_path, ("demo",))
    monkeypatch.setenv("FACEATLAS_HOME", str(tmp_path))
    monkeypatch.setenv("FACEATLAS_CACHE", str(tmp_path / "cache"))
    cached.dataset_refs.clear()
    yield tmp_path
    cached.dataset_refs.clear()


def run_page(path: str, **params) -> AppTest:
    at = AppTest.from_file(path, default_timeout=120)
    at.query_params.update({"dataset": "demo", **params})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> list[str]:
    """Every sentence the page shows in an alert or a caption."""
    return [e.value for e in (*at.error, *at.warning, *at.info, *at.caption)]


def fill_the_disk(monkeypatch, root: Path) -> None:
    """From now on every write under `root` fails as on a full disk (ENOSPC), however it is made: Python's open,
    os.open and os.mkdir, and polars' own parquet writer. Reading goes on as before."""
    root_text = str(root)

    def under(path) -> bool:
        try:
            return os.path.abspath(os.fspath(path)).startswith(root_text)
        except TypeError:  # a file descriptor or a buffer
            return False

    def full(path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))

    real_open, real_os_open, real_mkdir = builtins.open, os.open, os.mkdir
    real_write_parquet = pl.DataFrame.write_parquet

    def open_(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and under(file):
            full(file)
        return real_open(file, mode, *args, **kwargs)

    def os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and under(path):
            full(path)
        return real_os_open(path, flags, *args, **kwargs)

    def mkdir(path, *args, **kwargs):
        if under(path) and not os.path.isdir(path):
            full(path)
        return real_mkdir(path, *args, **kwargs)

    def write_parquet(self, file, *args, **kwargs):
        if under(file):
            full(file)
        return real_write_parquet(self, file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)
    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(pl.DataFrame, "write_parquet", write_parquet)


# ---------------------------------------------------------------- a damaged stored result


def test_a_truncated_audit_result_is_said_and_offered_again(home):
    ds = open_dataset(home / "data" / "demo", name="demo")
    run_audit(ds, ("images",), workers=1)
    (table,) = quality_dir(ds).glob("images-*/problems.parquet")
    table.write_bytes(table.read_bytes()[: table.stat().st_size // 2])
    for visit in range(2):  # every visit, not only the first
        at = run_page(DATA_QUALITY, check="images")
        shown = texts(at)
        assert any("results for unusable images could not be read" in t and "set aside" in t for t in shown), (
            visit,
            shown,
        )
        assert at.button(key="dq-run"), "the page must offer to run the audit again"
        assert not any(str(home) in t for t in shown), shown


def test_a_truncated_image_scan_leaves_the_page_working(home):
    ds = open_dataset(home / "data" / "demo", name="demo")
    run_audit(ds, ("images",), workers=1)
    (table,) = quality_dir(ds).glob("scan-*/table.parquet")
    table.write_bytes(b"PAR1")
    at = run_page(DATA_QUALITY, check="images")
    assert at.button(key="dq-run")


# ---------------------------------------------------------------- a full disk


def test_home_on_a_full_disk_says_so(home, monkeypatch):
    fill_the_disk(monkeypatch, home)  # nothing of this copy is ingested yet: opening it must write its cache
    at = run_page(HOME)
    shown = texts(at)
    assert any(DISK_FULL in t for t in shown), shown
    assert not any(str(home) in t for t in shown), shown


def test_starting_a_job_on_a_full_disk_says_so(home, monkeypatch):
    at = run_page(DATA_QUALITY)
    assert at.button(key="dq-run")
    shutil.rmtree(home / "cache" / "jobs", ignore_errors=True)
    fill_the_disk(monkeypatch, home)
    at.button(key="dq-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert any(DISK_FULL in t and "could not start" in t for t in shown), shown
    assert not any(str(home) in t for t in shown), shown


# What each writer raised on a real full file system (a 1 MB tmpfs): Python's own writes set errno, polars' parquet
# writer and numpy's array.tofile (np.save to a file) do not.
FULL_DISK_ERRORS = {
    "python": OSError(errno.ENOSPC, "No space left on device"),
    "quota": OSError(errno.EDQUOT, "Disk quota exceeded"),
    "polars": pl.exceptions.ComputeError(
        "parquet: File out of specification: underlying IO error: No space left on device (os error 28)"
    ),
    "numpy": OSError("400000 requested and 131056 written"),
}


@pytest.mark.parametrize("error", FULL_DISK_ERRORS.values(), ids=FULL_DISK_ERRORS.keys())
def test_every_writers_full_disk_becomes_one_sentence(error):
    with pytest.raises(DiskFullError) as raised, said_when_disk_full("the job could not start"):
        raise error
    assert str(raised.value).startswith("The server's disk is full, so the job could not start. Free some space")
    assert isinstance(raised.value, OSError)  # code that handles a failed write still does


# polars' parquet writer on a full disk, for a small table: nothing in its words says why.
POLARS_SMALL_TABLE = pl.exceptions.ComputeError("parquet: File out of specification: Invalid thrift: transport error")


def test_a_failure_that_does_not_say_why_is_a_full_disk_where_no_space_is_left(tmp_path, monkeypatch):
    monkeypatch.setattr(core.errors, "_free_bytes", lambda folder: 4096.0)
    with pytest.raises(DiskFullError), said_when_disk_full("the job could not start", tmp_path):
        raise POLARS_SMALL_TABLE


@pytest.mark.parametrize(
    "error",
    [PermissionError(errno.EACCES, "Permission denied"), POLARS_SMALL_TABLE],
    ids=["permission", "polars"],
)
def test_other_failures_are_not_called_a_full_disk(tmp_path, error):
    assert not is_disk_full(error, tmp_path)  # the test's folder has space left
    with pytest.raises(type(error)), said_when_disk_full("the job could not start", tmp_path):
        raise error


# ---------------------------------------------------------------- a link's odd parameter


@pytest.mark.parametrize("tab", ["x", "", "By face", "attributes "])
def test_face_search_with_an_unknown_tab_opens_the_default(home, tab):
    at = run_page(FACE_SEARCH, tab=tab)
    assert at.session_state["fs-tab"] == "By face"


def test_a_parser_that_finds_nothing_leaves_the_default(monkeypatch):
    """links.restore ignores a value its parser cannot map, whatever the parser raises (a lookup, a next())."""
    seeded: dict = {}
    monkeypatch.setattr(links.st, "session_state", seeded)
    monkeypatch.setattr(links.st, "query_params", {"tab": "x"})
    links.restore("tab-key", "tab", {"attributes": "By attributes"}.__getitem__)
    links.restore("tab-key", "tab", lambda t: next(k for k in ("a", "b") if k == t))
    assert seeded == {}
