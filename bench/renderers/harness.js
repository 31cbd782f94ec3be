// The renderer bench's page (bench/bench_map_renderers.py): one adapter (adapter.js) draws the same points; times the
// first frame from the data being in memory, then frames per second while panning (requestAnimationFrame).
import * as adapter from "./adapter.js";

const el = document.getElementById("map");

async function bytes(name) {
  return new Uint8Array(await (await fetch(name)).arrayBuffer());
}

function points(buf) { // n uint32, x f32[n], y f32[n], c u8[n]
  const n = new DataView(buf.buffer).getUint32(0, true);
  return {
    n,
    x: new Float32Array(buf.buffer, 4, n),
    y: new Float32Array(buf.buffer, 4 + 4 * n, n),
    c: new Uint8Array(buf.buffer, 4 + 8 * n, n),
  };
}

function frame() {
  return new Promise((resolve) => requestAnimationFrame(resolve));
}

async function pan(map, seconds) { // back and forth, 4 px a frame, so the same faces stay in view
  const before = map.frames();
  const t0 = performance.now();
  let k = 0;
  while (performance.now() - t0 < seconds * 1000) {
    map.pan(((k++ >> 5) & 1 ? -4 : 4));
    await frame();
  }
  console.log("pan", k, map.frames() - before, performance.now() - t0);
  return (map.frames() - before) / ((performance.now() - t0) / 1000);
}

window.runBench = async (config) => {
  const [pts, blob, atlas] = await Promise.all([
    bytes("points.bin").then(points),
    bytes("map.bin"),
    fetch("atlas.png").then((r) => r.blob()).then((b) => createImageBitmap(b)),
  ]);
  const data = { ...pts, blob, atlas, palette: config.palette, width: config.width, height: config.height };
  await frame();
  const t0 = performance.now();
  const map = await adapter.start(el, data);
  await map.drawn;
  const firstDraw = performance.now() - t0;
  await map.view(config.view, config.faces); // zoomed in: about `faces` points in view, as thumbnails
  await map.settle();
  const faces = map.thumbnails();
  const fps = await pan(map, config.seconds);
  window.__bench = { map, pan: (seconds) => pan(map, seconds) };
  const dotsFps = config.dotsView ? (await map.view(config.dotsView, 0), await map.settle(), await pan(map, config.seconds)) : null;
  return { firstDraw, fps, faces, dotsFps };
};
