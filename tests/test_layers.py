"""The layers of core/, read from the source (every import statement, module-level or inside a function):
no arrow runs up. A new upward import fails here, before it loads a whole package nobody asked for."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import PROJECT

CORE = PROJECT / "core"
# The data layer stands on these alone: the data model, its files and the user-facing errors and spellings.
DATA_MAY_IMPORT = ("core.data", "core.errors", "core.format")
# The top of core: what runs commands and what bridges to Streamlit; nothing else of core builds on them.
TOP = ("core.cli", "core.cached", "core.__main__")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports ('from x import y' gives x and x.y, so a submodule import is seen too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def violations(files: list[Path], allowed) -> list[str]:
    """'file: module' for each import that `allowed(file, module)` refuses."""
    return [
        f"{path.relative_to(PROJECT) if path.is_relative_to(PROJECT) else path.name}: {module}"
        for path in files
        for module in sorted(imported_modules(path))
        if not allowed(path, module)
    ]


def data_layer_allows(_: Path, module: str) -> bool:
    # "core" alone is the package itself (`from core import format`): its submodule is checked on its own.
    return module == "core" or module.split(".")[0] != "core" or _within(module, DATA_MAY_IMPORT)


def test_an_upward_import_is_caught_even_inside_a_function(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\nfrom core.data.dataset import Dataset\n\n"
        "def f():\n    from core.faces.search import nearest_faces\n"
    )
    assert violations([sample], data_layer_allows) == [
        "sample.py: core.faces.search",
        "sample.py: core.faces.search.nearest_faces",
    ]


def test_the_data_layer_imports_nothing_above_it():
    files = sorted((CORE / "data").rglob("*.py"))
    assert len(files) > 5
    assert violations(files, data_layer_allows) == [], (
        "core/data must not import faces, cluster, classify, quality, lessons, charts, cli…"
    )


def test_core_never_imports_the_app_and_only_cached_imports_streamlit():
    files = sorted(CORE.rglob("*.py"))

    def allowed(path: Path, module: str) -> bool:
        if _within(module, ("ui", "pages", "Home")):
            return False
        return not _within(module, ("streamlit",)) or path == CORE / "cached.py"

    assert violations(files, allowed) == []


def test_nothing_in_core_builds_on_the_commands_or_the_streamlit_bridge():
    files = sorted(p for p in CORE.rglob("*.py") if p.name != "__main__.py" and (CORE / "cli") not in p.parents)
    assert violations(files, lambda _, m: not _within(m, TOP)) == []
