// Chamfer distance transform: two raster passes over a w x h grid, in place.

/** `d` (Float32Array, w*h): 0 where the distance is measured from, large elsewhere; after the call each cell
 * holds its distance to the nearest 0 cell, `straight` per side step and `diagonal` per diagonal step. */
export function chamfer(d, w, h, straight, diagonal) {
  const relax = (n, m, c) => { if (d[m] + c < d[n]) d[n] = d[m] + c; };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const n = y * w + x;
      if (!d[n]) continue;
      if (x > 0) relax(n, n - 1, straight);
      if (y > 0) {
        relax(n, n - w, straight);
        if (x > 0) relax(n, n - w - 1, diagonal);
        if (x < w - 1) relax(n, n - w + 1, diagonal);
      }
    }
  }
  for (let y = h - 1; y >= 0; y--) {
    for (let x = w - 1; x >= 0; x--) {
      const n = y * w + x;
      if (!d[n]) continue;
      if (x < w - 1) relax(n, n + 1, straight);
      if (y < h - 1) {
        relax(n, n + w, straight);
        if (x < w - 1) relax(n, n + w + 1, diagonal);
        if (x > 0) relax(n, n + w - 1, diagonal);
      }
    }
  }
  return d;
}
