// Adapter: deck.gl (ScatterplotLayer for every point, IconLayer for the faces from a sprite atlas), bundled by esbuild.
import { Deck, OrthographicView } from "@deck.gl/core";
import { IconLayer, ScatterplotLayer } from "@deck.gl/layers";

function rgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

export async function start(el, d) {
  const n = d.n, positions = new Float32Array(2 * n), colours = new Uint8Array(4 * n);
  const palette = d.palette.map(rgb);
  for (let i = 0; i < n; i++) {
    positions[2 * i] = d.x[i];
    positions[2 * i + 1] = d.y[i];
    colours.set([...palette[d.c[i]], 200], 4 * i);
  }
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, d.x[i]); x1 = Math.max(x1, d.x[i]); y0 = Math.min(y0, d.y[i]); y1 = Math.max(y1, d.y[i]);
  }
  let viewState = { target: [(x0 + x1) / 2, (y0 + y1) / 2, 0], zoom: Math.log2(Math.min(d.width / (x1 - x0), d.height / (y1 - y0)) * 0.92) };
  let frames = 0, ready;
  const drawn = new Promise((r) => (ready = r));
  const dots = new ScatterplotLayer({
    id: "dots",
    data: { length: n, attributes: { getPosition: { value: positions, size: 2 }, getFillColor: { value: colours, size: 4 } } },
    radiusUnits: "pixels",
    getRadius: 1.5,
  });
  let faces = null, shown = 0;
  const deck = new Deck({
    parent: el,
    width: d.width,
    height: d.height,
    views: new OrthographicView({ flipY: false }),
    viewState,
    controller: false,
    useDevicePixels: false,
    layers: [dots],
    onAfterRender: () => {
      frames++;
      ready();
    },
  });
  const mapping = {};
  const per = d.atlas.width / 32;
  for (let k = 0; k < per * per; k++) mapping[k] = { x: (k % per) * 32, y: Math.floor(k / per) * 32, width: 32, height: 32 };
  return {
    drawn,
    frames: () => frames,
    thumbnails: () => shown,
    pan(dx) {
      viewState = { ...viewState, target: [viewState.target[0] + dx / 2 ** viewState.zoom, viewState.target[1], 0] };
      deck.setProps({ viewState });
      deck.redraw("pan"); // draw now, in this animation frame, as the other renderers do
    },
    async view([cx, cy, half], count) {
      viewState = { target: [cx, cy, 0], zoom: Math.log2(d.width / 2 / half) };
      const inView = [];
      for (let i = 0; i < n && inView.length < count; i++)
        if (Math.abs(d.x[i] - cx) <= half && Math.abs(d.y[i] - cy) * d.width <= half * d.height) inView.push(i);
      shown = inView.length;
      faces = count
        ? new IconLayer({
            id: "faces",
            data: inView.map((i, k) => ({ p: [d.x[i], d.y[i]], icon: k % (per * per) })),
            iconAtlas: d.atlas,
            iconMapping: mapping,
            getIcon: (p) => p.icon,
            getPosition: (p) => p.p,
            getSize: 32,
            sizeUnits: "pixels",
          })
        : null;
      deck.setProps({ viewState, layers: faces ? [dots, faces] : [dots] });
    },
    async settle() { // a view or layer change is drawn by the next frame: wait until it is
      const before = frames;
      const t0 = performance.now();
      while (frames === before && performance.now() - t0 < 60000) await new Promise((r) => requestAnimationFrame(r));
    },
  };
}
