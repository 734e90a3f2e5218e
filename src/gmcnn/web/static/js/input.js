// Pointer, touch and keyboard input on the canvas: strokes, rectangles, smart-select strokes, pan, pinch, keys.
// `act` holds the page's actions (fill, undo, select, ...), so this module only decides which one an event means.
import * as api from "./api.js";
import * as mask from "./mask.js";
import { S, el } from "./state.js";
import * as view from "./view.js";

const STROKE_MODES = { brush: "paint", eraser: "erase", select: "hint" };

function onPointerDown(e, act) {
  if (e.target.closest("#busy, #explain-bar, #warning")) return; // controls that sit on the canvas
  el.viewport.focus({ preventScroll: true });
  if (!S.image) {
    if (e.button === 0) el.file.click();
    return;
  }
  if (e.pointerType === "touch") {
    S.pointers.set(e.pointerId, view.local(e));
    el.viewport.setPointerCapture(e.pointerId);
    if (S.pointers.size === 2) { // a second finger: this is a pinch or a two-finger pan, never paint
      if (S.stroke) mask.abortStroke();
      if (S.rect) mask.endRect(true);
      S.pan = null;
      view.startPinch();
      act.changed();
      return;
    }
    if (S.pointers.size > 2 || S.pinch) return;
  }
  if (S.stroke || S.rect || S.pan) return;
  if (e.button === 1 || (e.button === 0 && (S.spaceDown || S.tool === "pan"))) {
    S.pan = { x: e.clientX, y: e.clientY, panX: S.panX, panY: S.panY };
    el.viewport.classList.add("panning");
  } else if (e.button === 0 && STROKE_MODES[S.tool]) {
    mask.startStroke(view.toImage(e), STROKE_MODES[S.tool]);
  } else if (e.button === 0 && S.tool === "rect") {
    mask.startRect(view.toImage(e), e.altKey);
  } else {
    return;
  }
  el.viewport.setPointerCapture(e.pointerId);
  e.preventDefault();
}

function onPointerMove(e) {
  view.updateCursor(e);
  if (S.pointers.has(e.pointerId)) S.pointers.set(e.pointerId, view.local(e));
  if (S.pinch) {
    if (S.pointers.size >= 2) view.movePinch();
  } else if (S.pan) {
    view.unfit();
    S.panX = S.pan.panX + e.clientX - S.pan.x;
    S.panY = S.pan.panY + e.clientY - S.pan.y;
    view.applyView();
  } else if (S.stroke) {
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) mask.extendStroke(view.toImage(ev));
  } else if (S.rect) {
    mask.moveRect(view.toImage(e));
  }
}

function onPointerUp(e, act) {
  S.pointers.delete(e.pointerId);
  if (S.pinch) {
    if (!S.pointers.size) S.pinch = null; // the gesture ends when the last finger lifts
    return;
  }
  if (S.pan) {
    S.pan = null;
    el.viewport.classList.remove("panning");
  }
  if (S.stroke) {
    const done = mask.endStroke();
    if (done && done.hint) act.select(done.hint);
    else act.commit(done);
  }
  if (S.rect) act.commit(mask.endRect());
}

function onKey(e, act) {
  if (e.target.closest && e.target.closest("select, textarea, input[type=text], input[type=number]")) return;
  if (el.help.open) {
    if (e.key === "?") el.help.close();
    return; // the dialog closes itself on Escape
  }
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (e.ctrlKey || e.metaKey) {
    const ctrl = { z: () => (e.shiftKey ? act.redo() : act.undo()), y: act.redo, s: () => (e.shiftKey ? act.saveMask() : act.save()), o: () => el.file.click() };
    if (ctrl[key]) {
      e.preventDefault();
      ctrl[key]();
    }
    return;
  }
  if (e.altKey) return;
  const onButton = e.target.closest && e.target.closest("button");
  const image = (f) => () => S.image && f();
  const actions = {
    b: () => view.setTool("brush"),
    e: () => view.setTool("eraser"),
    s: () => view.setTool("select"),
    r: () => view.setTool("rect"),
    h: () => view.setTool("pan"),
    "[": () => view.setSize(S.size - Math.max(1, S.size * 0.15)),
    "]": () => view.setSize(S.size + Math.max(1, S.size * 0.15)),
    f: act.fill,
    Enter: () => !onButton && act.fill(),
    c: image(() => act.compare(true)),
    " ": () => { S.spaceDown = true; el.viewport.classList.add("panning-ready"); view.updateCursor(); },
    0: image(view.fitView),
    1: image(() => view.zoomCentre(1 / S.zoom)),
    "+": image(() => view.zoomCentre(1.25)),
    "=": image(() => view.zoomCentre(1.25)),
    "-": image(() => view.zoomCentre(0.8)),
    x: () => el.stage.classList.toggle("mask-hidden"),
    o: () => el.file.click(),
    ",": () => act.step(-1),
    ".": () => act.step(1),
    "?": () => el.help.showModal(),
    Escape: () => (S.rect ? mask.endRect(true) : S.busy && api.cancel()),
  };
  if (actions[key]) {
    e.preventDefault();
    if (!e.repeat || "[]+-=,.".includes(key)) actions[key]();
  }
}

function onKeyUp(e, act) {
  if (e.key === "c" || e.key === "C") act.compare(false);
  if (e.key === " ") {
    S.spaceDown = false;
    el.viewport.classList.remove("panning-ready");
    view.updateCursor();
  }
}

/** act: {commit(entry), select(hint), changed(), fill, undo, redo, save, saveMask, compare(on), step(delta)}. */
export function wireInput(act) {
  el.viewport.addEventListener("pointerdown", (e) => onPointerDown(e, act));
  el.viewport.addEventListener("pointermove", onPointerMove);
  el.viewport.addEventListener("pointerup", (e) => onPointerUp(e, act));
  el.viewport.addEventListener("pointercancel", (e) => onPointerUp(e, act));
  el.viewport.addEventListener("pointerleave", () => { S.cursorAt = null; view.updateCursor(); });
  el.viewport.addEventListener("wheel", (e) => {
    if (!S.image) return;
    e.preventDefault();
    const p = view.local(e);
    const lines = e.deltaMode === 1 ? 33 : 1; // Firefox reports lines
    view.zoomAt(Math.exp(-e.deltaY * lines * 0.0015), p.x, p.y);
  }, { passive: false });
  window.addEventListener("keydown", (e) => onKey(e, act));
  window.addEventListener("keyup", (e) => onKeyUp(e, act));
  window.addEventListener("blur", () => {
    act.compare(false);
    S.spaceDown = false;
    el.viewport.classList.remove("panning-ready");
  });
}
