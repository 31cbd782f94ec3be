// Adapter: regl-scatterplot (every point; it draws no images, so no faces), bundled by esbuild.
import createScatterplot from "regl-scatterplot";

export async function start(el, d) {
  const canvas = document.createElement("canvas");
  canvas.style.width = d.width + "px";
  canvas.style.height = d.height + "px";
  el.appendChild(canvas);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < d.n; i++) {
    x0 = Math.min(x0, d.x[i]); x1 = Math.max(x1, d.x[i]); y0 = Math.min(y0, d.y[i]); y1 = Math.max(y1, d.y[i]);
  }
  const span = Math.max(x1 - x0, y1 - y0) / 2, cx0 = (x0 + x1) / 2, cy0 = (y0 + y1) / 2;
  const nx = new Float32Array(d.n), ny = new Float32Array(d.n), c = new Float32Array(d.n);
  for (let i = 0; i < d.n; i++) {
    nx[i] = (d.x[i] - cx0) / span;
    ny[i] = (d.y[i] - cy0) / span;
    c[i] = d.c[i];
  }
  const plot = createScatterplot({ canvas, width: d.width, height: d.height, pointSize: 3, opacity: 0.8 });
  plot.set({ colorBy: "valueA", pointColor: d.palette });
  let frames = 0;
  plot.subscribe("draw", () => frames++);
  const drawn = plot.draw({ x: nx, y: ny, valueA: c }, { zDataType: "categorical" });
  return {
    drawn,
    frames: () => frames,
    thumbnails: () => 0,
    pan(dx) {
      const camera = plot.get("camera");
      camera.pan([dx, 0]);
      plot.redraw();
    },
    async view([cx, cy, half]) {
      plot.zoomToArea({ x: (cx - half - cx0) / span, y: (cy - half - cy0) / span, width: (2 * half) / span, height: (2 * half) / span }, { transition: false });
    },
    async settle() {
      await new Promise((r) => requestAnimationFrame(r));
      await new Promise((r) => requestAnimationFrame(r));
    },
  };
}
