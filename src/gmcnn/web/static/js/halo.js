// The halo preview: what a fill will change beyond the painted mask, drawn around it on the #halo canvas.
// The server grows the hole by `grow` px, then blends over a `feather` band outside it; both are drawn as
// rings, the first solid, the next lighter. Distances come from a two-pass chamfer transform (3-4 weights,
// close to the server's octagonal growth), only in the box around the holes.
import { chamfer } from "./distance.js";
import { S, el } from "./state.js";

const RING_RGBA = [[255, 210, 60, 200], [255, 210, 60, 90]]; // first margin, the next
const halo = el.halo.getContext("2d");

/** Resize the halo canvas to a new image (clears it). */
export function resetHalo(W, H) {
  el.halo.width = W;
  el.halo.height = H;
}

/** Chamfer distance (3-4 weights: 3 per px) from the hole, within a box; capped just beyond `reach`. */
function distances(x0, y0, w, h, reach) {
  const d = new Float32Array(w * h);
  const far = 3 * (reach + 2);
  for (let j = 0; j < h; j++) {
    const row = (y0 + j) * S.W + x0;
    for (let i = 0; i < w; i++) d[j * w + i] = S.bits[row + i] ? 0 : far;
  }
  return chamfer(d, w, h, 3, 4);
}

/** Draw rings of widths `margins` (px, in order outwards) around the holes; nothing when they are all 0. */
export function drawHalo(margins) {
  halo.clearRect(0, 0, el.halo.width, el.halo.height);
  const reach = margins.reduce((a, b) => a + b, 0);
  if (!S.bits || !reach || !S.holes.count) return;
  let x0 = S.W, y0 = S.H, x1 = 0, y1 = 0;
  for (const b of S.holes.boxes) {
    x0 = Math.min(x0, b.x); y0 = Math.min(y0, b.y); x1 = Math.max(x1, b.x + b.w); y1 = Math.max(y1, b.y + b.h);
  }
  x0 = Math.max(0, x0 - reach - 1); y0 = Math.max(0, y0 - reach - 1);
  x1 = Math.min(S.W, x1 + reach + 1); y1 = Math.min(S.H, y1 + reach + 1);
  const w = x1 - x0, h = y1 - y0;
  const d = distances(x0, y0, w, h, reach);
  const img = halo.createImageData(w, h);
  for (let n = 0; n < d.length; n++) {
    const px = d[n] / 3;
    if (px <= 0 || px > reach) continue;
    let ring = 0, edge = margins[0];
    while (px > edge && ring < margins.length - 1) edge += margins[++ring];
    img.data.set(RING_RGBA[Math.min(ring, RING_RGBA.length - 1)], n * 4);
  }
  halo.putImageData(img, x0, y0);
}
