// Files in and out: what the page shows for an opened or filled file, and saving the result and the mask.
import * as api from "./api.js";
import { filledMask } from "./history.js";
import { encodeMaskPng } from "./mask.js";
import { setStatus, updateUi } from "./panel.js";
import { S } from "./state.js";

const EXTENSIONS = { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/tiff": "tif", "image/bmp": "bmp" };

export function stemOf(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? [name.slice(0, dot), name.slice(dot + 1)] : [name || "image", ""];
}

/** {blob, url} for a file: the browser shows it itself, or (TIFF) through the server's PNG preview. */
export async function displayable(blob, name) {
  const url = URL.createObjectURL(blob);
  const probe = new Image();
  probe.src = url;
  try {
    await probe.decode();
    return { blob, url, width: probe.naturalWidth, height: probe.naturalHeight };
  } catch {
    URL.revokeObjectURL(url);
  }
  const png = await api.preview(blob, name);
  const shown = URL.createObjectURL(png);
  probe.src = shown;
  await probe.decode();
  return { blob, url: shown, width: probe.naturalWidth, height: probe.naturalHeight };
}

function saveBlob(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
}

export function downloadResult() {
  if (!S.image) {
    setStatus("Nothing to save: open an image first.", "error");
    return;
  }
  if (S.image === S.original) {
    setStatus("Nothing to save yet: paint and Fill first (Ctrl+Shift+S saves the mask).", "error");
    return;
  }
  const type = S.image.blob.type;
  const ext = type === S.original.blob.type && S.ext ? S.ext : EXTENSIONS[type] || S.ext || "png";
  saveBlob(S.image.blob, `${S.stem}-filled.${ext}`);
  S.saved = true;
  updateUi();
  setStatus(`Saved ${S.stem}-filled.${ext} (the server's file: ${S.facts ? S.facts.exact : ""}).`);
}

export async function downloadMask() {
  if (!S.image) return;
  const filled = filledMask();
  if (!filled && !S.holes.count) return;
  const union = filled || new Uint8Array(S.W * S.H);
  for (let k = 0; k < union.length; k++) union[k] |= S.bits[k];
  saveBlob(await encodeMaskPng(union, S.W, S.H), `${S.stem}-mask.png`);
  const what = filled ? (S.holes.count ? "everything filled plus the painted mask" : "everything filled so far") : "the painted mask";
  setStatus(`Saved ${S.stem}-mask.png (${what}; black/white PNG, white = fill).`);
}
