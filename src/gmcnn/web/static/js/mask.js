// The mask: pixels in S.bits, drawn on the #mask canvas; strokes, rectangles, mask files and PNG export.
// A stroke is drawn on the canvas, then its bounding box is read back, binarised into S.bits and redrawn,
// so what you see is exactly what is sent (no soft anti-aliased edge).
import { chamfer } from "./distance.js";
import { MASK_RGB, S, ctx, el } from "./state.js";

/** Redraw a region of the mask canvas from S.bits. */
export function paintRegion(x, y, w, h) {
  if (w <= 0 || h <= 0) return;
  const img = ctx.createImageData(w, h);
  const d = img.data, bits = S.bits, W = S.W;
  const [r, g, b] = MASK_RGB;
  for (let j = 0; j < h; j++) {
    let src = (y + j) * W + x, dst = j * w * 4;
    for (let i = 0; i < w; i++, src++, dst += 4) {
      if (bits[src]) { d[dst] = r; d[dst + 1] = g; d[dst + 2] = b; d[dst + 3] = 255; }
    }
  }
  ctx.putImageData(img, x, y);
}

/** Binarise a drawn region into S.bits; returns {before, after} or null when nothing changed. */
function commitRegion(x, y, w, h) {
  if (w <= 0 || h <= 0) return null;
  const d = ctx.getImageData(x, y, w, h).data;
  const before = new Uint8Array(w * h), after = new Uint8Array(w * h);
  let changed = false;
  for (let j = 0, n = 0; j < h; j++) {
    let k = (y + j) * S.W + x;
    for (let i = 0; i < w; i++, n++, k++) {
      before[n] = S.bits[k];
      const a = d[n * 4 + 3] >= 128 ? 255 : 0;
      after[n] = a;
      if (a !== before[n]) changed = true;
      S.bits[k] = a;
    }
  }
  paintRegion(x, y, w, h);
  return changed ? { before, after } : null;
}

export function writeRegion(x, y, w, h, values) {
  for (let j = 0; j < h; j++) S.bits.set(values.subarray(j * w, (j + 1) * w), (y + j) * S.W + x);
  paintRegion(x, y, w, h);
}

export function setAll(values) {
  S.bits.set(values);
  paintRegion(0, 0, S.W, S.H);
}

export function clampRect(x0, y0, x1, y1) {
  const x = Math.max(0, Math.floor(Math.min(x0, x1))), y = Math.max(0, Math.floor(Math.min(y0, y1)));
  const r = Math.min(S.W, Math.ceil(Math.max(x0, x1))), b = Math.min(S.H, Math.ceil(Math.max(y0, y1)));
  return { x, y, w: Math.max(0, r - x), h: Math.max(0, b - y) };
}

/** Hole pixel count, and per connected part (8-connected on an 8 px grid, like the server): its box and its
 * half-thickness (how far its deepest pixel is from known pixels, from a distance transform on the grid). */
export function analyseHoles() {
  const { W, H, bits } = S;
  const cell = 8, gw = Math.ceil(W / cell), gh = Math.ceil(H / cell);
  const counts = new Uint8Array(gw * gh); // hole pixels per cell (<= 64)
  let count = 0;
  for (let y = 0; y < H; y++) {
    const line = bits.subarray(y * W, (y + 1) * W); // a view: searches stop at the row's end
    const first = line.indexOf(255);
    if (first === -1) continue;
    const last = line.lastIndexOf(255);
    const g = ((y / cell) | 0) * gw;
    for (let x = first; x <= last; x++) {
      if (line[x]) { count++; counts[g + ((x / cell) | 0)]++; }
    }
  }
  // Chamfer distance (in cells) from each fully covered cell to the nearest cell with known pixels.
  const dist = new Float32Array(gw * gh);
  for (let cy = 0; cy < gh; cy++) {
    const ch = Math.min(cell, H - cy * cell);
    for (let cx = 0; cx < gw; cx++) {
      const n = cy * gw + cx;
      dist[n] = counts[n] === ch * Math.min(cell, W - cx * cell) ? 1e9 : 0;
    }
  }
  chamfer(dist, gw, gh, 1, Math.SQRT2);
  const boxes = [];
  const seen = new Uint8Array(gw * gh);
  for (let start = 0; start < counts.length; start++) {
    if (!counts[start] || seen[start]) continue;
    let x0 = gw, y0 = gh, x1 = -1, y1 = -1, deepest = 0;
    const stack = [start];
    seen[start] = 1;
    while (stack.length) {
      const c = stack.pop(), cx = c % gw, cy = (c / gw) | 0;
      x0 = Math.min(x0, cx); x1 = Math.max(x1, cx); y0 = Math.min(y0, cy); y1 = Math.max(y1, cy);
      deepest = Math.max(deepest, dist[c]);
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = cx + dx, ny = cy + dy, n = ny * gw + nx;
          if (nx >= 0 && ny >= 0 && nx < gw && ny < gh && counts[n] && !seen[n]) { seen[n] = 1; stack.push(n); }
        }
      }
    }
    boxes.push({
      x: x0 * cell, y: y0 * cell,
      w: Math.min(W, (x1 + 1) * cell) - x0 * cell,
      h: Math.min(H, (y1 + 1) * cell) - y0 * cell,
      // px from the deepest hole pixel to known pixels (within a cell); none known at all: the whole image
      depth: deepest >= 1e9 ? Infinity : (deepest + 0.5) * cell,
    });
  }
  S.holes = { count, boxes };
}

// ------------------------------------------------------------------------------------------------ painting
// A stroke paints ("paint"), unpaints ("erase") or marks an object for smart select ("hint"): a hint is drawn
// on the #halo canvas in HINT_RGB, read back as its own bits and never enters the mask by itself.
const HINT_RGB = [60, 200, 255];
const hintCtx = el.halo.getContext("2d", { willReadFrequently: true });
const target = (mode) => (mode === "hint" ? hintCtx : ctx);

function strokeStyle(mode) {
  const g = target(mode);
  g.globalCompositeOperation = mode === "erase" ? "destination-out" : "source-over";
  g.strokeStyle = g.fillStyle = `rgb(${(mode === "hint" ? HINT_RGB : MASK_RGB).join(",")})`;
  g.lineWidth = S.size;
  g.lineCap = g.lineJoin = "round";
  return g;
}

export function startStroke(p, mode) {
  S.stroke = { mode, last: p, x0: p.x, y0: p.y, x1: p.x, y1: p.y };
  const g = strokeStyle(mode);
  g.beginPath();
  g.arc(p.x, p.y, S.size / 2, 0, 2 * Math.PI);
  g.fill();
}

export function extendStroke(p) {
  const s = S.stroke;
  const g = strokeStyle(s.mode);
  g.beginPath();
  g.moveTo(s.last.x, s.last.y);
  g.lineTo(p.x, p.y);
  g.stroke();
  s.last = p;
  s.x0 = Math.min(s.x0, p.x); s.y0 = Math.min(s.y0, p.y);
  s.x1 = Math.max(s.x1, p.x); s.y1 = Math.max(s.y1, p.y);
}

function strokeBox(s) {
  const pad = S.size / 2 + 2;
  return clampRect(s.x0 - pad, s.y0 - pad, s.x1 + pad, s.y1 + pad);
}

/** End a paint or erase stroke: commit it; returns {label, x, y, w, h, before, after}, or null when nothing
 * changed. A hint stroke returns {hint: Uint8Array(W*H), 255 on the stroke} instead. */
export function endStroke() {
  const s = S.stroke;
  S.stroke = null;
  const r = strokeBox(s);
  if (s.mode === "hint") return { hint: readHint(r) };
  ctx.globalCompositeOperation = "source-over";
  const diff = commitRegion(r.x, r.y, r.w, r.h);
  return diff && { label: s.mode === "erase" ? "eraser stroke" : "brush stroke", ...r, ...diff };
}

function readHint(r) {
  const hint = new Uint8Array(S.W * S.H);
  if (r.w < 1 || r.h < 1) return hint;
  const d = hintCtx.getImageData(r.x, r.y, r.w, r.h).data;
  for (let j = 0, n = 3; j < r.h; j++) {
    const row = (r.y + j) * S.W + r.x;
    for (let i = 0; i < r.w; i++, n += 4) if (d[n] >= 128 && d[n - 1] >= 200) hint[row + i] = 255; // rings are not blue
  }
  return hint;
}

/** Drop the stroke being drawn (a second finger came down: it is a pinch, not paint). */
export function abortStroke() {
  const s = S.stroke;
  S.stroke = null;
  const r = strokeBox(s);
  if (s.mode === "hint") return; // the halo is redrawn after every change
  ctx.globalCompositeOperation = "source-over";
  ctx.clearRect(r.x, r.y, r.w, r.h);
  paintRegion(r.x, r.y, r.w, r.h);
}

/** Add a selected object (0/255, W*H) to the mask; returns a history entry like endStroke, or null. */
export function addSelection(found) {
  let x0 = S.W, y0 = S.H, x1 = -1, y1 = -1;
  for (let y = 0; y < S.H; y++) {
    const row = found.subarray(y * S.W, (y + 1) * S.W);
    const first = row.indexOf(255);
    if (first === -1) continue;
    x0 = Math.min(x0, first); x1 = Math.max(x1, row.lastIndexOf(255)); y0 = Math.min(y0, y); y1 = y;
  }
  if (x1 < 0) return null;
  const w = x1 - x0 + 1, h = y1 - y0 + 1;
  const before = new Uint8Array(w * h), after = new Uint8Array(w * h);
  let changed = false;
  for (let j = 0; j < h; j++) {
    for (let i = 0, k = (y0 + j) * S.W + x0; i < w; i++, k++) {
      before[j * w + i] = S.bits[k];
      after[j * w + i] = S.bits[k] | found[k];
      if (after[j * w + i] !== before[j * w + i]) changed = true;
    }
  }
  if (!changed) return null;
  writeRegion(x0, y0, w, h, after);
  return { label: "smart select", x: x0, y: y0, w, h, before, after };
}

export function startRect(p, erase) {
  S.rect = { erase, x0: p.x, y0: p.y, x1: p.x, y1: p.y };
  el.rectPreview.classList.toggle("erase", erase);
  moveRect(p);
  el.rectPreview.hidden = false;
}

export function moveRect(p) {
  const q = S.rect;
  q.x1 = p.x;
  q.y1 = p.y;
  const r = clampRect(q.x0, q.y0, q.x1, q.y1);
  Object.assign(el.rectPreview.style, {
    left: `${S.panX + r.x * S.zoom}px`, top: `${S.panY + r.y * S.zoom}px`,
    width: `${r.w * S.zoom}px`, height: `${r.h * S.zoom}px`,
  });
}

/** End the rectangle; returns a history entry like endStroke, or null. */
export function endRect(cancel = false) {
  const q = S.rect;
  S.rect = null;
  el.rectPreview.hidden = true;
  const r = clampRect(q.x0, q.y0, q.x1, q.y1);
  if (cancel || r.w < 1 || r.h < 1) return null;
  if (q.erase) {
    ctx.clearRect(r.x, r.y, r.w, r.h);
  } else {
    strokeStyle("paint");
    ctx.fillRect(r.x, r.y, r.w, r.h);
  }
  const diff = commitRegion(r.x, r.y, r.w, r.h);
  return diff && { label: q.erase ? "rectangle erase" : "rectangle", ...r, ...diff };
}

// ------------------------------------------------------------------------------------------------ mask files
/** The 0/255 mask a decoded mask file (already the server's black/white PNG) holds, scaled to W x H. */
export async function readMaskPng(blob) {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  const canvas = document.createElement("canvas");
  canvas.width = S.W;
  canvas.height = S.H;
  const g = canvas.getContext("2d", { willReadFrequently: true });
  g.imageSmoothingEnabled = false; // nearest neighbour: a scaled mask stays black/white
  g.drawImage(bitmap, 0, 0, S.W, S.H);
  const size = [bitmap.width, bitmap.height];
  bitmap.close();
  const d = g.getImageData(0, 0, S.W, S.H).data;
  const out = new Uint8Array(S.W * S.H);
  for (let k = 0, i = 0; k < out.length; k++, i += 4) out[k] = d[i] >= 128 ? 255 : 0;
  return { bits: out, size };
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function pngChunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  let crc = 0xffffffff;
  for (let i = 4; i < 8 + data.length; i++) crc = CRC_TABLE[(crc ^ out[i]) & 0xff] ^ (crc >>> 8);
  view.setUint32(8 + data.length, (crc ^ 0xffffffff) >>> 0);
  return out;
}

/** 8-bit greyscale PNG of a 0/255 mask: lossless, exactly W x H, white = hole. */
export async function encodeMaskPng(bits, w, h) {
  const raw = new Uint8Array((w + 1) * h); // each row: filter byte 0, then the pixels
  for (let y = 0; y < h; y++) raw.set(bits.subarray(y * w, (y + 1) * w), y * (w + 1) + 1);
  // "deflate" in the Compression Streams API is the zlib format PNG's IDAT expects.
  const stream = new Blob([raw]).stream().pipeThrough(new CompressionStream("deflate"));
  const idat = new Uint8Array(await new Response(stream).arrayBuffer());
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, w);
  view.setUint32(4, h);
  ihdr[8] = 8; // bit depth; colour type 0 (grey), compression 0, filter 0, no interlace follow as zeros
  const signature = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
  const parts = [signature, pngChunk("IHDR", ihdr), pngChunk("IDAT", idat), pngChunk("IEND", new Uint8Array(0))];
  return new Blob(parts, { type: "image/png" });
}
