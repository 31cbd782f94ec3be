"""The Clustering page's map of faces in a real browser, beside the map before in the same run -> docs/bench/map.md.

`python -m bench.bench_map [--home DIR]` (tens of minutes on 2 cores; run under nice). Two datasets in a private home:
- the 202,599-image CelebA stand-in (bench/standin_celeba.py: annotations, identities, stand-in embeddings) with an
  image folder of links to the demo's 6,000 faces (each decoded as a CelebA JPEG would be), with the page's map (PCA)
  and clustering (k-means) stored beforehand by the very jobs the page starts;
- the 6,000-image demo with stand-in identity embeddings.
The sprite atlas of each is built first, by the job the page starts (`python -m core sprites`), and timed. Then, for
each map, headless Debian chromium (Playwright, the test suite's flags: software WebGL, no GPU) opens the page URL:
page load to the map drawn, and in the browser the first draw from the map's data arriving; frames per second while
panning zoomed in on about 1,000 faces (requestAnimationFrame) and how long those faces took to arrive; then boxes of
growing size dragged, each timed until the faces panel shows the selected count. "Before" is the page of git
revision BASELINE (a worktree of it, served from the same home) measured the same way. The browser runs on the same
cores as the server; the load average is read before and after each map.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import PROJECT, fmt_s, table, write_section
from tests.browser_support import IDLE_JS, is_idle, launch_chromium, start_server, stop_server

SLOW = True  # writes a 202,599-image stand-in, clusters it, builds its faces, then drives Chromium: ~30 minutes
PAGE = str(PROJECT / "pages" / "4_Clustering.py")
STANDIN = {"dataset": "standin", "n": "202599", "algo": "kmeans", "k": "50"}
DEMO = {"dataset": "demo", "n": "6000", "algo": "kmeans", "k": "50"}
BOXES = (0.02, 0.08, 0.3)  # half-width of the dragged box, as a share of the map's size (few, ~50,000, most points)
TIMEOUT_S = 300
LOADS = 3  # page loads timed per map (median shown): one load swings by a second on 2 shared cores
BASELINE = "5975fa3"  # main before issue 31's second step: faces drawn by WebGL, the map blob sent on every rerun
VIEWPORT = {"width": 1920, "height": 1080}  # a wide screen: the map (the page's width) holds about 1,000 faces
FACES = 1_000  # faces in view while panning
PAN_SECONDS = 4.0

# webgl: the WebGL map has drawn its first frame (the page's other charts, drawn sooner, are not the map).
DRAWN_JS = """(webgl) => {
  for (const host of document.querySelectorAll('*')) {
    const map = host.shadowRoot && host.shadowRoot.querySelector('.fa-map');
    if (map && map.dataset.drawn) return map.dataset.drawn;
  }
  if (webgl) return '';
  const vega = document.querySelector('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg');
  return vega && vega.getBoundingClientRect().height > 100 ? 'vega' : '';
}"""
COUNT_RE = re.compile(r"([\d,]+) faces? selected")


def load_average() -> str:
    return " / ".join(Path("/proc/loadavg").read_text().split()[:3])


def prestore(params: dict) -> None:
    """Open the page once as AppTest with these URL choices and run the background jobs it starts, here."""
    from streamlit.testing.v1 import AppTest

    import ui.jobs
    from core.__main__ import main

    started = []
    saved = ui.jobs.start_job
    ui.jobs.start_job = lambda kind, argv, owner=None: started.append(argv) or "bench"
    try:
        for _ in range(3):  # the map job, then the clustering job (each waits for what comes before)
            at = AppTest.from_file(PAGE, default_timeout=TIMEOUT_S)
            at.query_params.update(params)
            at.run()
            if at.exception:
                raise RuntimeError(at.exception[0].value)
            started[:] = [argv for argv in started if argv[0] != "sprites"]  # built and timed on its own, after
            if not started:
                return
            for argv in started:
                if main(list(argv)) != 0:
                    raise RuntimeError(f"job failed: {argv}")
            started.clear()
    finally:
        ui.jobs.start_job = saved


def wait_idle(page, timeout_s: float = TIMEOUT_S, settle_s: float = 0.3) -> None:
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        state = page.evaluate(IDLE_JS)
        if state != last or not is_idle(state):
            last, since = state, time.monotonic()
        elif time.monotonic() - since >= settle_s:
            return
        page.wait_for_timeout(20)
    raise RuntimeError("the page did not settle")


def map_box(page):
    """The drawable area of the map (WebGL canvas or Altair chart) in page pixels."""
    gl = page.locator(".fa-map canvas.fa-overlay")
    if gl.count():
        return gl.first.bounding_box()
    return page.locator('[data-testid="stVegaLiteChart"]').first.bounding_box()


def drag_box(page, frac: float) -> tuple[int, float, float]:
    """Drag a box around the map's centre: (selected count the panel shows, seconds from release until the panel
    shows it, seconds until the page is idle again: thumbnails and the rest of the page redrawn)."""
    box = map_box(page)
    cx, cy = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.5
    dx, dy = box["width"] * frac, box["height"] * frac
    before = page.locator('[data-testid="stMain"]').inner_text()
    page.mouse.move(cx - dx, cy - dy)
    page.mouse.down()
    page.mouse.move(cx, cy, steps=4)
    page.mouse.move(cx + dx, cy + dy, steps=4)
    t0 = time.perf_counter()
    page.mouse.up()
    page.wait_for_function(
        "(b) => { const t = document.querySelector('[data-testid=stMain]').innerText;"
        " return t !== b && /[\\d,]+ faces? selected/.test(t); }",
        arg=before,
        timeout=TIMEOUT_S * 1000,
        polling=20,
    )
    shown = time.perf_counter() - t0
    settle = 0.3
    wait_idle(page, settle_s=settle)
    idle = time.perf_counter() - t0 - settle
    found = COUNT_RE.search(page.locator('[data-testid="stMain"]').inner_text())
    return int(found.group(1).replace(",", "")), shown, idle


# In the page: zoomed so that the cells of one depth are 29 px wide (the most faces a depth shows), centred on a
# point, the view showing the nearest number of faces to `target`; the map before gets the same view.
FACES_VIEW_JS = """(target) => {
  const host = [...document.querySelectorAll('*')].find((h) => h.shadowRoot && h.shadowRoot.querySelector('.fa-map'));
  const m = host.shadowRoot.querySelector('.fa-map').parentNode.__faMap, f = m.header.faces;
  if (!f) return null;
  const depth = (i) => m.a.tile_depth[m.a.tile[i]];
  let best = null;
  for (let d = 0; d < 8; d++) {
    const s = (29 * f.grid * 2 ** d) / f.side, hw = m.width / 2 / s, hh = m.height / 2 / s;
    if (s < 2 * m.fit().sx) continue;  // faces show from twice the whole map's zoom (FACES_FROM_ZOOM)
    for (let k = 0; k < 16; k++) {
      const c = Math.floor(((k * 7919 + 17) % 1000) / 1000 * m.n);
      const cx = m.a.x[c], cy = m.a.y[c];
      let count = 0;
      for (let i = 0; i < m.n; i++)
        if (Math.abs(m.a.x[i] - cx) <= hw && Math.abs(m.a.y[i] - cy) <= hh && depth(i) <= d) count++;
      if (!best || Math.abs(count - target) < Math.abs(best.count - target)) best = { cx, cy, s, count };
    }
  }
  return best;
}"""
MAP_JS = """() => {
  const host = [...document.querySelectorAll('*')].find((h) => h.shadowRoot && h.shadowRoot.querySelector('.fa-map'));
  return host.shadowRoot.querySelector('.fa-map').parentNode.__faMap;
}"""
PAN_JS = (
    """async ([view, seconds]) => {
  const m = ("""
    + MAP_JS
    + """)();
  Object.assign(m.state.view, { cx: view.cx, cy: view.cy, sx: view.s, sy: view.s });
  m.draw();
  const t0 = performance.now();  // until the faces in view stop arriving (at most 60 s)
  let last = -1, still = 0;
  while (still < 10 && performance.now() - t0 < 60000) {
    await new Promise((r) => setTimeout(r, 100));
    m.draw();
    const now = m.thumbnailCount ? m.thumbnailCount() : 0;
    still = now === last && !(m.faces && m.faces.pending.size) ? still + 1 : 0;
    last = now;
  }
  const arrived = (performance.now() - t0 - 1000) / 1000;
  let frames = 0, k = 0;
  const draw = m.draw.bind(m);
  m.draw = (...a) => { frames++; return draw(...a); };
  const t1 = performance.now();
  while (performance.now() - t1 < seconds * 1000) {
    const v = m.state.view;
    v.cx += ((k++ >> 5) & 1 ? -4 : 4) / v.sx;
    m.draw();
    await new Promise((r) => requestAnimationFrame(r));
  }
  m.draw = draw;
  return { fps: frames / ((performance.now() - t1) / 1000), faces: m.thumbnailCount ? m.thumbnailCount() : 0,
           arrived: m.thumbnailCount ? arrived : null };
}"""
)


def measure(browser, url: str, shot: Path, boxes: tuple[float, ...] = BOXES, view: dict | bool = False) -> dict:
    """Seconds from navigation to the map drawn (and, in the browser, from its data arriving); with `view` (True: the
    view showing about FACES faces, found here; a dict: that view), panning there; then each box's (count, seconds)."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        load_before = load_average()
        t0 = time.perf_counter()
        page.goto(url, wait_until="commit", timeout=TIMEOUT_S * 1000)
        page.wait_for_function(DRAWN_JS, arg="draw=webgl" in url, timeout=TIMEOUT_S * 1000, polling=20)
        drawn = time.perf_counter() - t0
        first = page.evaluate(FIRST_DRAW_JS)
        wait_idle(page)
        page.locator(".fa-map, [data-testid='stVegaLiteChart']").first.scroll_into_view_if_needed()
        panning = None
        if view is True:
            view = page.evaluate(FACES_VIEW_JS, FACES)
        if isinstance(view, dict):
            panning = page.evaluate(PAN_JS, [view, PAN_SECONDS]) | {"view": view}
            page.screenshot(path=str(shot.with_name(shot.stem + "-faces.png")))
            page.evaluate("() => (" + MAP_JS + ")().reset()")
            wait_idle(page)
        selections = [drag_box(page, frac) for frac in boxes]
        page.screenshot(path=str(shot), full_page=False)
        return {"drawn": drawn, "first": first, "panning": panning, "selections": selections,
                "load": f"{load_before} → {load_average()}"}  # fmt: skip
    finally:
        context.close()


FIRST_DRAW_JS = """() => {
  const host = [...document.querySelectorAll('*')].find((h) => h.shadowRoot && h.shadowRoot.querySelector('.fa-map'));
  const m = host && host.shadowRoot.querySelector('.fa-map');
  return m && m.dataset.firstDrawMs ? Number(m.dataset.firstDrawMs) / 1000 : null;
}"""


def query(params: dict) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items())


CASES = (  # label, dataset params, map params, which page (new or before), faces view (True: find it; a label: its)
    ("202,599 stand-in · WebGL, map of faces", STANDIN, {"draw": "webgl", "sel": "box"}, "new", True),
    (f"202,599 stand-in · WebGL, before ({BASELINE})", STANDIN, {"draw": "webgl", "sel": "box"}, "before",
     "202,599 stand-in · WebGL, map of faces"),
    ("6,000 demo · WebGL, map of faces", DEMO, {"draw": "webgl", "sel": "box"}, "new", True),
    (f"6,000 demo · WebGL, before ({BASELINE})", DEMO, {"draw": "webgl", "sel": "box"}, "before",
     "6,000 demo · WebGL, map of faces"),
    ("6,000 demo · Altair (the fallback for small maps)", DEMO, {"draw": "altair", "sel": "box"}, "new", False),
)  # fmt: skip


def image_links(data_dir: Path, n: int) -> None:
    """The stand-in's image folder: n files named as CelebA's (000001.jpg ...), each one of the demo's faces in turn, so
    each is read and decoded as a CelebA JPEG would be: hard links (no space; a symbolic link leading out of a
    dataset's folder is refused, core/data/paths.py safe_join), copies where the file systems differ."""
    folder = data_dir / "standin" / "Img" / "img_align_celeba"
    faces = sorted((PROJECT / "data" / "demo" / "Img" / "img_align_celeba").resolve().glob("*.jpg"))
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        target = folder / f"{i + 1:06d}.jpg"
        if target.is_symlink():
            target.unlink()
        if not target.exists():
            try:
                os.link(faces[i % len(faces)], target)
            except OSError:
                shutil.copy(faces[i % len(faces)], target)


def build_sprites(data_dir: Path, name: str) -> dict:
    """The sprite atlas of dataset `name`, built from nothing (one kept from an earlier run with --home is removed) by
    the page's job command on every core: its JSON result."""
    import json
    import sys

    from core.data.ingest import open_dataset
    from core.data.sprites import atlas_folder

    shutil.rmtree(atlas_folder(open_dataset(data_dir / name, name=name), 32), ignore_errors=True)
    out = subprocess.run([sys.executable, "-m", "core", "sprites", name, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"sprites {name} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def baseline_checkout(revision: str, where: Path) -> Path | None:
    """A worktree of this repository at `revision` (the map before), or None when git cannot make one."""
    if not where.exists():
        made = subprocess.run(["git", "worktree", "add", "--detach", str(where), revision], cwd=PROJECT,
                              capture_output=True, text=True)  # fmt: skip
        if made.returncode != 0:
            return None
    if not (where / ".venv").exists():
        (where / ".venv").symlink_to(PROJECT / ".venv")
    return where


def demo_with_embeddings(data_dir: Path) -> None:
    """The 6,000-image demo (copied from the project's data/demo) with stand-in identity embeddings."""
    import shutil

    import numpy as np

    from bench.synthetic_embeddings import identity_embeddings
    from core.data.embeddings import list_embeddings, save_embeddings
    from core.data.ingest import open_dataset

    target = data_dir / "demo"
    if not target.exists():
        shutil.copytree(PROJECT / "data" / "demo", target)
    ds = open_dataset(target, name="demo")
    if not list_embeddings(ds):
        vectors = identity_embeddings(ds.table["identity"].cast(str).to_numpy(), seed=1)
        save_embeddings(ds, "dlib", vectors, np.ones(len(vectors), bool), synthetic=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, default=None, help="keep the stand-in here between runs")
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the map before")
    parser.add_argument("--only", default="", help="comma-separated case labels' starts (default: every case)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from playwright.sync_api import sync_playwright

    from bench.standin_celeba import N_IMAGES, standin_dataset

    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp)
        os.environ["FACEATLAS_HOME"], os.environ["FACEATLAS_CACHE"] = str(home), str(home / "cache")
        t0 = time.perf_counter()
        chosen = [c for c in CASES if not args.only or c[0].startswith(tuple(args.only.split(",")))]
        needed = [p for p in (STANDIN, DEMO) if any(c[1] is p for c in chosen)]
        if STANDIN in needed:
            image_links(home / "data", N_IMAGES)
            standin_dataset(home / "data")
        if DEMO in needed:
            demo_with_embeddings(home / "data")
        for params in needed:
            prestore(params)
        print(f"datasets and stored results ready in {time.perf_counter() - t0:.0f} s", flush=True)
        sprites = {}
        for name in (p["dataset"] for p in needed):
            load_before = load_average()
            sprites[name] = build_sprites(home / "data", name) | {"load": f"{load_before} → {load_average()}"}
            print("sprites", name, sprites[name], flush=True)
        checkouts = {"new": PROJECT, "before": baseline_checkout(args.baseline, Path(tmp) / "baseline")}
        results: dict[str, dict] = {}
        servers = {}
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright.chromium)
            try:  # both pages served at once: each case beside its baseline, in turn (the load drifts)
                for which, project in checkouts.items():
                    if project is not None and any(c[3] == which for c in chosen):
                        servers[which] = start_server(home, home / f"streamlit-{which}.log", project=project)
                for label, params, extra, which, view in chosen:
                    if which not in servers:
                        continue
                    if isinstance(view, str):
                        view = (results.get(view, {}).get("panning") or {}).get("view", False)
                    address = f"{servers[which][1]}/Clustering?{query({**params, **extra})}"
                    measure(browser, address, home / "warm.png", boxes=())  # the server's caches warm
                    loads = [measure(browser, address, home / "load.png", boxes=()) for _ in range(LOADS - 1)]
                    shot = home / f"map-{len(results)}.png"
                    results[label] = measure(browser, address, shot, view=view)
                    results[label]["loads"] = sorted([*(m["drawn"] for m in loads), results[label]["drawn"]])
                    firsts = [m["first"] for m in (*loads, results[label]) if m["first"] is not None]
                    results[label]["firsts"] = sorted(firsts)
                    print(label, results[label], flush=True)
            finally:
                for proc, _ in servers.values():
                    stop_server(proc)
                browser.close()
        if checkouts["before"] is not None:
            subprocess.run(["git", "worktree", "remove", "--force", str(checkouts["before"])], cwd=PROJECT)
    write_section("map", "Clustering map of faces, beside the map before (headless Chromium)", report(results, sprites))


def report(results: dict, sprites: dict) -> str:
    rows = []
    for label, r in results.items():
        picks = ", ".join(f"{count:,} in {fmt_s(shown)} ({fmt_s(idle)})" for count, shown, idle in r["selections"])
        loads, firsts = r["loads"], r["firsts"]
        drawn = f"{fmt_s(statistics.median(loads))} ({fmt_s(loads[0])}-{fmt_s(loads[-1])})"
        first = f"{fmt_s(statistics.median(firsts))} ({fmt_s(firsts[0])}-{fmt_s(firsts[-1])})" if firsts else "–"
        pan = r.get("panning")
        panning = "–"
        if pan:
            panning = f"{pan['fps']:.0f} frames/s, " + (
                f"{pan['faces']:,} faces (arrived in {fmt_s(pan['arrived'])})" if pan["faces"] else "points only"
            )
        rows.append([label, drawn, first, panning, picks, r["load"]])
    built = [
        [name, f"{s['faces']:,}", str(s["size"]) + " px", fmt_s(s["seconds"]), s["load"]] for name, s in sprites.items()
    ]
    return (
        f"Page load to the map drawn: median of {LOADS} loads (fastest-slowest), each in a fresh browser context (no "
        "cached scripts); first draw: in the browser, from the map's data arriving until its first frame (the new map "
        "records it). Panning: frames per second while the view moves 4 px a frame back and forth for "
        f"{PAN_SECONDS:.0f} s, zoomed in on about {FACES:,} faces (the map before: the same view), and how "
        "long those faces took to arrive. Box selections: the count the faces panel shows, seconds from releasing "
        "the mouse until the panel shows it, and in brackets until the whole page is idle again. Each page is "
        f"opened once before (the server's caches warm). Browser window {VIEWPORT['width']} x {VIEWPORT['height']}, "
        f"the map at the page's width. Before: the page at {BASELINE}, faces drawn by WebGL point sprites, the map's "
        "blob sent with every rerun.\n\n"
        + table(
            [
                "map",
                "page load to map drawn",
                "first draw from data",
                "panning among faces",
                "box selections: faces in",
                "load average before → after",
            ],
            rows,
        )
        + "\n\nThe sprite atlas (every image as a face, the job `python -m core sprites` the page starts), on every "
        "core:\n\n"
        + table(["dataset", "faces", "size", "built in", "load average before → after"], built)
        + "\n\nTargets (issue 31, 202,599 points): first draw within 2 s of the page's data arriving, panning with "
        "1,000 faces in view at 30 frames/s or more, a 50,000-face selection in the panel within 300 ms of releasing "
        "the mouse (1 s on a loaded machine), the atlas built within 5 minutes on 2 cores. Chromium draws WebGL in "
        "software here (SwiftShader, no GPU) on the same 2 cores as the server and other work. The Altair map selects "
        "among its 20,000-point sample only; the stand-in's faces are the demo's 6,000 in turn.\n\n"
        + PROFILE
        + "\n"
        + CHOICE
    )


PROFILE = """Where the time went (measured once while changing it, not rerun by this bench; 202,599 points, about 1,080
faces in view, each figure beside its baseline in the same browser session, load 5-9). A panning frame of the map
before: 17-21 frames/s; without drawing the faces 50-55, without the points 25, without clearing the empty names
layer 23, nothing drawn 60. So the faces cost most: WebGL's textured point sprites for 1,000 faces of 32 px, about
30 ms a frame in software WebGL (instanced quads were slower still: 11 against 15 frames/s). Now the faces are pixel
copies on a 2-D canvas (29-35 frames/s against 17-26), the points under a drawn face are left out and only the points
of 2 x 2 views are kept near, empty layers are hidden (31-39 against 17-26; on the 6,000 demo, 28-32 against 20-24,
three pans each, twice, load 4-5). A selection: the page's rerun sent the map's 2.8 MB blob again, which Streamlit
copies and hashes on every run (18-45 ms of the server's time; now its header alone, 2-4 ms); the faces panel's 24
thumbnails (about 1.2 ms each to read and shrink, cached), the page's answer and its drawing make the rest.
"""

CHOICE = """Why a small WebGL component of our own (ui/scatter_gl.js, a Streamlit components-v2 module shipped with the
app) rather than `st.plotly_chart` with a `scattergl` trace — measured once while choosing, not rerun by this
bench: on 202,599 points, plotly's figure was 10.2 MB of JSON taking 5.4 s to build in Python on the loaded
2 cores (the component's binary map: 2.8 MB gzip-compressed, 7.2 MB before compression and compact types, in
0.4-1 s, built once per map and colouring and cached), and
plotly's selection event carries every selected point back to the server as JSON: in a prototype a box over
most of the map sent a 28.0 MB message, over Streamlit's 25 MB limit, and the server closed the connection.
The component sends back the selection's shape (a box, or a lasso of at most 200 corners) and the server
finds the points inside itself (core/cluster/map.py in_box / in_polygon, under 0.2 s on 202,599 points), so
the message is the same few hundred bytes for 10 or 200,000 points. plotly would also have been a new
dependency on Community Cloud; the component needs none.
"""


if __name__ == "__main__":
    main()
