// gmcnn painter: paint over what should go, press Fill, keep painting on the result.
// Plain browser ES modules, no framework, no build step, no network but this server. This module holds the
// page's actions (open, fill, smart select, undo, save) and wires the others: state (the one state object),
// options (controls from the server's schema), mask, halo, history, files, view, input, toolbar, explain, models,
// api and panel.
import * as api from "./api.js";
import * as explain from "./explain.js";
import { drawHalo, resetHalo } from "./halo.js";
import { displayable, downloadMask, downloadResult, stemOf } from "./files.js";
import { pushHistory, redo as redoEntry, releaseAll, undo as undoEntry } from "./history.js";
import { wireInput } from "./input.js";
import * as mask from "./mask.js";
import { loadModels, wireModels } from "./models.js";
import { boundByImage, buildControls, describeAuto, optionFields } from "./options.js";
import { fillFields, setBusy, setStatus, showProgress, updateUi } from "./panel.js";
import { S, el } from "./state.js";
import { layoutToolbar, wireToolbar } from "./toolbar.js";
import * as view from "./view.js";

// Until /api/v1/health answers (then its "messages" say it, in the CLI's and the API's words).
const EMPTY_MASK = "the mask is empty: there is nothing to fill; paint over the part that should go (white in a mask file)";

async function loadHealth() {
  try {
    S.health = await api.health();
    const m = S.health.model;
    const t = m.training || {};
    el.model.textContent = `${m.name}${m.cnum ? ` · cnum ${m.cnum}` : ""} · trained on ${t.image_size} px images` +
      `${t.mask_type ? `, ${t.mask_type} holes` : ""} · fills at ${m.contract.process_size} px`;
    if (!Object.keys(S.controls).length) buildControls(S.health.options, () => afterChange());
    describeAuto();
    if (S.image) boundByImage(S.W, S.H);
    const select = S.health.features && S.health.features.select;
    const tool = document.querySelector("[data-tool=select]");
    tool.disabled = Boolean(select && !select.available);
    if (tool.disabled) tool.title = `Smart select is off: ${select.missing}`;
  } catch (err) {
    el.model.textContent = `server not reachable: ${err.message}`;
  }
  updateUi();
}

const emptyMaskMessage = () => (S.health && S.health.messages ? S.health.messages.empty_mask : EMPTY_MASK);
/** A header the server percent-encoded beyond printable ASCII (a model name may hold any character). */
function decodeHeader(value) {
  try {
    return value && decodeURIComponent(value);
  } catch {
    return value;
  }
}
const sentence = (text) => text.charAt(0).toUpperCase() + text.slice(1) + (text.endsWith(".") ? "" : ".");

function afterChange(message) {
  mask.analyseHoles();
  const o = optionFields();
  drawHalo([Number(o.grow) || 0, Number(o.feather) || 0]); // what the fill changes beyond the paint
  updateUi();
  if (message) setStatus(message);
  askPlan();
}

/** Ask the server how it would fill the current mask (debounced; a stale answer is dropped). */
function askPlan() {
  clearTimeout(S.planTimer);
  if (!S.image || !S.holes.count) {
    S.plan = null;
    S.planError = "";
    updateUi();
    return;
  }
  const asked = (S.planAsked += 1);
  S.planTimer = setTimeout(async () => {
    try {
      const answer = await api.plan(await mask.encodeMaskPng(S.bits, S.W, S.H), optionFields());
      if (asked === S.planAsked) [S.plan, S.planError] = [answer, ""];
    } catch (err) {
      // A 422 is the server refusing this mask or these options (it would refuse the fill too): say so now.
      if (asked === S.planAsked) [S.plan, S.planError] = [null, err.status === 422 ? err.message : ""];
    }
    updateUi();
  }, 250);
}

// ------------------------------------------------------------------------------------------------ images
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
  startSession(name, facts, image);
}

function startSession(name, facts, image) {
  releaseAll();
  explain.reset();
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
  resetHalo(W, H);
  el.before.src = image.url;
  el.stage.style.width = `${W}px`;
  el.stage.style.height = `${H}px`;
  el.stage.hidden = false;
  el.empty.hidden = true;
  el.viewport.classList.add("ready");
  el.compare.value = 0;
  boundByImage(W, H);
  view.fitView();
  el.size.max = Math.max(400, Math.round(Math.max(W, H) / 6));
  // A stroke about 1/30 of the image (a typical object to remove), and never thinner than a fingertip.
  view.setSize(Math.max(4, Math.round(Math.max(W, H) / 30), Math.round(24 / S.zoom)));
  afterChange(`Opened ${name} (${W}×${H}, ${facts.exact}). Paint over what should go, then Fill.`);
}

// ------------------------------------------------------------------------------------------------ edits
function commit(entry) {
  if (!entry) {
    afterChange();
    return;
  }
  pushHistory({ kind: "mask", ...entry });
  afterChange();
  if (el.autofill.checked && !S.spaceDown) fill();
}

/** Smart select: snap the stroke (or tap) to the object's outline on the server, and add it to the mask. */
async function smartSelect(hint) {
  const session = S.session, image = S.image;
  setStatus("Finding the object's outline…");
  document.body.dataset.selecting = "true";
  try {
    const answer = await api.select(image.blob, S.fileName, await mask.encodeMaskPng(hint, S.W, S.H));
    if (session !== S.session || image !== S.image) return;
    const found = await mask.readMaskPng(answer.blob);
    const entry = mask.addSelection(found.bits);
    commit(entry);
    setStatus(answer.snapped ? `Selected the object (${entry ? "added to the mask" : "already in the mask"}); ` +
      "the ring around it is what Grow mask adds." : "No outline found there: the stroke itself was added.");
  } catch (err) {
    afterChange();
    setStatus(`Smart select failed: ${err.message}`, "error");
  } finally {
    document.body.dataset.selecting = "false";
  }
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
  if (e && e.kind === "image") explain.reset();
  if (e) afterChange(`Undid ${e.label}.`);
}

function redo() {
  const e = redoEntry(showImage);
  if (e && e.kind === "image") explain.reset();
  if (e) afterChange(`Redid ${e.label}.`);
}

// ------------------------------------------------------------------------------------------------ fill
/** Why this mask cannot be filled, said before anything is sent; "" when it can. */
function refusal() {
  if (!S.holes.count) return sentence(emptyMaskMessage());
  if (S.holes.count >= S.W * S.H) return "The mask covers the whole image: nothing is left to fill from. Erase part of it first.";
  return "";
}

async function fill() {
  if (!S.image) return;
  if (S.busy) {
    S.pendingFill = true;
    return;
  }
  const why = refusal();
  if (why) {
    setStatus(why, "error");
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
    const h = answer.headers;
    const model = decodeHeader(h.get("X-Gmcnn-Model")) || "?";
    document.body.dataset.filledBy = model;
    const took = h.get("X-Gmcnn-Seconds");
    afterChange(`Filled by model ${model} in ${((performance.now() - t0) / 1000).toFixed(1)} s (strategy ` +
      `${h.get("X-Gmcnn-Strategy")}${took ? `, fill ${Number(took).toFixed(1)} s` : ""}). Keep painting to fix more; Ctrl+Z undoes.`);
    explain.reset();
    if (h.get("X-Gmcnn-Job") && h.get("X-Gmcnn-Explained") === "true") await explain.load(h.get("X-Gmcnn-Job"));
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

function setComparing(on) {
  if (S.comparing === on) return;
  S.comparing = on;
  view.updateCompare();
  if (on && S.image === S.original) setStatus("Nothing to compare yet: fill first.");
}

// ------------------------------------------------------------------------------------------------ wiring
function openFrom(input, use) {
  input.addEventListener("change", () => {
    const f = input.files[0];
    if (f) use(f, f.name);
    input.value = "";
  });
}

function togglePanel() {
  const open = document.body.classList.toggle("panel-open");
  el.panelToggle.setAttribute("aria-expanded", String(open));
}

function wireButtons() {
  el.open.addEventListener("click", () => el.file.click());
  openFrom(el.file, openImage);
  el.uploadMask.addEventListener("click", () => el.maskFile.click());
  openFrom(el.maskFile, loadMask);
  for (const b of document.querySelectorAll("[data-tool]")) b.addEventListener("click", () => view.setTool(b.dataset.tool));
  el.size.addEventListener("input", () => view.setSize(Number(el.size.value)));
  for (const input of [el.opacity, el.lossless]) input.addEventListener("input", updateUi);
  el.explain.addEventListener("change", () => {
    if (!el.explain.checked) explain.reset();
    else setStatus("The next fill will show how it was filled, over the image.");
  });
  el.undo.addEventListener("click", undo);
  el.redo.addEventListener("click", redo);
  el.clear.addEventListener("click", clearMask);
  el.fill.addEventListener("click", fill);
  el.cancel.addEventListener("click", api.cancel);
  el.compare.addEventListener("input", view.updateCompare);
  el.download.addEventListener("click", downloadResult);
  el.downloadMask.addEventListener("click", downloadMask);
  el.helpButton.addEventListener("click", () => el.help.showModal());
  el.panelToggle.addEventListener("click", togglePanel);
  // Buttons give focus back to the canvas so Space pans instead of pressing the last clicked button.
  for (const b of document.querySelectorAll(".toolbar button")) b.addEventListener("click", () => el.viewport.focus());
}

function wireWindow() {
  // The canvas changes size with the window, and when the settings sheet opens or closes below it.
  new ResizeObserver(view.resized).observe(el.viewport);
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
wireInput({
  commit, select: smartSelect, changed: () => afterChange(), fill, undo, redo, save: downloadResult,
  saveMask: downloadMask, compare: setComparing, step: explain.step,
});
wireWindow();
wireToolbar();
explain.wireExplain();
wireModels({ onSwitched: loadHealth, setStatus });
view.setTool("brush");
view.setSize(40);
updateUi();
loadHealth().then(layoutToolbar);
loadModels();
