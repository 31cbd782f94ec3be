"""WebGL map renderers on the same points, in headless Chromium (software WebGL) -> docs/bench/map_renderers.md.

`python -m bench.bench_map_renderers [--libraries DIR] [--baseline REV]` (a few minutes; run under nice). Each renderer
draws the same map in a bare page (no Streamlit), through a small adapter (bench/renderers/*.js):
- ours: ui/scatter_gl.js as it is now, and as it was at git revision --baseline ("today's map"), fed the page's own
  binary blob (core/charts/cluster.py webgl_map);
- deck.gl (ScatterplotLayer for every point, IconLayer for the faces from a sprite atlas) and regl-scatterplot
  (every point; it draws no images): bundled with esbuild from an npm folder given by --libraries (installed outside
  the repository: `npm install @deck.gl/core @deck.gl/layers regl-scatterplot esbuild`); skipped without it.
Timed in the browser: the first frame from the data being in memory (drawn and flushed to the canvas), then frames
per second (requestAnimationFrame) while panning back and forth zoomed in with about 1,000 faces in view, and zoomed
out over every point. The points: clumps like a UMAP map of identities (bench-made, seeded).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from bench.common import PROJECT, fmt_s, table, write_section

SLOW = True
SIZES = (6_000, 202_599)
FACES = 1_000  # faces in view while panning (the target: >= 30 frames per second)
WIDTH, HEIGHT = 1280, 640
PAN_SECONDS = 4.0
BASELINE = "913338f"  # main before issue 31: today's map
HERE = Path(__file__).resolve().parent / "renderers"
LIBRARIES = {"deck.gl": "deckgl.js", "regl-scatterplot": "regl_scatterplot.js"}
TIMEOUT_MS = 300_000


def clumps(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) float32 points in tight clumps of ~20 (people on a UMAP map) and (n,) their clump."""
    rng = np.random.default_rng(seed)
    people = max(1, n // 20)
    centres = rng.normal(size=(people, 2)) * np.array([1.6, 1.0])
    who = rng.integers(0, people, n)
    return (centres[who] + rng.normal(scale=0.012, size=(n, 2))).astype(np.float32), who


def window(coords: np.ndarray, count: int, cell_px: float = 29.0) -> tuple[float, float, float]:
    """(cx, cy, half width) of a view showing about `count` faces (at least, where it can), zoomed so that the cells
    of the depth shown are cell_px wide (just above the renderer's threshold: the most faces a depth shows)."""
    from core.cluster.lod import GRID, face_tiles, shown_at

    tiles = face_tiles(coords)
    rng = np.random.default_rng(1)
    best, best_view = -1, (0.0, 0.0, 1.0)
    whole = WIDTH * 0.92 / float(np.ptp(coords[:, 0]))  # the whole map's zoom (ui/scatter_gl.js fit, 4% margins)
    for depth in range(0, 8):
        scale = cell_px * GRID * 2**depth / tiles.side
        if scale < 2.2 * whole:  # faces show from twice the whole map's zoom (FACES_FROM_ZOOM), with room to spare
            continue
        half = WIDTH / 2 / scale
        for i in rng.integers(0, len(coords), 12):
            cx, cy = (float(v) for v in coords[i])
            box = (cx - half, cx + half, cy - half * HEIGHT / WIDTH, cy + half * HEIGHT / WIDTH)
            shown = len(shown_at(tiles, coords, depth, box))
            if abs(shown - count) < abs(best - count):
                best, best_view = shown, (cx, cy, half)
    return best_view


def sprite_atlas(path: Path, side: int = 2048, size: int = 32) -> None:
    """A side x side PNG of demo faces at `size` px (grey squares when no demo is there)."""
    from PIL import Image

    atlas = Image.new("RGB", (side, side), (200, 200, 200))
    folder = PROJECT / "data" / "demo" / "Img" / "img_align_celeba"
    files = sorted(folder.glob("*.jpg"))[: (side // size) ** 2] if folder.is_dir() else []
    for k, file in enumerate(files):
        face = Image.open(file).convert("RGB").crop((0, 20, 178, 198)).resize((size, size))
        atlas.paste(face, ((k % (side // size)) * size, (k // (side // size)) * size))
    atlas.save(path)


def write_inputs(folder: Path, n: int) -> dict:
    """points.bin, map.bin (the page's blob), atlas.png; returns the page's config."""
    from core.charts.cluster import webgl_map
    from core.cluster.lod import face_tiles
    from core.cluster.map import largest_first

    coords, who = clumps(n)
    palette = largest_first(who, "cluster")
    code = palette.group.astype(np.uint8)
    (folder / "points.bin").write_bytes(
        np.uint32(n).tobytes() + coords[:, 0].tobytes() + coords[:, 1].tobytes() + code.tobytes()
    )
    ids = np.array([f"{i + 1:06d}.jpg" for i in range(n)])
    (folder / "map.bin").write_bytes(webgl_map(coords, ids, who, None, palette, faces=face_tiles(coords)))
    return {
        "palette": list(palette.colours),
        "view": window(coords, FACES),
        "faces": FACES,
        "dotsView": None,
        "width": WIDTH,
        "height": HEIGHT,
        "seconds": PAN_SECONDS,
    }


def bundle(entry: Path, libraries: Path, out: Path) -> None:
    """esbuild entry -> one minified ES module, resolving imports from `libraries`/node_modules."""
    esbuild = libraries / "node_modules" / ".bin" / "esbuild"
    env = {**os.environ, "NODE_PATH": str(libraries / "node_modules")}
    subprocess.run(
        [str(esbuild), str(entry), "--bundle", "--format=esm", "--minify", f"--outfile={out}"],
        check=True,
        env=env,
        capture_output=True,
    )


def renderers(folder: Path, libraries: Path | None, baseline: str) -> dict[str, Path]:
    """name -> a folder holding adapter.js (and what it imports) for each renderer available."""
    out = {}
    for name, script in (("ours, new", (PROJECT / "ui" / "scatter_gl.js").read_text()), ("ours, today", None)):
        if script is None:
            shown = subprocess.run(["git", "show", f"{baseline}:ui/scatter_gl.js"], capture_output=True, text=True)
            if shown.returncode != 0:
                continue
            script = shown.stdout
        target = folder / name.replace(", ", "-")
        target.mkdir()
        (target / "scatter_gl.js").write_text(script)
        shutil.copy(HERE / "ours.js", target / "adapter.js")
        out[name] = target
    if libraries is not None:
        for name, entry in LIBRARIES.items():
            target = folder / entry.removesuffix(".js")
            target.mkdir()
            bundle(HERE / entry, libraries, target / "adapter.js")
            out[name] = target
    return out


def bundle_size(folder: Path) -> str:
    data = (folder / "adapter.js").read_bytes()
    if folder.name.startswith("ours"):
        data = (folder / "scatter_gl.js").read_bytes()
    return f"{len(data) / 1024:,.0f} KB ({len(gzip.compress(data)) / 1024:,.0f} KB gzip)"


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def measure(browser, url: str, config: dict) -> dict:
    page = browser.new_page(viewport={"width": WIDTH + 40, "height": HEIGHT + 200})
    try:
        page.goto(url)
        return page.evaluate("(c) => window.runBench(c)", config)
    finally:
        page.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--libraries", type=Path, default=None, help="npm folder with deck.gl, regl-scatterplot, esbuild"
    )
    parser.add_argument("--baseline", default=BASELINE, help="git revision of today's ui/scatter_gl.js")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from tests.browser_support import launch_chromium

    results: dict[tuple[int, str], dict] = {}
    sizes_of: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        found = renderers(root, args.libraries, args.baseline)
        sizes_of = {name: bundle_size(folder) for name, folder in found.items()}
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright.chromium)
            for n in (int(s) for s in args.sizes.split(",")):
                data = root / f"data-{n}"
                data.mkdir()
                config = write_inputs(data, n)
                sprite_atlas(data / "atlas.png")
                for name, folder in found.items():
                    for file in data.iterdir():
                        shutil.copy(file, folder / file.name)
                    (folder / "index.html").write_text(
                        '<!doctype html><html><body style="margin:0"><div id="map"></div>'
                        '<script type="module" src="harness.js"></script></body></html>'
                    )
                    shutil.copy(HERE / "harness.js", folder / "harness.js")
                    server, url = serve(folder)
                    try:
                        results[(n, name)] = measure(browser, f"{url}/index.html", config)
                    finally:
                        server.shutdown()
                    print(n, name, results[(n, name)], flush=True)
            browser.close()
    write_section(
        "map_renderers", "WebGL map renderers on the same points (headless Chromium)", report(results, sizes_of)
    )


def report(results: dict, sizes_of: dict[str, str]) -> str:
    rows = []
    for (n, name), r in results.items():
        rows.append(
            [
                f"{n:,}",
                name,
                fmt_s(r["firstDraw"] / 1000),
                f"{r['fps']:.0f} ({r['faces']:,} faces)" if r["faces"] else f"{r['fps']:.0f} (dots only)",
                sizes_of.get(name, ""),
            ]
        )
    load = " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    return (
        "The same points drawn by each renderer in a bare page (no Streamlit). First draw: from the data being in "
        "memory until the first frame is drawn and flushed. Panning: frames per second drawn while the view moves "
        f"4 px a frame back and forth for {PAN_SECONDS:.0f} s, zoomed in on about {FACES:,} points (drawn as faces "
        "by the renderers that can). Size: the script the browser loads (minified bundle for the libraries).\n\n"
        + table(["points", "renderer", "first draw", "frames/s panning", "script size"], rows)
        + f"\n\nLoad average when written: {load}. Chromium draws WebGL in software here (SwiftShader) on the same "
        "2 cores.\n"
    )


if __name__ == "__main__":
    main()
