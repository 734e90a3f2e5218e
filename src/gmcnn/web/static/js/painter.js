// gmcnn painter: paint over what should go, press Fill, keep painting on the result.
// Plain browser ES modules, no framework, no build step, no network but this server. This module wires
// the events to the others: state (the one state object), mask, history, view, api and panel.
import * as api from "./api.js";
import { pushHistory, filledMask, redo as redoEntry, releaseAll, undo as undoEntry } from "./history.js";
import * as mask from "./mask.js";
import { applyBounds, fillFields, setBusy, setStatus, showProgress, updateUi } from "./panel.js";
import { S, el } from "./state.js";
import * as view from "./view.js";

const EXTENSIONS = { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/tiff": "tif", "image/bmp": "bmp" };

async function loadHealth() {
  try {
    S.health = await api.health();
    const m = S.health.model;
    const t = m.training || {};
    el.model.textContent = `${m.name}${m.cnum ? ` · cnum ${m.cnum}` : ""} · trained on ${t.image_size} px images` +
      `${t.mask_type ? `, ${t.mask_type} holes` : ""}`;
    applyBounds(S.health.options);
  } catch (err) {
    el.model.textContent = `server not reachable: ${err.message}`;
  }
  updateUi();
}

function afterChange(message) {
  mask.analyseHoles();
  updateUi();
  if (message) setStatus(message);
  askPlan();
}

/** Ask the server how it would fill the current mask (debounced; a stale answer is dropped). */
function askPlan() {
  clearTimeout(S.planTimer);
  if (!S.image || !S.holes.count) {
    S.plan = null;
    updateUi();
    return;
  }
  const asked = (S.planAsked += 1);
  S.planTimer = setTimeout(async () => {
    try {
      const answer = await api.plan(await mask.encodeMaskPng(S.bits, S.W, S.H), fillFields());
      if (asked === S.planAsked) S.plan = answer;
    } catch {
      if (asked === S.planAsked) S.plan = null; // the fill itself will say what is wrong
    }
    updateUi();
  }, 250);
}

// ------------------------------------------------------------------------------------------------ images
function stemOf(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? [name.slice(0, dot), name.slice(dot + 1)] : [name || "image", ""];
}

/** {blob, url} for a file: the browser shows it itself, or (TIFF) through the server's PNG preview. */
async function displayable(blob, name) {
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

function showImage(image) {
  S.image = image;
  el.work.src = image.url;
  view.updateCompare();
}

async function openImage(file, name) {
  if (!file) return;
  if (S.busy) {
    setStatus("Wait for the fill to finish (or cancel it) before opening another image.", "error");
    return;
  }
  if (!S.saved && !window.confirm(`The filled image has not been saved. Open ${name} and lose it (and the undo history)?`)) {
    setStatus("Kept the current image: save it with Save result (Ctrl+S) first.");
    return;
  }
  setStatus(`Checking ${name}…`);
  let facts, image;
  try {
    facts = await api.check(file, name); // the server's rules, before any painting
    image = await displayable(file, name);
  } catch (err) {
    setStatus(`Cannot open ${name}: ${err.message}`, "error");
    return;
  }
  startSession(file, name, facts, image);
}

function startSession(file, name, facts, image) {
  releaseAll();
  S.session += 1;
  S.facts = facts;
  S.fileName = name;
  [S.stem, S.ext] = stemOf(name);
  const W = (S.W = facts.width), H = (S.H = facts.height);
  S.original = image;
  showImage(image);
  S.bits = new Uint8Array(W * H);
  S.fills = 0;
  S.saved = true;
  el.mask.width = W; // also clears it
  el.mask.height = H;
  el.before.src = image.url;
  el.stage.style.width = `${W}px`;
  el.stage.style.height = `${H}px`;
  el.stage.hidden = false;
  el.empty.hidden = true;
  el.viewport.classList.add("ready");
  el.compare.value = 0;
  view.fitView();
  el.size.max = Math.max(400, Math.round(Math.max(W, H) / 6));
  // A stroke about 1/30 of the image (a typical object to remove), and never thinner than a fingertip.
  view.setSize(Math.max(4, Math.round(Math.max(W, H) / 30), Math.round(24 / S.zoom)));
  afterChange(`Opened ${name} (${W}×${H}, ${facts.exact}). Paint over what should go, then Fill.`);
}

// ------------------------------------------------------------------------------------------------ edits
function commit(entry) {
  if (!entry) return;
  pushHistory({ kind: "mask", ...entry });
  afterChange();
  if (el.autofill.checked && !S.spaceDown) fill();
}

function clearMask() {
  if (!S.holes.count) return;
  const before = S.bits.slice(), after = new Uint8Array(S.bits.length);
  pushHistory({ kind: "mask", label: "clear", x: 0, y: 0, w: S.W, h: S.H, before, after });
  mask.setAll(after);
  afterChange("Mask cleared (Ctrl+Z brings it back).");
}

async function loadMask(file) {
  if (!file || !S.image) return;
  let read;
  try {
    read = await mask.readMaskPng(await api.readMask(file, file.name)); // the server's reading of masks
  } catch (err) {
    setStatus(`Cannot use ${file.name} as a mask: ${err.message}`, "error");
    return;
  }
  const [w, h] = read.size;
  const note = w !== S.W || h !== S.H ? ` (scaled from ${w}×${h} to the image's ${S.W}×${S.H})` : "";
  pushHistory({ kind: "mask", label: "mask upload", x: 0, y: 0, w: S.W, h: S.H, before: S.bits.slice(), after: read.bits });
  mask.setAll(read.bits);
  afterChange(`Loaded mask ${file.name}${note}.`);
}

function undo() {
  const e = undoEntry(showImage);
  if (e) afterChange(`Undid ${e.label}.`);
}

function redo() {
  const e = redoEntry(showImage);
  if (e) afterChange(`Redid ${e.label}.`);
}

// ------------------------------------------------------------------------------------------------ fill
async function fill() {
  if (!S.image) return;
  if (S.busy) {
    S.pendingFill = true;
    return;
  }
  if (!S.holes.count) {
    setStatus("Nothing to fill: paint over the part that should go first.", "error");
    return;
  }
  const session = S.session, sentImage = S.image, sent = S.bits.slice();
  setBusy(true);
  const t0 = performance.now();
  try {
    const fields = { ...fillFields(), image: [sentImage.blob, S.fileName], mask: [await mask.encodeMaskPng(sent, S.W, S.H), "mask.png"] };
    const answer = await api.fill(fields, { onProgress: showProgress, onNote: (text) => { S.busyNote = text; } });
    const after = await displayable(answer.blob, S.fileName);
    if (session !== S.session || S.image !== sentImage) {
      URL.revokeObjectURL(after.url);
      setStatus("A fill was discarded: the image changed while it ran.");
      return;
    }
    applyFill(sentImage, after, sent);
    const used = answer.headers.get("X-Gmcnn-Strategy") || el.strategy.value;
    const model = answer.headers.get("X-Gmcnn-Seconds");
    afterChange(`Filled in ${((performance.now() - t0) / 1000).toFixed(1)} s (strategy ${used}` +
      `${model ? `, model ${Number(model).toFixed(1)} s` : ""}). Keep painting to fix more; Ctrl+Z undoes.`);
  } catch (err) {
    if (err.status === 409) setStatus("Fill cancelled: nothing changed.");
    else setStatus(`Fill failed: ${err.message}`, "error");
  } finally {
    setBusy(false);
    if (S.pendingFill) {
      S.pendingFill = false;
      if (el.autofill.checked && S.holes.count) fill();
    }
  }
}

function applyFill(sentImage, after, sent) {
  const maskBefore = S.bits.slice(), maskAfter = S.bits.slice();
  for (let k = 0; k < sent.length; k++) if (sent[k]) maskAfter[k] = 0; // strokes made meanwhile stay
  pushHistory({ kind: "image", label: "fill", imageBefore: sentImage, imageAfter: after, maskBefore, maskAfter, sent });
  showImage(after);
  mask.setAll(maskAfter);
  S.fills += 1;
  S.saved = false;
}

// ------------------------------------------------------------------------------------------------ downloads
function saveBlob(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
}

function downloadResult() {
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

async function downloadMask() {
  if (!S.image) return;
  const filled = filledMask();
  if (!filled && !S.holes.count) return;
  const union = filled || new Uint8Array(S.W * S.H);
  for (let k = 0; k < union.length; k++) union[k] |= S.bits[k];
  saveBlob(await mask.encodeMaskPng(union, S.W, S.H), `${S.stem}-mask.png`);
  const what = filled ? (S.holes.count ? "everything filled plus the painted mask" : "everything filled so far") : "the painted mask";
  setStatus(`Saved ${S.stem}-mask.png (${what}; black/white PNG, white = fill).`);
}

// ------------------------------------------------------------------------------------------------ events
function onPointerDown(e) {
  if (e.target.closest("#busy")) return; // the Cancel button sits on the canvas
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
      return;
    }
    if (S.pointers.size > 2 || S.pinch) return;
  }
  if (S.stroke || S.rect || S.pan) return;
  if (e.button === 1 || (e.button === 0 && (S.spaceDown || S.tool === "pan"))) {
    S.pan = { x: e.clientX, y: e.clientY, panX: S.panX, panY: S.panY };
    el.viewport.classList.add("panning");
  } else if (e.button === 0 && (S.tool === "brush" || S.tool === "eraser")) {
    mask.startStroke(view.toImage(e), S.tool === "eraser");
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

function onPointerUp(e) {
  S.pointers.delete(e.pointerId);
  if (S.pinch) {
    if (!S.pointers.size) S.pinch = null; // the gesture ends when the last finger lifts
    return;
  }
  if (S.pan) {
    S.pan = null;
    el.viewport.classList.remove("panning");
  }
  if (S.stroke) commit(mask.endStroke());
  if (S.rect) commit(mask.endRect());
}

function onKey(e) {
  if (e.target.closest && e.target.closest("select, textarea, input[type=text], input[type=number]")) return;
  if (el.help.open) {
    if (e.key === "?") el.help.close();
    return; // the dialog closes itself on Escape
  }
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (e.ctrlKey || e.metaKey) {
    const actions = { z: () => (e.shiftKey ? redo() : undo()), y: redo, s: () => (e.shiftKey ? downloadMask() : downloadResult()), o: () => el.file.click() };
    if (actions[key]) {
      e.preventDefault();
      actions[key]();
    }
    return;
  }
  if (e.altKey) return;
  const onButton = e.target.closest && e.target.closest("button");
  const image = (f) => () => S.image && f();
  const actions = {
    b: () => view.setTool("brush"),
    e: () => view.setTool("eraser"),
    r: () => view.setTool("rect"),
    h: () => view.setTool("pan"),
    "[": () => view.setSize(S.size - Math.max(1, S.size * 0.15)),
    "]": () => view.setSize(S.size + Math.max(1, S.size * 0.15)),
    f: fill,
    Enter: () => !onButton && fill(),
    c: image(() => setComparing(true)),
    " ": () => { S.spaceDown = true; el.viewport.classList.add("panning-ready"); view.updateCursor(); },
    0: image(view.fitView),
    1: image(() => view.zoomCentre(1 / S.zoom)),
    "+": image(() => view.zoomCentre(1.25)),
    "=": image(() => view.zoomCentre(1.25)),
    "-": image(() => view.zoomCentre(0.8)),
    x: () => el.stage.classList.toggle("mask-hidden"),
    o: () => el.file.click(),
    "?": () => el.help.showModal(),
    Escape: () => (S.rect ? mask.endRect(true) : S.busy && api.cancel()),
  };
  if (actions[key]) {
    e.preventDefault();
    if (!e.repeat || "[]+-=".includes(key)) actions[key]();
  }
}

function setComparing(on) {
  if (S.comparing === on) return;
  S.comparing = on;
  view.updateCompare();
  if (on && S.image === S.original) setStatus("Nothing to compare yet: fill first.");
}

function onKeyUp(e) {
  if (e.key === "c" || e.key === "C") setComparing(false);
  if (e.key === " ") {
    S.spaceDown = false;
    el.viewport.classList.remove("panning-ready");
    view.updateCursor();
  }
}

function openFrom(input, use) {
  input.addEventListener("change", () => {
    const f = input.files[0];
    if (f) use(f, f.name);
    input.value = "";
  });
}

function wireButtons() {
  el.open.addEventListener("click", () => el.file.click());
  openFrom(el.file, openImage);
  el.uploadMask.addEventListener("click", () => el.maskFile.click());
  openFrom(el.maskFile, loadMask);
  for (const b of document.querySelectorAll("[data-tool]")) b.addEventListener("click", () => view.setTool(b.dataset.tool));
  el.size.addEventListener("input", () => view.setSize(Number(el.size.value)));
  for (const input of [el.opacity, el.lossless]) input.addEventListener("input", updateUi);
  for (const input of [el.strategy, el.detail, el.grow, el.feather]) input.addEventListener("input", () => afterChange());
  el.undo.addEventListener("click", undo);
  el.redo.addEventListener("click", redo);
  el.clear.addEventListener("click", clearMask);
  el.fill.addEventListener("click", fill);
  el.cancel.addEventListener("click", api.cancel);
  el.compare.addEventListener("input", view.updateCompare);
  el.download.addEventListener("click", downloadResult);
  el.downloadMask.addEventListener("click", downloadMask);
  el.helpButton.addEventListener("click", () => el.help.showModal());
  el.panelToggle.addEventListener("click", () => document.body.classList.toggle("panel-open"));
  // Buttons give focus back to the canvas so Space pans instead of pressing the last clicked button.
  for (const b of document.querySelectorAll(".toolbar button")) b.addEventListener("click", () => el.viewport.focus());
}

function wireCanvas() {
  el.viewport.addEventListener("pointerdown", onPointerDown);
  el.viewport.addEventListener("pointermove", onPointerMove);
  el.viewport.addEventListener("pointerup", onPointerUp);
  el.viewport.addEventListener("pointercancel", onPointerUp);
  el.viewport.addEventListener("pointerleave", () => { S.cursorAt = null; view.updateCursor(); });
  el.viewport.addEventListener("wheel", (e) => {
    if (!S.image) return;
    e.preventDefault();
    const p = view.local(e);
    const lines = e.deltaMode === 1 ? 33 : 1; // Firefox reports lines
    view.zoomAt(Math.exp(-e.deltaY * lines * 0.0015), p.x, p.y);
  }, { passive: false });
  window.addEventListener("resize", () => S.image && view.fitView());
}

function wireWindow() {
  window.addEventListener("keydown", onKey);
  window.addEventListener("keyup", onKeyUp);
  window.addEventListener("blur", () => {
    setComparing(false);
    S.spaceDown = false;
    el.viewport.classList.remove("panning-ready");
  });
  // Open by drag-and-drop (anywhere on the page) or paste.
  window.addEventListener("dragover", (e) => { e.preventDefault(); el.viewport.classList.add("dragover"); });
  window.addEventListener("dragleave", (e) => { if (!e.relatedTarget) el.viewport.classList.remove("dragover"); });
  window.addEventListener("drop", (e) => {
    e.preventDefault();
    el.viewport.classList.remove("dragover");
    const f = e.dataTransfer && e.dataTransfer.files[0];
    if (f) openImage(f, f.name);
  });
  window.addEventListener("paste", (e) => {
    const items = e.clipboardData ? [...e.clipboardData.items] : [];
    const item = items.find((i) => i.kind === "file" && i.type.startsWith("image/"));
    if (!item) return;
    e.preventDefault();
    const f = item.getAsFile();
    openImage(f, f.name && f.name !== "image.png" ? f.name : `pasted.${item.type.split("/")[1] || "png"}`);
  });
  window.addEventListener("beforeunload", (e) => { if (!S.saved) e.preventDefault(); });
}

wireButtons();
wireCanvas();
wireWindow();
view.setTool("brush");
view.setSize(40);
updateUi();
loadHealth();
