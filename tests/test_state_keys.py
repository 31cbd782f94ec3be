"""Session-state keys are named once, in ui/state.py: no page or ui/ module reads or writes st.session_state with a
string it spells itself (read from the source, as tests/test_layers.py reads imports)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import PROJECT
from ui import state

ACCESSORS = {"get", "pop", "setdefault"}


def _is_session_state(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "session_state"


def _spelled(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def spelled_keys(path: Path) -> list[str]:
    """'line: key' for each st.session_state access whose key is a string literal or an f-string."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        key = None
        if isinstance(node, ast.Subscript) and _is_session_state(node.value):
            key = node.slice
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ACCESSORS
            and _is_session_state(node.func.value)
            and node.args
        ):
            key = node.args[0]
        elif isinstance(node, ast.Compare) and any(_is_session_state(c) for c in node.comparators):
            key = node.left
        if key is not None and _spelled(key):
            found.append(f"{node.lineno}: {ast.unparse(key)}")
    return found


def test_the_reader_finds_every_kind_of_spelled_key(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import streamlit as st\n"
        "st.session_state['a'] = 1\n"
        "st.session_state.get(f'b-{x}')\n"
        "if 'c' in st.session_state: pass\n"
        "st.session_state.setdefault(state.NAMED, 0)\n"
    )
    assert spelled_keys(sample) == ["2: 'a'", "3: f'b-{x}'", "4: 'c'"]


def test_pages_and_ui_use_the_named_keys():
    files = [*sorted((PROJECT / "ui").rglob("*.py")), *sorted((PROJECT / "pages").glob("*.py")), PROJECT / "Home.py"]
    spelled = {str(f.relative_to(PROJECT)): keys for f in files if (keys := spelled_keys(f))}
    assert spelled == {}


def test_every_named_key_is_distinct():
    values = [v for k, v in vars(state).items() if k.isupper() and isinstance(v, str)]
    assert len(values) == len(set(values)) > 40
