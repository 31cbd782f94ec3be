"""numba's disk cache: code compiled by one process is loaded by the next (UMAP compiles once per machine)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import numba.core.config
import pytest

from core.cluster.numba_cache import enable_disk_cache
from tests.support import PROJECT

# A library-like module: a jitted function declared without cache=True, as umap-learn declares its own.
LIBRARY = """
import numba

@numba.njit
def total(n):
    s = 0
    for i in range(n):
        s += i
    return s
"""
NEXT_PROCESS = """
import jitted_library
from core.cluster.numba_cache import enable_disk_cache
enable_disk_cache([jitted_library])
assert jitted_library.total(10) == 45
stats = jitted_library.total.stats
print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
"""


def test_the_next_process_loads_what_the_first_compiled(tmp_path, monkeypatch):
    (tmp_path / "jitted_library.py").write_text(LIBRARY)
    cache = tmp_path / "numba"
    monkeypatch.setattr(numba.core.config, "CACHE_DIR", str(cache))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "jitted_library", raising=False)
    module = importlib.import_module("jitted_library")
    assert enable_disk_cache([module]) == 1
    assert enable_disk_cache([module]) == 0  # already on
    assert module.total(10) == 45
    assert list(cache.rglob("*.nbi")) and list(cache.rglob("*.nbc"))
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": f"{tmp_path}{os.pathsep}{PROJECT}"}
    out = subprocess.run([sys.executable, "-c", NEXT_PROCESS], cwd=PROJECT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    hits, misses = (int(n) for n in out.stdout.split())
    assert (hits, misses) == (1, 0)
    monkeypatch.delitem(sys.modules, "jitted_library")


def test_tests_and_the_processes_they_start_share_one_numba_cache():
    """Set by conftest.py before numba's import; jobs (core.jobs) and servers (browser_support) copy os.environ."""
    assert os.environ.get("NUMBA_CACHE_DIR") and os.environ["NUMBA_CACHE_DIR"] == numba.core.config.CACHE_DIR
    child = subprocess.run(
        [sys.executable, "-c", "import numba.core.config as c; print(c.CACHE_DIR)"],
        env={**os.environ},
        capture_output=True,
        text=True,
    )
    assert child.stdout.strip() == os.environ["NUMBA_CACHE_DIR"], child.stderr[-2000:]


@pytest.mark.slow  # importing umap compiles its eagerly typed functions once per checkout (about a minute)
def test_umaps_own_functions_get_the_cache():
    """umap-learn declares them without cache=True: what UMAP compiled in every process before."""
    import umap.umap_
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    from core.cluster.numba_cache import cache_library_code

    jitted = [f for f in vars(umap.umap_).values() if isinstance(f, Dispatcher)]
    cache_library_code()
    assert jitted and not [f.__name__ for f in jitted if isinstance(f._cache, NullCache)]
