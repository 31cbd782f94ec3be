// FaceAtlas map: every point of a 2-D map drawn with WebGL, with pan, zoom, hover, click/box/lasso selection, and
// faces by level of detail: zoomed out the points in colour; closer, one face per occupied cell; zoomed in, every face.
// Loaded by ui/scatter_gl.py as a Streamlit components-v2 module; nothing is fetched from anywhere.
// data: one binary blob (core/charts/cluster.py webgl_map): uint32 header length, JSON header, then the 4-byte
// aligned arrays in the header's order, gzip-compressed (unpacked by the browser's own DecompressionStream). The
// browser sends back only the selection's shape (box or lasso in data units, or a clicked point); Python computes
// the points inside with the same test (core/cluster/map.py). Faces arrive later, a few tiles at a time, through a
// second component (ui/map_faces.js) that also reports the view for the page's link: the map never waits for them.

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
.fa-map .fa-overlay, .fa-map .fa-faces { position: absolute; left: 0; top: 0; pointer-events: none; }
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

const FACE_CELL = 28; // a cell at least this many CSS pixels wide shows its face: up to ~1,000 in a 1,300 x 640 map
const FACE_PX = 32; // a face's size on screen (CSS pixels)
const FACES_FROM_ZOOM = 2; // the whole map (zoom 1) shows its points in colour; faces from twice as close
const FACE_ROWS = 256; // rows of 16 faces the browser keeps: 4,096 faces at 32 px (a 512 x 8,192 canvas)
const REQUEST_WAIT_MS = 80; // a moving view asks for faces once it pauses this long
const PENDING_MS = 8000; // tiles asked for and not received by then are asked for again
const VIEW_WAIT_MS = 500; // the view goes into the page's link once it rests this long
const MARK_WAIT_MS = 1500; // a large selection is drawn once the page has answered, or after this long
const LOD_NAMES = { dots: "points", cells: "one face per cell", every: "every face" };

const STATES = (window.__faceatlasMaps = window.__faceatlasMaps || {}); // view and selection per map key: survive remounts
const HUB = (window.__faceatlasHub = window.__faceatlasHub || {}); // map version -> {map, channel}: ui/map_faces.js
const BLOBS = (window.__faceatlasBlobs = window.__faceatlasBlobs || new Map()); // digest -> the last maps' blobs
const BLOBS_KEPT = 2;

function readHeader(bytes) {
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  return { length, header: JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length))) };
}

const KINDS = { f4: Float32Array, i4: Int32Array, i2: Int16Array, u2: Uint16Array, u1: Uint8Array };

function buckets(keys, count, n) { // counting sort of 0..n-1 by keys[i] < count: {starts, items}, stable
  const starts = new Uint32Array(count + 1);
  for (let i = 0; i < n; i++) starts[keys[i] + 1]++;
  for (let k = 0; k < count; k++) starts[k + 1] += starts[k];
  const fill = starts.slice(0, count), items = new Uint32Array(n);
  for (let i = 0; i < n; i++) items[fill[keys[i]]++] = i;
  return { starts, items };
}

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
  const { items: order } = buckets(arrays.c, 256, header.n);
  const rank = new Uint32Array(header.n);
  for (let d = 0; d < header.n; d++) rank[order[d]] = d;
  arrays.order = order;
  arrays.rank = rank;
  if (header.faces) arrays.tiles = buckets(arrays.tile, arrays.tile_depth.length, header.n); // each tile's points
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

function program(gl, vert, frag, attributes, uniforms) {
  const shader = (type, src) => {
    const s = gl.createShader(type);
    gl.shaderSource(s, src);
    gl.compileShader(s);
    return s;
  };
  const p = gl.createProgram();
  gl.attachShader(p, shader(gl.VERTEX_SHADER, vert));
  gl.attachShader(p, shader(gl.FRAGMENT_SHADER, frag));
  gl.linkProgram(p);
  const loc = {};
  for (const a of attributes) loc[a] = gl.getAttribLocation(p, a);
  for (const u of uniforms) loc[u] = gl.getUniformLocation(p, u);
  return { p, loc };
}

class GlMap {
  constructor(root, key) {
    this.key = key;
    this.state = STATES[key] || (STATES[key] = { view: null, version: null, selection: null, faces: true });
    const style = document.createElement("style");
    style.textContent = CSS;
    root.appendChild(style);
    this.el = document.createElement("div");
    this.el.className = "fa-map";
    this.el.innerHTML =
      '<div class="fa-bar"><button data-mode="click" title="Drag to pan, click a point to select it">Pan / click</button>' +
      '<button data-mode="box" title="Drag a box to select the points inside">Box</button>' +
      '<button data-mode="lasso" title="Draw around points to select them">Lasso</button>' +
      '<button data-act="faces" title="Show faces where you zoom in">Faces</button>' +
      '<button data-act="reset" title="Zoom back out (or double-click the map)">Reset view</button>' +
      '<button data-act="clear" title="Forget the selection (or press Escape)">Clear selection</button>' +
      '<span class="fa-count"></span></div><div class="fa-plot" style="position:relative">' +
      '<canvas class="fa-canvas"></canvas><canvas class="fa-faces"></canvas><canvas class="fa-overlay"></canvas>' +
      '<div class="fa-tip"></div></div><div class="fa-legend"></div>';
    root.appendChild(this.el);
    this.canvas = this.el.querySelector(".fa-canvas");
    this.faceCanvas = this.el.querySelector(".fa-faces"); // faces and cluster names (2-D: see drawFaces)
    this.overlay = this.el.querySelector(".fa-overlay");
    this.overlay.style.visibility = "hidden"; // shown while a box or lasso is drawn
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
    this.dots = program(gl, VERT, FRAG, ["a_pos", "a_c", "a_sel"],
      ["u_scale", "u_offset", "u_size", "u_has_sel", "u_palette"]);
    this.buffers = { pos: gl.createBuffer(), c: gl.createBuffer(), sel: gl.createBuffer(), near: gl.createBuffer() };
    this.texture = gl.createTexture();
    this.uint32 = gl.getExtension("OES_element_index_uint"); // drawing the points near the view only
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
  }

  async load(bytes) {
    const ticket = (this.ticket = (this.ticket || 0) + 1);
    this.arrived = performance.now(); // the first draw is timed from here (data-first-draw-ms)
    const { header, arrays } = await parse(bytes);
    if (ticket !== this.ticket) return; // a newer map arrived while this one was unpacking
    const same = this.state.version === header.version;
    if (!same || !this.header || this.header.mode !== header.mode) this.mode = header.mode; // the page's choice
    this.header = header;
    this.a = arrays;
    this.n = header.n;
    (HUB[header.version] = HUB[header.version] || {}).map = this;
    if (!same) {
      this.state.version = header.version;
      this.state.view = null;
      this.state.selection = null;
      this.linkView = header.view || null; // a shared link's view, applied once the canvas has its size
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
    this.nearest2d(gl);
    this.index();
    this.facesSetup();
    this.near = null;
    this.legend();
    this.markSelection();
    this.buttons();
    this.resize();
  }

  nearest2d(gl) {
    for (const [k, v] of [[gl.TEXTURE_MIN_FILTER, gl.NEAREST], [gl.TEXTURE_MAG_FILTER, gl.NEAREST],
      [gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE], [gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE]]) gl.texParameteri(gl.TEXTURE_2D, k, v);
  }

  rerun(header) { // the page ran again with the same points and colours: only the page's selection mode may differ
    if (header.mode !== this.header.mode) {
      this.mode = header.mode;
      this.buttons();
    }
    this.header = { ...header, view: this.header.view };
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
    for (let i = 0; i < this.n; i++) {
      const cx = Math.min(G - 1, Math.floor(((x[i] - x0) / (x1 - x0)) * G));
      const cy = Math.min(G - 1, Math.floor(((y[i] - y0) / (y1 - y0)) * G));
      cell[i] = cy * G + cx;
    }
    this.grid = buckets(cell, G * G, this.n);
  }

  cellRange(v0, v1, lo, hi) { // grid columns (or rows) covering [v0, v1]
    const G = this.G;
    return [Math.max(0, Math.floor(((v0 - lo) / (hi - lo)) * G)), Math.min(G - 1, Math.floor(((v1 - lo) / (hi - lo)) * G))];
  }

  fit() {
    const [x0, x1, y0, y1] = this.bounds;
    const w = this.width, h = this.height, m = 0.04;
    return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, sx: (w * (1 - 2 * m)) / (x1 - x0), sy: (h * (1 - 2 * m)) / (y1 - y0) };
  }

  fromLink([cx, cy, zoom]) { // the view a link names: its centre and zoom over the whole map's fit
    const f = this.fit(), z = Math.min(Math.max(zoom, 0.05), 1e6);
    return Number.isFinite(cx) && Number.isFinite(cy) ? { cx, cy, sx: f.sx * z, sy: f.sy * z } : f;
  }

  toData(px, py) {
    const v = this.state.view;
    return [(px - this.width / 2) / v.sx + v.cx, (this.height / 2 - py) / v.sy + v.cy];
  }

  toPixel(x, y) {
    const v = this.state.view;
    return [(x - v.cx) * v.sx + this.width / 2, this.height / 2 - (y - v.cy) * v.sy];
  }

  visibleBox(marginPx = 0) { // [x0, x1, y0, y1] of the canvas in data units
    const [x0, y1] = this.toData(-marginPx, -marginPx), [x1, y0] = this.toData(this.width + marginPx, this.height + marginPx);
    return [x0, x1, y0, y1];
  }

  resize() {
    if (!this.header || !this.gl) return;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(50, this.el.clientWidth), h = this.header.height;
    if (w === this.width && h === this.height && this.state.view) return this.draw();
    this.width = w;
    this.height = h;
    for (const c of [this.canvas, this.faceCanvas, this.overlay]) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
      c.style.width = w + "px";
      c.style.height = h + "px";
    }
    if (!this.state.view) this.state.view = this.linkView ? this.fromLink(this.linkView) : this.fit();
    this.linkView = null;
    this.draw();
  }

  nearPoints() { // zoomed in: the points near the view (an element buffer in drawing order), else null (all)
    const v = this.state.view, [bx0, bx1, by0, by1] = this.bounds, box = this.visibleBox();
    const share = ((box[1] - box[0]) * (box[3] - box[2])) / ((bx1 - bx0) * (by1 - by0));
    if (!this.uint32 || share > 0.06) return (this.near = null);
    // Among faces, a point whose face is drawn (depth <= the faces' depth, its face received) is hidden by it: left out.
    const f = this.faces, depth = f && this.state.faces && f.rows ? this.displayDepth() : -1;
    const received = depth >= 0 ? f.received : 0, n = this.near;
    if (n && n.depth === depth && n.received === received && n.sx <= v.sx * 2 && n.sx >= v.sx / 2 &&
      box[0] >= n.box[0] && box[1] <= n.box[1] && box[2] >= n.box[2] && box[3] <= n.box[3]) return n;
    const mx = (box[1] - box[0]) / 2, my = (box[3] - box[2]) / 2; // 2 x 2 views around this one
    const wide = [box[0] - mx, box[1] + mx, box[2] - my, box[3] + my];
    const [cx0, cx1] = this.cellRange(wide[0], wide[1], bx0, bx1), [cy0, cy1] = this.cellRange(wide[2], wide[3], by0, by1);
    const { starts, items } = this.grid, G = this.G, { rank, tile, tile_depth: td } = this.a, ranks = [];
    for (let cy = cy0; cy <= cy1; cy++)
      for (let t = starts[cy * G + cx0]; t < starts[cy * G + cx1 + 1]; t++) {
        const i = items[t];
        if (depth < 0 || f.slotOf[i] < 0 || td[tile[i]] > depth || f.tileState[tile[i]] !== 2) ranks.push(rank[i]);
      }
    const elements = new Uint32Array(ranks).sort(); // drawing order
    const gl = this.gl;
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.buffers.near);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, elements, gl.DYNAMIC_DRAW);
    return (this.near = { box: wide, sx: v.sx, depth, received, count: elements.length });
  }

  draw() {
    if (!this.gl || !this.state.view) return;
    const gl = this.gl, v = this.state.view, L = this.dots.loc;
    const dpr = window.devicePixelRatio || 1;
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    const kx = (2 * v.sx) / this.width, ky = (2 * v.sy) / this.height;
    gl.useProgram(this.dots.p);
    gl.uniform2f(L.u_scale, kx, ky);
    gl.uniform2f(L.u_offset, -v.cx * kx, -v.cy * ky);
    gl.uniform1f(L.u_size, this.header.point_size * dpr);
    gl.uniform1f(L.u_has_sel, this.state.selection ? 1 : 0);
    gl.uniform1i(L.u_palette, 0);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.texture);
    this.attribute(this.buffers.pos, L.a_pos, 2, 0, 0);
    this.attribute(this.buffers.c, L.a_c, 1, 0, 0);
    this.attribute(this.buffers.sel, L.a_sel, 1, 0, 0);
    const near = this.nearPoints();
    if (near) {
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.buffers.near);
      gl.drawElements(gl.POINTS, near.count, gl.UNSIGNED_INT, 0);
    } else gl.drawArrays(gl.POINTS, 0, this.n);
    for (const loc of [L.a_pos, L.a_c, L.a_sel]) gl.disableVertexAttribArray(loc);
    this.drawLayer(dpr);
    this.el.dataset.drawn = this.header.version + ":" + this.n;
    if (this.arrived !== undefined) {
      this.el.dataset.firstDrawMs = (performance.now() - this.arrived).toFixed(1);
      this.arrived = undefined;
    }
    this.reportView();
  }

  attribute(buffer, loc, size, stride, offset) {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
    gl.enableVertexAttribArray(loc);
    gl.vertexAttribPointer(loc, size, gl.FLOAT, false, stride, offset);
  }

  // ---- faces: level of detail (core/cluster/lod.py), tiles asked for through ui/map_faces.js

  facesSetup() {
    const f = this.header.faces;
    this.faces = null;
    this.el.dataset.lod = "dots";
    this.el.dataset.faces = "0";
    if (!f) return;
    const depths = this.a.tile_depth, t = depths.length;
    const depthEnd = new Uint32Array(f.max_depth + 1); // tiles are numbered by depth: those of depth <= d are [0, end)
    for (let k = 0; k < t; k++) depthEnd[depths[k]] = k + 1;
    for (let d = 1; d <= f.max_depth; d++) depthEnd[d] = Math.max(depthEnd[d], depthEnd[d - 1]);
    this.faces = { ...f, depthEnd, tileState: new Uint8Array(t), pendingSince: new Float64Array(t),
      slotOf: new Int32Array(this.n).fill(-1), received: 0, owner: null, headRow: 0, rows: 0, size: 0, shown: 0, pending: new Set() };
  }

  displayDepth() { // the deepest depth whose cells are at least FACE_CELL pixels wide (-1: no faces at this zoom)
    const f = this.faces, v = this.state.view, scale = Math.min(v.sx, v.sy);
    if (v.sx < FACES_FROM_ZOOM * this.fit().sx) return -1;
    let d = -1;
    while (d < f.max_depth && (scale * f.side) / (f.grid * 2 ** (d + 1)) >= FACE_CELL) d++;
    return d;
  }

  drawLayer(dpr) { // faces and names, on a 2-D canvas above the points; cleared only when something was on it
    const ctx = this.faceCanvas.getContext("2d");
    if (this.layerDrawn) {
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, this.faceCanvas.width, this.faceCanvas.height);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.layerDrawn = this.drawFaces(ctx) + this.drawLabels(ctx) > 0;
    this.faceCanvas.style.visibility = this.layerDrawn ? "" : "hidden"; // an empty layer costs the browser nothing
  }

  // Faces are drawn by the 2-D canvas, not WebGL: each is a 32 px copy from the faces kept (pixel-aligned, unscaled),
  // a plain copy of pixels where the browser draws in software; WebGL's textured point sprites (or quads, slower still)
  // cost ~30 ms a frame for 1,000 faces there (bench/bench_map.py, docs/bench/map.md).
  drawFaces(ctx) { // -> how many faces it drew
    const f = this.faces;
    if (!f || !this.state.faces) {
      this.el.dataset.lod = "dots";
      this.el.dataset.faces = "0";
      this.status();
      return 0;
    }
    const depth = this.displayDepth();
    const box = this.visibleBox(FACE_PX / 2), inView = this.visibleBox(), want = [], shown = [];
    let hidden = false;
    if (depth >= 0) {
      const { x, y, tile_depth: td, tile_x: tx, tile_y: ty, tiles } = this.a, now = performance.now();
      for (let k = 0; k < td.length; k++) {
        const side = f.side / 2 ** td[k], nx0 = f.origin[0] + tx[k] * side, ny0 = f.origin[1] + ty[k] * side;
        if (nx0 > box[1] || nx0 + side < box[0] || ny0 > box[3] || ny0 + side < box[2]) continue;
        if (k >= f.depthEnd[depth]) { // a deeper tile: only whether it holds a point in view (not every face shown)
          for (let m = tiles.starts[k]; m < tiles.starts[k + 1] && !hidden; m++)
            hidden = insideBox(x[tiles.items[m]], y[tiles.items[m]], inView);
          if (hidden) break;
          continue;
        }
        const state = f.tileState[k];
        if (state === 0 || (state === 1 && now - f.pendingSince[k] > PENDING_MS)) want.push(k);
        if (state !== 2) continue;
        for (let m = tiles.starts[k]; m < tiles.starts[k + 1]; m++) {
          const i = tiles.items[m];
          if (insideBox(x[i], y[i], box) && f.slotOf[i] >= 0) shown.push(i);
        }
      }
    }
    this.el.dataset.lod = depth < 0 ? "dots" : hidden ? "cells" : "every";
    this.el.dataset.faces = String(shown.length);
    f.shown = shown.length;
    if (want.length) this.askForFaces(want);
    if (shown.length && f.atlas) this.paintFaces(ctx, shown);
    this.status();
    return shown.length;
  }

  paintFaces(ctx, shown) { // the faces of points `shown`, in order; with a selection, the others faded
    const f = this.faces, S = f.size, { x, y } = this.a, sel = this.state.selection ? this.selectedMask : null;
    const v = this.state.view, ox = this.width / 2 - v.cx * v.sx - FACE_PX / 2, oy = this.height / 2 + v.cy * v.sy - FACE_PX / 2;
    ctx.imageSmoothingEnabled = false;
    for (const i of shown) {
      const s = f.slotOf[i];
      ctx.globalAlpha = sel && !sel[i] ? 0.3 : 1;
      ctx.drawImage(f.atlas, (s & 15) * S, (s >> 4) * S, S, S, Math.round(ox + x[i] * v.sx), Math.round(oy - y[i] * v.sy),
        FACE_PX, FACE_PX);
    }
    ctx.globalAlpha = 1;
  }

  askForFaces(tiles) { // each request names every tile still awaited: the page answers the newest request only
    const f = this.faces, now = performance.now();
    for (const k of tiles) {
      f.tileState[k] = 1;
      f.pendingSince[k] = now;
      f.pending.add(k);
    }
    clearTimeout(this.askTimer);
    this.askTimer = setTimeout(() => {
      const channel = (HUB[this.header.version] || {}).channel;
      if (channel && channel.ready) channel.want(this.header.version, [...f.pending].sort((a, b) => a - b)); // coarse first
      else { // no faces yet: ask again on a later draw
        for (const k of f.pending) f.tileState[k] = 0;
        f.pending.clear();
      }
    }, REQUEST_WAIT_MS);
  }

  receiveFaces(h, bitmap) { // faces of h.tiles, in tile and point order, 16 a row of `bitmap` (ui/map_faces.js)
    const f = this.faces;
    if (!f || h.version !== this.header.version) return;
    for (const k of h.skipped || []) { // left for the next request
      f.tileState[k] = 0;
      f.pending.delete(k);
    }
    if (!bitmap || !h.tiles.length) return this.draw();
    if (f.size !== h.size) { // the first faces: a canvas of FACE_ROWS rows of 16
      f.size = h.size;
      f.rows = FACE_ROWS;
      f.owner = new Int32Array(f.rows * 16).fill(-1);
      f.atlas = document.createElement("canvas");
      f.atlas.width = 16 * h.size;
      f.atlas.height = f.rows * h.size;
    }
    const { tiles } = this.a, points = [];
    for (const k of h.tiles) for (let m = tiles.starts[k]; m < tiles.starts[k + 1]; m++) points.push(tiles.items[m]);
    const rows = Math.ceil(points.length / 16);
    if (rows > f.rows) return;
    if (f.headRow + rows > f.rows) f.headRow = 0; // a ring of rows: the oldest faces make room
    for (let s = f.headRow * 16; s < (f.headRow + rows) * 16; s++) { // the faces there now lose their slot
      const old = f.owner[s];
      f.owner[s] = -1;
      if (old >= 0 && f.slotOf[old] === s) {
        f.slotOf[old] = -1;
        f.tileState[this.a.tile[old]] = 0;
      }
    }
    f.atlas.getContext("2d").drawImage(bitmap, 0, f.headRow * h.size);
    points.forEach((i, k) => {
      const s = f.headRow * 16 + k;
      if (f.slotOf[i] >= 0) f.owner[f.slotOf[i]] = -1; // sent again (its tile lost another face): one slot each
      f.slotOf[i] = s;
      f.owner[s] = i;
    });
    for (const k of h.tiles) {
      f.tileState[k] = 2;
      f.pending.delete(k);
    }
    f.headRow += rows;
    f.received++;
    this.draw();
  }

  thumbnailCount() {
    return this.faces ? this.faces.shown : 0;
  }

  // ---- labels of the large clusters (core/cluster/map_labels.py), largest first, none overlapping

  drawLabels(ctx) { // -> how many names it drew
    const labels = this.header.labels || [];
    this.el.dataset.labels = "0";
    // Names tell the overview apart; zoomed in among faces (a depth past the first) the faces speak for themselves.
    if (!labels.length || (this.faces && this.state.faces && this.displayDepth() > 0)) return 0;
    ctx.font = "600 12px " + (getComputedStyle(this.el).fontFamily || "sans-serif");
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.lineJoin = "round";
    const placed = placeLabels(labels.map((label) => ({ text: label.text, at: this.toPixel(label.x, label.y) })),
      this.width, this.height, (text) => ctx.measureText(text).width);
    for (const { text, x, y } of placed) {
      ctx.lineWidth = 4;
      ctx.strokeStyle = "rgba(255,255,255,0.9)";
      ctx.strokeText(text, x, y);
      ctx.fillStyle = "#1f2430";
      ctx.fillText(text, x, y);
    }
    this.el.dataset.labels = String(placed.length);
    return placed.length;
  }

  // ---- selection, hover, interaction

  markSelection() { // which points the current selection holds (drawn bright, the rest faded)
    const s = this.state.selection, rank = this.a.rank;
    const mark = new Float32Array(this.n); // in drawing order, like the GPU's other buffers
    const mask = s ? new Uint8Array(this.n) : null; // in point order: the faces drawn bright
    const inside = s ? pointsInside(s, this.a.x, this.a.y) : [];
    for (const i of inside) {
      mark[rank[i]] = 1;
      mask[i] = 1;
    }
    const count = inside.length;
    this.selectedMask = mask;
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.sel);
    gl.bufferData(gl.ARRAY_BUFFER, mark, gl.DYNAMIC_DRAW);
    this.selected = s ? count : null;
    this.status();
    return count;
  }

  status() {
    const lod = this.el.dataset.lod || "dots";
    const counts = this.selected !== null && this.selected !== undefined
      ? `${this.selected.toLocaleString("en-US")} selected`
      : `${this.n.toLocaleString("en-US")} points`;
    const faces = this.faces && this.state.faces && lod !== "dots"
      ? ` · ${LOD_NAMES[lod]}${this.faces.rows ? "" : " (faces loading…)"}` : "";
    this.count.textContent = counts + faces;
  }

  select(selection) {
    this.state.selection = selection;
    this.setStateValue("selection", selection ? { ...selection, version: this.header.version } : null);
    this.markSelection(); // the count at once
    // Redrawing 200,000 points holds the browser ~0.3-0.5 s where it draws in software, on the cores that also show
    // the page's answer: the box or lasso outline stays up until the page has answered (the faces panel, ~0.2 s) and
    // the browser is idle, then the selection is drawn bright (after MARK_WAIT_MS at the latest).
    clearTimeout(this.markTimer);
    const mark = () => {
      clearTimeout(this.markTimer);
      this.afterAnswer = null;
      this.outline(null);
      this.draw();
    };
    if (this.n > 50000 && !this.near && selection) {
      this.afterAnswer = mark;
      this.markTimer = setTimeout(mark, MARK_WAIT_MS);
    } else mark();
  }

  answered() { // the page ran again (this component drawn anew): its answer to a selection is being shown
    const mark = this.afterAnswer;
    if (!mark) return;
    this.afterAnswer = null;
    if (window.requestIdleCallback) requestIdleCallback(mark, { timeout: 300 });
    else setTimeout(mark, 100);
  }

  reportView() { // the view, once it rests, into the page's link (through ui/map_faces.js)
    clearTimeout(this.viewTimer);
    this.viewTimer = setTimeout(() => {
      const v = this.state.view, f = this.fit(), channel = (HUB[this.header.version] || {}).channel;
      if (v && channel) channel.view(this.header.version, [v.cx, v.cy, v.sx / f.sx]);
    }, VIEW_WAIT_MS);
  }

  nearest(px, py, radius) {
    const v = this.state.view, [dx, dy] = this.toData(px, py);
    const [x0, x1, y0, y1] = this.bounds, { x, y } = this.a;
    const rx = radius / v.sx, ry = radius / v.sy;
    const [cx0, cx1] = this.cellRange(dx - rx, dx + rx, x0, x1), [cy0, cy1] = this.cellRange(dy - ry, dy + ry, y0, y1);
    if ((cx1 - cx0 + 1) * (cy1 - cy0 + 1) > 4096) return -1; // zoomed far out: no hover
    const faceFirst = this.faces && this.el.dataset.lod !== "dots" ? this.faces.slotOf : null;
    let best = -1, bestD = radius * radius, bestFace = false;
    for (let cy = cy0; cy <= cy1; cy++)
      for (let cx = cx0; cx <= cx1; cx++) {
        const k = cy * this.G + cx;
        for (let t = this.grid.starts[k]; t < this.grid.starts[k + 1]; t++) {
          const i = this.grid.items[t];
          const ex = (x[i] - dx) * v.sx, ey = (y[i] - dy) * v.sy, d = ex * ex + ey * ey;
          const face = faceFirst !== null && faceFirst[i] >= 0 && Math.abs(ex) <= FACE_PX / 2 && Math.abs(ey) <= FACE_PX / 2;
          // A face under the pointer wins over dots beneath it; else the nearest, ties: the point drawn on top.
          if ((face && !bestFace) || (face === bestFace && (d < bestD || (d === bestD && best >= 0 && this.a.rank[i] > this.a.rank[best])))) {
            if (!face && d > radius * radius) continue;
            bestD = d;
            best = i;
            bestFace = face;
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
    const i = this.nearest(px, py, Math.max(8, this.faces && this.el.dataset.lod !== "dots" ? FACE_PX / 2 : 8));
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
    this.overlay.style.visibility = points && points.length >= 2 ? "" : "hidden"; // nor does an empty overlay
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
        const i = this.nearest(...p, this.faces && this.el.dataset.lod !== "dots" ? FACE_PX / 2 : 10);
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
      if (b.dataset.act === "faces") {
        this.state.faces = !this.state.faces;
        this.buttons();
        this.draw();
      }
    });
  }

  reset() {
    this.state.view = this.fit();
    this.draw();
  }

  buttons() {
    this.el.querySelectorAll("button[data-mode]").forEach((b) => b.classList.toggle("on", b.dataset.mode === this.mode));
    const faces = this.el.querySelector('button[data-act="faces"]');
    faces.style.display = this.faces ? "" : "none";
    faces.classList.toggle("on", !!this.state.faces);
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

function pointsInside(s, x, y) { // the points a selection holds, in order: the count shown before the page answers
  const out = [];
  if (s.kind === "point") return s.index >= 0 && s.index < x.length ? [s.index] : out;
  const bbox = s.kind === "lasso" ? polygonBox(s.polygon) : s.box;
  for (let i = 0; i < x.length; i++)
    if (insideBox(x[i], y[i], bbox) && (s.kind === "box" || insidePolygon(x[i], y[i], s.polygon))) out.push(i);
  return out;
}

const LABEL_PAD = 4; // pixels of halo around a name
const LABEL_HEIGHT = 18;

// Where the clusters' names go on a width x height canvas: labels [{text, at: [x, y] in pixels}], most important
// first. A name whose place is in view is kept whole inside the canvas (moved in from an edge); one that would then
// overlap a name placed before it, or that is wider than the canvas, is left out. -> [{text, x, y, box}]: the name's
// centre and its box [left, top, right, bottom], none overlapping, all inside [0, width] x [0, height].
function placeLabels(labels, width, height, textWidth) {
  const placed = [];
  for (const { text, at: [px, py] } of labels) {
    if (!(px >= 0 && px <= width && py >= 0 && py <= height)) continue; // its cluster's place is out of view
    const w = textWidth(text) + 2 * LABEL_PAD, h = LABEL_HEIGHT;
    if (w > width || h > height) continue;
    const x = Math.min(Math.max(px, w / 2), width - w / 2), y = Math.min(Math.max(py, h / 2), height - h / 2);
    const box = [x - w / 2, y - h / 2, x + w / 2, y + h / 2];
    if (placed.some(({ box: b }) => box[0] < b[2] && box[2] > b[0] && box[1] < b[3] && box[3] > b[1])) continue;
    placed.push({ text, x, y, box });
  }
  return placed;
}

function polygonBox(poly) {
  const xs = poly.map((p) => p[0]), ys = poly.map((p) => p[1]);
  return [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
}

function keepBlob(digest, bytes) { // the page sends a map whole once, then its header alone (ui/scatter_gl.py)
  BLOBS.delete(digest);
  BLOBS.set(digest, bytes);
  while (BLOBS.size > BLOBS_KEPT) BLOBS.delete(BLOBS.keys().next().value);
}

export default function (component) {
  const { data, parentElement, setStateValue, key } = component;
  let map = parentElement.__faMap;
  if (!map) map = parentElement.__faMap = new GlMap(parentElement, key || "map");
  map.setStateValue = setStateValue;
  map.answered();
  if (data && data !== map.bytes) {
    map.bytes = data;
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    const { length, header } = readHeader(bytes);
    const whole = bytes.length > 4 + length ? bytes : null, kept = BLOBS.get(header.digest);
    if (whole) keepBlob(header.digest, whole);
    if (map.header && map.header.digest === header.digest) map.rerun(header); // the same map sent again
    else if (whole || kept) {
      map.load(whole || kept).then(() => !whole && map.header && map.rerun(header))
        .catch(() => map.fail("This map could not be read."));
    } else setStateValue("need", `${header.digest}:${Date.now()}`); // a header alone, for a map not held: ask for it
  }
}
export { parse, placeLabels, pointsInside }; // for tests (node): tests/test_cluster_map.py, test_map_faces.py
