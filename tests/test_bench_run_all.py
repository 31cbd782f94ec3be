"""bench.run_all: which modules it runs, and the docs/BENCHMARKS.md it assembles (nothing is run here)."""

from __future__ import annotations

import pytest

import bench.run_all as run_all


def test_modules_are_found_filtered_and_slow_ones_skipped():
    names = run_all.bench_modules()
    assert {"bench_ingest", "bench_load"} <= set(names)
    assert run_all.select(names, ["load"], skip_slow=False) == ["bench_load"]
    assert "bench_load" not in run_all.select(names, None, skip_slow=True)
    assert "bench_ingest" in run_all.select(names, None, skip_slow=True)


def test_unknown_only_name_is_an_error(capsys):
    assert run_all.main(["--only", "no-such-bench"]) == 2
    assert "bench_ingest" in capsys.readouterr().err


@pytest.mark.parametrize(
    "title, expected",
    [
        ("Many users on one server", "many-users-on-one-server"),
        ("Ingest at CelebA scale", "ingest-at-celeba-scale"),
        ("P(A | B) heatmap", "pa--b-heatmap"),
    ],
)
def test_anchor_matches_github_headings(title, expected):
    assert run_all.anchor(title) == expected


def test_assemble_puts_header_contents_and_every_section(tmp_path, monkeypatch):
    sections = tmp_path / "bench"
    sections.mkdir()
    (sections / "ingest.md").write_text("## Ingest at CelebA scale\n\n_Measured x._\n\n| a | b |\n")
    (sections / "load.md").write_text("## Many users on one server\n\nbody of load\n")
    (sections / "stats.md").write_text("## Attribute statistics\n\nbody of stats\n")
    monkeypatch.setattr(run_all, "SECTIONS", sections)
    monkeypatch.setattr(run_all, "OUTPUT", tmp_path / "BENCHMARKS.md")
    out = run_all.assemble(refreshed={"bench_ingest"}, failed={"bench_load"})
    text = out.read_text()
    assert text.startswith("# FaceAtlas benchmarks\n")
    assert run_all.machine() in text.splitlines()[2]
    contents = text.split("## Contents", 1)[1].split("\n## ", 1)[0]
    assert "- [Ingest at CelebA scale](#ingest-at-celeba-scale) (`python -m bench.bench_ingest`)\n" in contents
    assert "(#many-users-on-one-server) (`python -m bench.bench_load`) — *last run failed" in contents
    assert "(#attribute-statistics) (`python -m bench.bench_stats`) — *not re-run this time*" in contents
    assert text.index("## Ingest at CelebA") < text.index("## Many users") < text.index("## Attribute statistics")
    assert "body of load" in text and "| a | b |" in text
