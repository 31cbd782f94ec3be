"""numba's disk cache for the libraries that compile without it, so UMAP compiles once per machine, not per process.

umap-learn declares its numba functions without `cache=True`: every new process (each UMAP job, each server, each
test run) compiled them again, about 25 s on 2 cores before the first point moved. Turned on here, numba stores
the machine code in NUMBA_CACHE_DIR (else beside the library's source, else in the user's cache folder) and the
next process loads it. The cached code is what numba would compile again: results are unchanged.
"""

from __future__ import annotations

import sys
from types import ModuleType

CACHED_LIBRARIES = ("umap", "pynndescent")


def enable_disk_cache(modules: list[ModuleType]) -> int:
    """Turn numba's disk cache on for every jitted function defined in `modules`; returns how many were turned on.

    Call it after the import and before the first call: code compiled earlier in this process is not stored.
    """
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    turned_on = 0
    for module in modules:
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and isinstance(value._cache, NullCache):
                value.enable_caching()
                turned_on += 1
    return turned_on


def cache_library_code() -> int:
    """enable_disk_cache for every imported module of CACHED_LIBRARIES (import them first)."""
    modules = [m for name, m in list(sys.modules.items()) if m is not None and name.split(".")[0] in CACHED_LIBRARIES]
    return enable_disk_cache(modules)
