// Zoom, pan, two-finger pinch, the before/after split and the brush cursor.
import { S, el } from "./state.js";

const BRUSHES = ["brush", "eraser", "select"]; // the tools that draw with the round brush

export function applyView() {
  el.stage.style.transform = `translate(${S.panX}px, ${S.panY}px) scale(${S.zoom})`;
  el.stage.classList.toggle("pixelated", S.zoom >= 3);
  el.factZoom.textContent = S.image ? `${Math.round(S.zoom * 100)}%` : "—";
  document.body.dataset.zoom = S.zoom.toFixed(4);
  updateCompare();
  updateCursor();
}

export function fitView() {
  const r = el.viewport.getBoundingClientRect();
  S.fitted = true;
  S.viewSize = { width: r.width, height: r.height };
  const pad = r.width < 500 ? 8 : 24; // a phone has no room to spare
  S.zoom = Math.min((r.width - pad) / S.W, (r.height - pad) / S.H, 8);
  S.panX = (r.width - S.W * S.zoom) / 2;
  S.panY = (r.height - S.H * S.zoom) / 2;
  applyView();
}

/** The canvas changed size (the window, or the phone's settings sheet): refit a fitted image; otherwise keep the
 * zoom, and the point at the centre of the canvas at its centre. */
export function resized() {
  if (!S.image) return;
  if (S.fitted) {
    fitView();
    return;
  }
  const r = el.viewport.getBoundingClientRect();
  S.panX += (r.width - S.viewSize.width) / 2;
  S.panY += (r.height - S.viewSize.height) / 2;
  S.viewSize = { width: r.width, height: r.height };
  applyView();
}

export function zoomAt(factor, cx, cy) {
  const zoom = Math.min(32, Math.max(0.01, S.zoom * factor));
  const k = zoom / S.zoom;
  S.panX = cx - (cx - S.panX) * k;
  S.panY = cy - (cy - S.panY) * k;
  S.zoom = zoom;
  unfit();
  applyView();
}

export function zoomCentre(factor) {
  const r = el.viewport.getBoundingClientRect();
  zoomAt(factor, r.width / 2, r.height / 2);
}

/** Viewport coordinates of a pointer event. */
export function local(e) {
  const r = el.viewport.getBoundingClientRect();
  return { x: e.clientX - r.left, y: e.clientY - r.top };
}

/** Image coordinates of a pointer event. */
export function toImage(e) {
  const p = local(e);
  return { x: (p.x - S.panX) / S.zoom, y: (p.y - S.panY) / S.zoom };
}

/** The view was zoomed or panned by hand: a resize keeps it. */
export function unfit() {
  S.fitted = false;
}

// ------------------------------------------------------------------------------------------------ pinch
function spread() {
  const [a, b] = [...S.pointers.values()];
  return { dist: Math.hypot(a.x - b.x, a.y - b.y) || 1, mid: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 } };
}

/** Two fingers are down: remember where the gesture starts. */
export function startPinch() {
  S.pinch = { ...spread(), zoom: S.zoom, panX: S.panX, panY: S.panY };
}

/** The fingers moved: zoom by how far apart they are, pan by where their midpoint went. */
export function movePinch() {
  const g = S.pinch, now = spread();
  const zoom = Math.min(32, Math.max(0.01, g.zoom * (now.dist / g.dist)));
  // The image point under the starting midpoint stays under the current midpoint.
  const ix = (g.mid.x - g.panX) / g.zoom, iy = (g.mid.y - g.panY) / g.zoom;
  S.zoom = zoom;
  S.panX = now.mid.x - ix * zoom;
  S.panY = now.mid.y - iy * zoom;
  unfit();
  applyView();
}

// ------------------------------------------------------------------------------------------------ compare, cursor
export function updateCompare() {
  const v = S.comparing ? 100 : Number(el.compare.value);
  el.before.hidden = !S.image || S.image === S.original || v === 0;
  el.before.style.clipPath = `inset(0 ${100 - v}% 0 0)`;
  el.stage.classList.toggle("comparing", S.comparing);
  el.split.hidden = el.before.hidden || S.comparing || v >= 100;
  el.split.style.left = `${S.panX + S.W * S.zoom * v / 100}px`;
}

export function updateCursor(e) {
  if (e) S.cursorAt = e.pointerType === "touch" ? null : local(e);
  const show = S.image && S.cursorAt && BRUSHES.includes(S.tool) && !S.spaceDown && !S.pan;
  el.cursor.hidden = !show;
  if (!show) return;
  const d = Math.max(4, S.size * S.zoom);
  Object.assign(el.cursor.style, { left: `${S.cursorAt.x}px`, top: `${S.cursorAt.y}px`, width: `${d}px`, height: `${d}px` });
  for (const t of BRUSHES) el.cursor.classList.toggle(t, S.tool === t);
}

export function setTool(tool) {
  S.tool = tool;
  for (const b of document.querySelectorAll("[data-tool]")) b.setAttribute("aria-pressed", String(b.dataset.tool === tool));
  for (const b of document.querySelectorAll("[data-tool]")) el.viewport.classList.toggle(`tool-${b.dataset.tool}`, b.dataset.tool === tool);
  updateCursor();
}

export function setSize(v) {
  S.size = Math.max(1, Math.min(Number(el.size.max), Math.round(v)));
  el.size.value = S.size;
  el.sizeOut.textContent = S.size;
  updateCursor();
}
