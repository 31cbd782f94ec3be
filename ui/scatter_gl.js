// FaceAtlas map: every point of a 2-D map drawn with WebGL, with pan, zoom, hover, click/box/lasso selection.
// Loaded by ui/scatter_gl.py as a Streamlit components-v2 module; nothing is fetched from anywhere.
// data: one binary blob (core/charts/cluster.py webgl_map): uint32 header length, JSON header, then the 4-byte
// aligned arrays in the header's order, gzip-compressed (unpacked by the browser's own DecompressionStream). The
// browser sends back only the selection's shape (box or lasso in data units, or a clicked point); Python computes
// the points inside with the same test (core/cluster/map.py).

const VERT = `
attribute vec2 a_pos; attribute float a_c; attribute float a_sel;
uniform vec2 u_scale; uniform vec2 u_offset; uniform float u_size; uniform float u_has_sel;
varying float v_c; varying float v_alpha;
void main() {
  gl_Position = vec4(a_pos * u_scale + u_offset, 0.0, 1.0);
  gl_PointSize = u_size;
  v_c = a_c;
  v_alpha = (u_has_sel > 0.5 && a_sel < 0.5) ? 0.1 : 0.8;
}`;
const FRAG = `
precision mediump float;
uniform sampler2D u_palette; varying float v_c; varying float v_alpha;
void main() {
  vec2 d = gl_PointCoord - 0.5;
  if (dot(d, d) > 0.25) discard;
  vec4 col = texture2D(u_palette, vec2(v_c, 0.5));
  gl_FragColor = vec4(col.rgb * v_alpha, v_alpha);
}`;
const CSS = `
.fa-map { position: relative; font: 13px/1.35 var(--st-font, sans-serif); color: var(--st-text-color, #222); }
.fa-map canvas { display: block; width: 100%; touch-action: none; }
.fa-map .fa-overlay { position: absolute; left: 0; top: 0; pointer-events: none; }
.fa-map .fa-tip { position: absolute; pointer-events: none; white-space: pre; padding: 4px 7px; border-radius: 4px;
  background: var(--st-background-color, #fff); border: 1px solid rgba(128,128,128,.5); display: none; z-index: 2; }
.fa-map .fa-bar { display: flex; gap: 4px; align-items: center; margin-bottom: 4px; flex-wrap: wrap; }
.fa-map button { font: inherit; padding: 1px 8px; border-radius: 4px; border: 1px solid rgba(128,128,128,.5);
  background: transparent; color: inherit; cursor: pointer; }
.fa-map button.on { border-color: var(--st-primary-color, #f63366); color: var(--st-primary-color, #f63366); }
.fa-map .fa-count { margin-left: auto; opacity: .8; }
.fa-map .fa-legend { display: flex; flex-wrap: wrap; gap: 2px 12px; margin-top: 4px; }
.fa-map .fa-legend span.sw { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 4px; }
.fa-map .fa-ramp { display: inline-block; width: 160px; height: 10px; margin: 0 6px; vertical-align: middle; }
.fa-map .fa-nogl { padding: 1em; border: 1px solid rgba(128,128,128,.5); border-radius: 4px; }`;

const STATES = (window.__faceatlasMaps = window.__faceatlasMaps || {}); // view and selection per map key: survive remounts

function readHeader(bytes) {
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  return { length, header: JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length))) };
}

const KINDS = { f4: Float32Array, i4: Int32Array, i2: Int16Array, u2: Uint16Array, u1: Uint8Array };

async function parse(bytes) { // -> {header, arrays}; arrays in the points' own order, plus the drawing order
  const { length, header } = readHeader(bytes);
  const stream = new Blob([bytes.subarray(4 + length)]).stream().pipeThrough(new DecompressionStream("gzip"));
  const body = new Uint8Array(await new Response(stream).arrayBuffer());
  const arrays = {};
  let offset = 0;
  for (const [name, dtype, count] of header.arrays) {
    const kind = KINDS[dtype];
    offset += (4 - (offset % 4)) % 4;
    arrays[name] = new kind(body.buffer.slice(body.byteOffset + offset, body.byteOffset + offset + count * kind.BYTES_PER_ELEMENT));
    offset += count * kind.BYTES_PER_ELEMENT;
  }
  const ids = arrays.ids; // '\n'-joined image ids: where each starts
  const starts = new Uint32Array(header.n + 1);
  let k = 1;
  for (let i = 0; i < ids.length && k < header.n; i++) if (ids[i] === 10) starts[k++] = i + 1;
  starts[header.n] = ids.length + 1;
  arrays.idStarts = starts;
  // Drawing order: ascending colour code, ties in point order (a counting sort, so stable): muted groups and sparse
  // points first, the distinct colours and crowded points on top. rank[i] is point i's place in it.
  const counts = new Uint32Array(257);
  for (let i = 0; i < header.n; i++) counts[arrays.c[i] + 1]++;
  for (let v = 0; v < 256; v++) counts[v + 1] += counts[v];
  const order = new Uint32Array(header.n), rank = new Uint32Array(header.n);
  for (let i = 0; i < header.n; i++) {
    rank[i] = counts[arrays.c[i]]++;
    order[rank[i]] = i;
  }
  arrays.order = order;
  arrays.rank = rank;
  return { header, arrays };
}

function insideBox(x, y, b) {
  return x >= b[0] && x <= b[1] && y >= b[2] && y <= b[3];
}

function insidePolygon(x, y, poly) { // even-odd rule, the same arithmetic as core/cluster/map.py in_polygon
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i], [xj, yj] = poly[j];
    if (yi === yj) continue;
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function hexToRgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

class GlMap {
  constructor(root, key) {
    this.key = key;
    this.state = STATES[key] || (STATES[key] = { view: null, version: null, selection: null });
    const style = document.createElement("style");
    style.textContent = CSS;
    root.appendChild(style);
    this.el = document.createElement("div");
    this.el.className = "fa-map";
    this.el.innerHTML =
      '<div class="fa-bar"><button data-mode="click" title="Drag to pan, click a point to select it">Pan / click</button>' +
      '<button data-mode="box" title="Drag a box to select the points inside">Box</button>' +
      '<button data-mode="lasso" title="Draw around points to select them">Lasso</button>' +
      '<button data-act="reset" title="Zoom back out (or double-click the map)">Reset view</button>' +
      '<button data-act="clear" title="Forget the selection (or press Escape)">Clear selection</button>' +
      '<span class="fa-count"></span></div><div class="fa-plot" style="position:relative">' +
      '<canvas class="fa-canvas"></canvas><canvas class="fa-overlay"></canvas><div class="fa-tip"></div></div>' +
      '<div class="fa-legend"></div>';
    root.appendChild(this.el);
    this.canvas = this.el.querySelector(".fa-canvas");
    this.overlay = this.el.querySelector(".fa-overlay");
    this.tip = this.el.querySelector(".fa-tip");
    this.count = this.el.querySelector(".fa-count");
    this.gl = this.canvas.getContext("webgl", { antialias: false, premultipliedAlpha: true, preserveDrawingBuffer: false });
    if (!this.gl || typeof DecompressionStream === "undefined") {
      this.gl = null;
      this.fail("This browser cannot draw WebGL maps.");
      return;
    }
    this.setup();
    this.listen();
    new ResizeObserver(() => this.resize()).observe(this.el);
  }

  fail(why) {
    this.el.querySelector(".fa-plot").innerHTML =
      `<div class="fa-nogl">${why} Choose "Altair" under "Draw the map with" to see a sample of the points.</div>`;
  }

  setup() {
    const gl = this.gl;
    const shader = (type, src) => {
      const s = gl.createShader(type);
      gl.shaderSource(s, src);
      gl.compileShader(s);
      return s;
    };
    const p = (this.program = gl.createProgram());
    gl.attachShader(p, shader(gl.VERTEX_SHADER, VERT));
    gl.attachShader(p, shader(gl.FRAGMENT_SHADER, FRAG));
    gl.linkProgram(p);
    gl.useProgram(p);
    this.loc = {};
    for (const a of ["a_pos", "a_c", "a_sel"]) this.loc[a] = gl.getAttribLocation(p, a);
    for (const u of ["u_scale", "u_offset", "u_size", "u_has_sel", "u_palette"]) this.loc[u] = gl.getUniformLocation(p, u);
    this.buffers = { pos: gl.createBuffer(), c: gl.createBuffer(), sel: gl.createBuffer() };
    this.texture = gl.createTexture();
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
  }

  async load(bytes) {
    const ticket = (this.ticket = (this.ticket || 0) + 1);
    const { header, arrays } = await parse(bytes);
    if (ticket !== this.ticket) return; // a newer map arrived while this one was unpacking
    const same = this.state.version === header.version;
    if (!same || !this.header || this.header.mode !== header.mode) this.mode = header.mode; // the page's choice
    this.header = header;
    this.a = arrays;
    this.n = header.n;
    if (!same) {
      this.state.version = header.version;
      this.state.view = null;
      this.state.selection = null;
    }
    if (!this.gl) return;
    const gl = this.gl, { x, y, c, order } = arrays;
    const pos = new Float32Array(this.n * 2), colour = new Float32Array(this.n);
    for (let d = 0; d < this.n; d++) {
      const i = order[d];
      pos[2 * d] = x[i];
      pos[2 * d + 1] = y[i];
      colour[d] = (c[i] + 0.5) / 256; // the palette texel's centre
    }
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.pos);
    gl.bufferData(gl.ARRAY_BUFFER, pos, gl.STATIC_DRAW);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.c);
    gl.bufferData(gl.ARRAY_BUFFER, colour, gl.STATIC_DRAW);
    const texels = new Uint8Array(256 * 4);
    header.palette.forEach((hex, i) => texels.set([...hexToRgb(hex), 255], 4 * i));
    gl.bindTexture(gl.TEXTURE_2D, this.texture);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, 256, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, texels);
    for (const [k, v] of [[gl.TEXTURE_MIN_FILTER, gl.NEAREST], [gl.TEXTURE_MAG_FILTER, gl.NEAREST],
      [gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE], [gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE]]) gl.texParameteri(gl.TEXTURE_2D, k, v);
    this.index();
    this.legend();
    this.markSelection();
    this.buttons();
    this.resize();
  }

  rerun(header) { // the page ran again with the same points and colours: only the page's selection mode may differ
    if (header.mode !== this.header.mode) {
      this.mode = header.mode;
      this.buttons();
    }
    this.header = header;
  }

  index() { // a uniform grid over the points: hover finds the nearest point without scanning them all
    const { x, y } = this.a;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < this.n; i++) {
      if (x[i] < x0) x0 = x[i];
      if (x[i] > x1) x1 = x[i];
      if (y[i] < y0) y0 = y[i];
      if (y[i] > y1) y1 = y[i];
    }
    if (!(x1 > x0)) { x0 -= 1; x1 += 1; }
    if (!(y1 > y0)) { y0 -= 1; y1 += 1; }
    this.bounds = [x0, x1, y0, y1];
    const G = (this.G = 256);
    const cell = new Uint32Array(this.n);
    const starts = new Uint32Array(G * G + 1);
    for (let i = 0; i < this.n; i++) {
      const cx = Math.min(G - 1, Math.floor(((x[i] - x0) / (x1 - x0)) * G));
      const cy = Math.min(G - 1, Math.floor(((y[i] - y0) / (y1 - y0)) * G));
      cell[i] = cy * G + cx;
      starts[cell[i] + 1]++;
    }
    for (let k = 0; k < G * G; k++) starts[k + 1] += starts[k];
    const fill = starts.slice(0, G * G);
    const items = new Uint32Array(this.n);
    for (let i = 0; i < this.n; i++) items[fill[cell[i]]++] = i;
    this.grid = { starts, items };
  }

  fit() {
    const [x0, x1, y0, y1] = this.bounds;
    const w = this.width, h = this.height, m = 0.04;
    return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, sx: (w * (1 - 2 * m)) / (x1 - x0), sy: (h * (1 - 2 * m)) / (y1 - y0) };
  }

  toData(px, py) {
    const v = this.state.view;
    return [(px - this.width / 2) / v.sx + v.cx, (this.height / 2 - py) / v.sy + v.cy];
  }

  toPixel(x, y) {
    const v = this.state.view;
    return [(x - v.cx) * v.sx + this.width / 2, this.height / 2 - (y - v.cy) * v.sy];
  }

  resize() {
    if (!this.header || !this.gl) return;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(50, this.el.clientWidth), h = this.header.height;
    if (w === this.width && h === this.height && this.state.view) return this.draw();
    this.width = w;
    this.height = h;
    for (const c of [this.canvas, this.overlay]) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
      c.style.width = w + "px";
      c.style.height = h + "px";
    }
    if (!this.state.view) this.state.view = this.fit();
    this.draw();
  }

  draw() {
    if (!this.gl || !this.state.view) return;
    const gl = this.gl, v = this.state.view, L = this.loc;
    const dpr = window.devicePixelRatio || 1;
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    const kx = (2 * v.sx) / this.width, ky = (2 * v.sy) / this.height;
    gl.uniform2f(L.u_scale, kx, ky);
    gl.uniform2f(L.u_offset, -v.cx * kx, -v.cy * ky);
    gl.uniform1f(L.u_size, this.header.point_size * dpr);
    gl.uniform1f(L.u_has_sel, this.state.selection ? 1 : 0);
    gl.uniform1i(L.u_palette, 0);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.texture);
    const attr = (buffer, loc, size) => {
      gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
      gl.enableVertexAttribArray(loc);
      gl.vertexAttribPointer(loc, size, gl.FLOAT, false, 0, 0);
    };
    attr(this.buffers.pos, L.a_pos, 2);
    attr(this.buffers.c, L.a_c, 1);
    attr(this.buffers.sel, L.a_sel, 1);
    gl.drawArrays(gl.POINTS, 0, this.n);
    this.el.dataset.drawn = this.header.version + ":" + this.n;
  }

  markSelection() { // which points the current selection holds (drawn bright, the rest faded)
    const s = this.state.selection, { x, y, rank } = this.a;
    const mark = new Float32Array(this.n); // in drawing order, like the GPU's other buffers
    let count = 0;
    if (s) {
      const bbox = s.kind === "lasso" ? polygonBox(s.polygon) : s.box;
      for (let i = 0; i < this.n; i++) {
        const hit = s.kind === "point" ? i === s.index
          : insideBox(x[i], y[i], bbox) && (s.kind === "box" || insidePolygon(x[i], y[i], s.polygon));
        if (hit) { mark[rank[i]] = 1; count++; }
      }
    }
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.sel);
    gl.bufferData(gl.ARRAY_BUFFER, mark, gl.DYNAMIC_DRAW);
    this.count.textContent = s ? `${count.toLocaleString("en-US")} selected` : `${this.n.toLocaleString("en-US")} points`;
    return count;
  }

  select(selection) {
    this.state.selection = selection;
    this.setStateValue("selection", selection ? { ...selection, version: this.header.version } : null);
    this.markSelection(); // the count at once
    // Redrawing 200,000 points holds the browser ~0.3-0.5 s where it draws in software: the box or lasso outline
    // stays up while the page answers (the faces panel, ~0.2 s), then the selection is drawn bright.
    clearTimeout(this.markTimer);
    this.markTimer = setTimeout(() => {
      this.outline(null);
      this.draw();
    }, this.n > 50000 ? 400 : 0);
  }

  nearest(px, py, radius) {
    const v = this.state.view, [dx, dy] = this.toData(px, py);
    const [x0, x1, y0, y1] = this.bounds, G = this.G, { x, y } = this.a;
    const rx = radius / v.sx, ry = radius / v.sy;
    const cx0 = Math.max(0, Math.floor(((dx - rx - x0) / (x1 - x0)) * G));
    const cx1 = Math.min(G - 1, Math.floor(((dx + rx - x0) / (x1 - x0)) * G));
    const cy0 = Math.max(0, Math.floor(((dy - ry - y0) / (y1 - y0)) * G));
    const cy1 = Math.min(G - 1, Math.floor(((dy + ry - y0) / (y1 - y0)) * G));
    if ((cx1 - cx0 + 1) * (cy1 - cy0 + 1) > 4096) return -1; // zoomed far out: no hover
    let best = -1, bestD = radius * radius;
    for (let cy = cy0; cy <= cy1; cy++)
      for (let cx = cx0; cx <= cx1; cx++) {
        const k = cy * G + cx;
        for (let t = this.grid.starts[k]; t < this.grid.starts[k + 1]; t++) {
          const i = this.grid.items[t];
          const ex = (x[i] - dx) * v.sx, ey = (y[i] - dy) * v.sy, d = ex * ex + ey * ey;
          if (d < bestD || (d === bestD && (best < 0 || this.a.rank[i] > this.a.rank[best]))) {
            bestD = d; // ties: the point drawn later, on top
            best = i;
          }
        }
      }
    return best;
  }

  describe(i) {
    const h = this.header, a = this.a;
    const id = new TextDecoder().decode(a.ids.subarray(a.idStarts[i], a.idStarts[i + 1] - 1));
    const lines = [id];
    if (a.identity) lines.push("identity " + h.identities[a.identity[i]]);
    lines.push(a.cluster[i] < 0 ? "noise" : "cluster " + a.cluster[i]);
    if (h.tip_group) lines.push(h.legend[a.c[i]].name);
    return lines.join("\n");
  }

  hover(px, py) {
    const i = this.nearest(px, py, 8);
    if (i < 0) { this.tip.style.display = "none"; return; }
    this.tip.textContent = this.describe(i);
    this.tip.style.display = "block";
    const [qx, qy] = this.toPixel(this.a.x[i], this.a.y[i]);
    const left = qx + 12 + this.tip.offsetWidth > this.width ? qx - 12 - this.tip.offsetWidth : qx + 12;
    this.tip.style.left = left + "px";
    this.tip.style.top = Math.max(0, qy - this.tip.offsetHeight / 2) + "px";
  }

  outline(points, closed) {
    const ctx = this.overlay.getContext("2d"), dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.width, this.height);
    if (!points || points.length < 2) return;
    ctx.beginPath();
    points.forEach(([px, py], k) => (k ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
    if (closed) ctx.closePath();
    ctx.fillStyle = "rgba(100,100,100,0.12)";
    ctx.strokeStyle = "rgba(60,60,60,0.9)";
    ctx.setLineDash([4, 3]);
    ctx.fill();
    ctx.stroke();
  }

  listen() {
    const c = this.overlay.parentElement;
    const local = (e) => {
      const r = this.canvas.getBoundingClientRect();
      return [e.clientX - r.left, e.clientY - r.top];
    };
    let drag = null;
    c.addEventListener("pointerdown", (e) => {
      if (!this.state.view) return;
      c.setPointerCapture(e.pointerId);
      const p = local(e);
      drag = { start: p, last: p, path: [p], moved: false, pan: this.mode === "click" || e.shiftKey };
    });
    c.addEventListener("pointermove", (e) => {
      const p = local(e);
      if (!drag) return this.hover(...p);
      this.tip.style.display = "none";
      if (Math.hypot(p[0] - drag.start[0], p[1] - drag.start[1]) > 3) drag.moved = true;
      if (drag.pan) {
        const v = this.state.view;
        v.cx -= (p[0] - drag.last[0]) / v.sx;
        v.cy += (p[1] - drag.last[1]) / v.sy;
        this.draw();
      } else if (this.mode === "box") {
        const [x0, y0] = drag.start;
        this.outline([[x0, y0], [p[0], y0], p, [x0, p[1]]], true);
      } else {
        drag.path.push(p);
        this.outline(drag.path, false);
      }
      drag.last = p;
    });
    c.addEventListener("pointerup", (e) => {
      if (!drag) return;
      const p = local(e), d = drag;
      drag = null;
      if (d.pan || !d.moved || (this.mode !== "box" && d.path.length <= 2)) this.outline(null);
      else if (this.mode !== "box") this.outline(d.path, true);
      if (!d.moved) {
        const i = this.nearest(...p, 10);
        if (i >= 0) this.select({ kind: "point", index: i });
        else if (this.state.selection) this.select(null);
      } else if (!d.pan && this.mode === "box") {
        const [ax, ay] = this.toData(...d.start), [bx, by] = this.toData(...p);
        this.select({ kind: "box", box: [Math.min(ax, bx), Math.max(ax, bx), Math.min(ay, by), Math.max(ay, by)] });
      } else if (!d.pan && d.path.length > 2) {
        const step = Math.max(1, Math.ceil(d.path.length / 200)); // at most ~200 corners
        const polygon = d.path.filter((_, k) => k % step === 0).map((q) => this.toData(...q));
        this.select({ kind: "lasso", polygon });
      }
    });
    c.addEventListener("pointerleave", () => (this.tip.style.display = "none"));
    c.addEventListener("wheel", (e) => {
      if (!this.state.view) return;
      e.preventDefault();
      const p = local(e), v = this.state.view, [dx, dy] = this.toData(...p);
      const f = Math.exp(-e.deltaY * 0.0015);
      v.sx *= f;
      v.sy *= f;
      const [qx, qy] = this.toData(...p); // keep the point under the cursor where it is
      v.cx += dx - qx;
      v.cy += dy - qy;
      this.draw();
    }, { passive: false });
    c.addEventListener("dblclick", () => this.reset());
    this.el.tabIndex = 0;
    this.el.addEventListener("keydown", (e) => e.key === "Escape" && this.state.selection && this.select(null));
    this.el.querySelector(".fa-bar").addEventListener("click", (e) => {
      const b = e.target.closest("button");
      if (!b) return;
      if (b.dataset.mode) { this.mode = b.dataset.mode; this.buttons(); }
      if (b.dataset.act === "reset") this.reset();
      if (b.dataset.act === "clear" && this.state.selection) this.select(null);
    });
  }

  reset() {
    this.state.view = this.fit();
    this.draw();
  }

  buttons() {
    this.el.querySelectorAll("button[data-mode]").forEach((b) => b.classList.toggle("on", b.dataset.mode === this.mode));
    this.overlay.parentElement.style.cursor = this.mode === "click" ? "grab" : "crosshair";
  }

  legend() {
    const box = this.el.querySelector(".fa-legend"), h = this.header;
    box.textContent = "";
    if (h.colorbar) {
      const stops = h.palette.filter((_, k) => k % 32 === 0 || k === 255).join(",");
      box.innerHTML = `<span></span><span class="fa-ramp" style="background:linear-gradient(90deg,${stops})"></span><span></span>`;
      box.children[0].textContent = h.colorbar[0];
      box.children[2].textContent = h.colorbar[1];
      return;
    }
    for (const g of [...h.legend].reverse()) { // the largest group first
      const item = document.createElement("span");
      const sw = document.createElement("span");
      sw.className = "sw";
      sw.style.background = g.colour;
      item.appendChild(sw);
      item.appendChild(document.createTextNode(`${g.name} (${g.count.toLocaleString("en-US")})`));
      box.appendChild(item);
    }
  }
}

function polygonBox(poly) {
  const xs = poly.map((p) => p[0]), ys = poly.map((p) => p[1]);
  return [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
}

export default function (component) {
  const { data, parentElement, setStateValue, key } = component;
  let map = parentElement.__faMap;
  if (!map) map = parentElement.__faMap = new GlMap(parentElement, key || "map");
  map.setStateValue = setStateValue;
  if (data && data !== map.bytes) {
    map.bytes = data;
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    const { header } = readHeader(bytes);
    if (map.header && map.header.digest === header.digest) map.rerun(header); // the same map sent again
    else map.load(bytes).catch(() => map.fail("This map could not be read."));
  }
}
export { parse }; // for tests/test_cluster_map.py (node)
