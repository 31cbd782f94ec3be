// The map's faces channel (ui/map_faces.py): asks the page for the faces of the tiles the map (ui/scatter_gl.js)
// needs, hands the faces that arrive to the map, and tells the page the map's view for its link. A component of its
// own, in a fragment of its own, so neither a request for faces nor a moving view reruns the map or its faces panel.
// data: uint32 header length, JSON header {version, ready, seq, size, tiles, skipped}, then a JPEG of the faces of
// `tiles` (16 a row, tile after tile) when seq answers a request.

const HUB = (window.__faceatlasHub = window.__faceatlasHub || {}); // map version -> {map, channel}

function readHeader(bytes) {
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  return { length, header: JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length))) };
}

export default function (component) {
  const { data, setStateValue, parentElement } = component;
  if (!data) return;
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const { length, header } = readHeader(bytes);
  const hub = (HUB[header.version] = HUB[header.version] || {});
  let channel = parentElement.__faChannel;
  if (!channel) {
    channel = parentElement.__faChannel = { seq: 0, answered: 0 };
    channel.want = (version, tiles) => { // every request a new number: the page answers the newest
      channel.seq = Math.max(channel.seq, channel.answered) + 1;
      channel.setStateValue("want", { version, seq: channel.seq, tiles });
    };
    channel.view = (version, view) => channel.setStateValue("view", { version, view: view.map((v) => +v.toPrecision(6)) });
  }
  channel.setStateValue = setStateValue;
  channel.ready = !!header.ready;
  const before = hub.channel;
  hub.channel = channel.ready ? channel : { ready: false, want() {}, view: channel.view };
  if (channel.ready && (!before || !before.ready) && hub.map) hub.map.draw(); // faces just became available: ask
  if (!header.seq || header.seq <= channel.answered || length + 4 >= bytes.length) return;
  channel.answered = header.seq;
  createImageBitmap(new Blob([bytes.subarray(4 + length)], { type: "image/jpeg" }))
    .then((bitmap) => hub.map && hub.map.receiveFaces(header, bitmap))
    .catch(() => hub.map && hub.map.receiveFaces({ ...header, tiles: [], skipped: header.tiles }, null));
}
