// Undo / redo: every action pushes one entry holding what it changed, within a memory budget.
//   {kind: "mask", label, x, y, w, h, before, after}            a stroke, rectangle, clear or mask upload
//   {kind: "image", label, imageBefore, imageAfter, maskBefore, maskAfter, sent}   a fill
import { HISTORY_BYTES, S } from "./state.js";
import { setAll, writeRegion } from "./mask.js";

const imagesOf = (e) => (e.kind === "image" ? [e.imageBefore, e.imageAfter] : []);

function entryBytes(e) {
  if (e.kind === "mask") return e.before.length + e.after.length;
  return e.maskBefore.length + e.maskAfter.length + e.sent.length + e.imageAfter.blob.size;
}

/** Revoke the object URLs of the images in `dropped` entries that nothing still shown or kept uses. */
function releaseDropped(dropped) {
  const live = new Set([S.original, S.image]);
  for (const e of [...S.undo, ...S.redo]) imagesOf(e).forEach((i) => live.add(i));
  for (const e of dropped) imagesOf(e).forEach((i) => { if (!live.has(i)) revoke(i); });
}

function revoke(image) {
  URL.revokeObjectURL(image.url);
  if (image.blobUrl) URL.revokeObjectURL(image.blobUrl);
}

/** Forget everything (another image was opened). */
export function releaseAll() {
  const all = new Set([S.original, S.image]);
  for (const e of [...S.undo, ...S.redo]) imagesOf(e).forEach((i) => all.add(i));
  all.forEach((i) => i && revoke(i));
  S.undo = [];
  S.redo = [];
}

export function pushHistory(entry) {
  entry.bytes = entryBytes(entry);
  S.undo.push(entry);
  const dropped = S.redo;
  S.redo = [];
  let total = S.undo.reduce((n, e) => n + e.bytes, 0);
  while (total > HISTORY_BYTES && S.undo.length > 1) {
    const old = S.undo.shift();
    total -= old.bytes;
    dropped.push(old);
  }
  releaseDropped(dropped);
}

function applyEntry(e, useBefore, showImage) {
  if (e.kind === "mask") {
    writeRegion(e.x, e.y, e.w, e.h, useBefore ? e.before : e.after);
  } else {
    showImage(useBefore ? e.imageBefore : e.imageAfter);
    setAll(useBefore ? e.maskBefore : e.maskAfter);
  }
}

/** Move the newest entry of `from` onto `to`, restoring its before (undo) or after (redo) state. */
function travel(from, to, useBefore, showImage) {
  if (!from.length || S.stroke || S.rect) return null;
  const e = from.pop();
  applyEntry(e, useBefore, showImage);
  to.push(e);
  return e;
}
export const undo = (showImage) => travel(S.undo, S.redo, true, showImage);
export const redo = (showImage) => travel(S.redo, S.undo, false, showImage);

/** Everything filled so far (the fills still in the history), or null when nothing was filled. */
export function filledMask() {
  const fills = S.undo.filter((e) => e.kind === "image");
  if (!fills.length) return null;
  const union = new Uint8Array(S.W * S.H);
  for (const e of fills) for (let k = 0; k < union.length; k++) union[k] |= e.sent[k];
  return union;
}
