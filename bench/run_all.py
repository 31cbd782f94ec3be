"""Run every bench/bench_*.py and assemble docs/BENCHMARKS.md from docs/bench/*.md.

    python -m bench.run_all [--only load ingest] [--skip-slow] [--nice 10] [--assemble-only]

Each benchmark runs as its own `python -m bench.<name>` process (so one crash or memory peak does not
touch the others) and writes its own docs/bench/<area>.md via bench.common.write_section. A module
that declares `SLOW = True` at top level is left out by --skip-slow.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.common import PROJECT, SECTIONS, fmt_s, machine

BENCH_DIR = PROJECT / "bench"
OUTPUT = PROJECT / "docs" / "BENCHMARKS.md"
MODULE_TIMEOUT_S = 3600
SLOW_FLAG = re.compile(r"^SLOW\s*=\s*True\b", re.MULTILINE)


def bench_modules() -> list[str]:
    """Names of the bench/bench_*.py modules, sorted."""
    return sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))


def is_slow(name: str) -> bool:
    return bool(SLOW_FLAG.search((BENCH_DIR / f"{name}.py").read_text()))


def select(names: list[str], only: list[str] | None, skip_slow: bool) -> list[str]:
    """Filter module names: --only matches a substring of the name (`load` -> bench_load)."""
    if only:
        names = [n for n in names if any(o in n for o in only)]
    if skip_slow:
        names = [n for n in names if not is_slow(n)]
    return names


def run_module(name: str, nice: int) -> tuple[bool, float]:
    """`python -m bench.<name>` in the project root; (succeeded, seconds)."""
    preexec = (lambda: os.nice(nice)) if nice else None
    print(f"== bench.{name}", flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", f"bench.{name}"], cwd=PROJECT, preexec_fn=preexec, timeout=MODULE_TIMEOUT_S
        )
        ok = proc.returncode == 0
    except subprocess.TimeoutExpired:
        print(f"bench.{name} ran past {MODULE_TIMEOUT_S}s and was stopped", file=sys.stderr)
        ok = False
    seconds = time.perf_counter() - t0
    print(f"== bench.{name}: {'ok' if ok else 'FAILED'} in {fmt_s(seconds)}", flush=True)
    return ok, seconds


def anchor(title: str) -> str:
    """The GitHub-style anchor of a markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return slug.replace(" ", "-")


def section_title(text: str, fallback: str) -> str:
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    return first[3:].strip() if first.startswith("## ") else fallback


def assemble(refreshed: set[str], failed: set[str]) -> Path:
    """docs/BENCHMARKS.md: a header (machine, date, contents) and every docs/bench/*.md section."""
    sections = sorted(SECTIONS.glob("*.md"))
    contents, bodies = [], []
    for path in sections:
        text = path.read_text()
        title = section_title(text, path.stem)
        module = f"bench_{path.stem}"
        note = ""
        if module in failed:
            note = " — *last run failed; figures are from an earlier run*"
        elif refreshed and module not in refreshed:
            note = " — *not re-run this time*"
        contents.append(f"- [{title}](#{anchor(title)}) (`python -m bench.{module}`){note}")
        bodies.append(text.strip())
    header = [
        "# FaceAtlas benchmarks",
        "",
        f"Assembled {time.strftime('%Y-%m-%d %H:%M %Z')} by `python -m bench.run_all` (`make bench`) on "
        f"{machine()}. Each section states when and where it was measured and puts every figure beside its "
        "baseline from the same run. Regenerate one section with `python -m bench.run_all --only <name>`.",
        "",
        "## Contents",
        "",
        *contents,
    ]
    if not sections:
        header += ["", "_No sections yet: run `python -m bench.run_all`._"]
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text("\n".join(header) + "\n\n" + "\n\n".join(bodies) + "\n")
    return OUTPUT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks and assemble docs/BENCHMARKS.md.")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only modules whose name contains NAME")
    parser.add_argument("--skip-slow", action="store_true", help="leave out modules marked SLOW = True")
    parser.add_argument("--nice", type=int, default=0, help="run the benchmarks at this niceness")
    parser.add_argument("--assemble-only", action="store_true", help="run nothing; rebuild BENCHMARKS.md")
    args = parser.parse_args(argv)
    names = [] if args.assemble_only else select(bench_modules(), args.only, args.skip_slow)
    if args.only and not names and not args.assemble_only:
        print(f"no bench module matches {args.only}; modules: {', '.join(bench_modules())}", file=sys.stderr)
        return 2
    results = {name: run_module(name, args.nice) for name in names}
    failed = {n for n, (ok, _) in results.items() if not ok}
    out = assemble({n for n, (ok, _) in results.items() if ok}, failed)
    for name, (ok, seconds) in results.items():
        print(f"{name:24s} {'ok' if ok else 'FAILED':7s} {fmt_s(seconds)}")
    print(f"wrote {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
