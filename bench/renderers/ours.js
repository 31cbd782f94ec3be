// Adapter: ui/scatter_gl.js (today's or the new one), driven as Streamlit drives it (its default export). For the new
// one, a stand-in for ui/map_faces.js answers its requests for faces from an atlas already in memory (the face of
// point i is atlas cell i), drawing each answer as the server does: the tiles' faces, 16 a row, one image.
import render from "./scatter_gl.js";

const CELL = 32;

function answer(map, atlas, version, tiles) {
  const per = atlas.width / CELL, items = map.a.tiles, points = [], sent = [];
  for (const k of tiles) {
    const count = items.starts[k + 1] - items.starts[k];
    if (points.length + count > 1024) break;
    sent.push(k);
    for (let m = items.starts[k]; m < items.starts[k + 1]; m++) points.push(items.items[m]);
  }
  const canvas = new OffscreenCanvas(16 * CELL, Math.ceil(points.length / 16) * CELL), ctx = canvas.getContext("2d");
  points.forEach((i, k) => {
    const cell = i % (per * per);
    ctx.drawImage(atlas, (cell % per) * CELL, Math.floor(cell / per) * CELL, CELL, CELL, (k % 16) * CELL, Math.floor(k / 16) * CELL, CELL, CELL);
  });
  const skipped = tiles.slice(sent.length);
  createImageBitmap(canvas).then((bitmap) => map.receiveFaces({ version, size: CELL, tiles: sent, skipped }, bitmap));
}

export async function start(el, d) {
  el.style.width = d.width + "px";
  const component = { data: d.blob, parentElement: el, setStateValue() {}, key: "bench" };
  render(component);
  const map = el.__faMap;
  const hub = window.__faceatlasHub;
  const version = JSON.parse(new TextDecoder().decode(d.blob.subarray(4, 4 + new DataView(d.blob.buffer).getUint32(0, true)))).version;
  if (hub) (hub[version] = hub[version] || {}).channel = { ready: true, want: (v, tiles) => answer(map, d.atlas, v, tiles), view() {} };
  let frames = 0;
  const draw = map.draw.bind(map);
  map.draw = (...args) => {
    frames++;
    return draw(...args);
  };
  const flush = () => map.gl.readPixels(0, 0, 1, 1, map.gl.RGBA, map.gl.UNSIGNED_BYTE, new Uint8Array(4));
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  const drawn = (async () => {
    while (!map.el.dataset.drawn) await frame();
    flush();
  })();
  const faces = () => (map.thumbnailCount ? map.thumbnailCount() : 0);
  return {
    drawn,
    frames: () => frames,
    thumbnails: faces,
    pan(dx) {
      const v = map.state.view;
      v.cx += dx / v.sx;
      map.draw();
    },
    async view([cx, cy, half], wanted) {
      const v = map.state.view;
      v.cx = cx;
      v.cy = cy;
      v.sx = v.sy = map.width / 2 / half;
      map.draw();
      if (!wanted || !map.faces) return;
      let last = -1, still = 0; // until the faces in view stop arriving (at most 20 s)
      for (let t = 0; t < 200 && still < 5; t++) {
        await new Promise((r) => setTimeout(r, 100));
        map.draw();
        still = faces() === last ? still + 1 : 0;
        last = faces();
      }
    },
    async settle() {
      await frame();
      flush();
    },
  };
}
