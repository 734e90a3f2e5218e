// The settings panel and the buttons: option bounds from the server, the status line, busy and progress.
import { optionFields } from "./options.js";
import { S, el } from "./state.js";

const LARGE_HOLE_DEPTH = 0.25; // of the training size, at processing scale: a hole half as wide as it
const LARGE_COVERAGE = 0.4;

export function setStatus(text, kind = "") {
  el.status.textContent = text;
  el.status.className = kind;
}

/** Everything a fill sends besides the image and the mask: the fill options, the output format, explain. */
export function fillFields() {
  return {
    ...optionFields(),
    output: el.lossless.checked && !el.losslessRow.hidden ? "png" : "same",
    explain: el.explain.checked ? "true" : null,
  };
}

export function setBusy(on) {
  S.busy = on;
  document.body.dataset.busy = String(on);
  el.busy.hidden = !on;
  clearInterval(S.busyTimer);
  el.progress.removeAttribute("value");
  if (on) {
    const t0 = performance.now();
    S.busyNote = "";
    S.busyTimer = setInterval(() => {
      const seconds = ((performance.now() - t0) / 1000).toFixed(1);
      el.busyText.textContent = `${S.busyNote || "Filling…"} ${seconds} s`;
    }, 100);
  }
  updateUi();
}

/** The server's progress of the running fill: windows done out of total. */
export function showProgress({ state, done, total }) {
  if (!S.busy || !total) return;
  el.progress.max = total;
  el.progress.value = done;
  S.busyNote = state === "queued" ? "Waiting for the model…" : `Filling: window ${Math.min(done + 1, total)} of ${total}…`;
  document.body.dataset.progress = `${done}/${total}`;
}

/** How the model will see the holes: the server's plan (S.plan), applied to the page's hole analysis. */
function processingPlan() {
  const server = S.plan;
  const asked = optionFields();
  const T = server ? server.trained_size : (S.health && S.health.model.training.image_size) || 256;
  const own = S.health && S.health.model.contract ? S.health.model.contract.process_size : 512;
  const P = server ? server.process_size : Number(asked.process_size) || own;
  const plan = { strategy: server && server.strategy !== "none" ? server.strategy : asked.strategy, P, T, scale: 1, depth: 0 };
  const windows = server ? server.windows : [];
  let widest = 0;
  for (const b of S.holes.boxes) {
    const w = windows.find((v) => v.left <= b.x && v.top <= b.y && v.left + v.width >= b.x + b.w && v.top + v.height >= b.y + b.h);
    const scale = w ? w.scaled_width / w.width : 1;
    const side = Math.max(b.w, b.h);
    if (side * scale > widest) { widest = side * scale; plan.scale = scale; }
    plan.depth = Math.max(plan.depth, b.depth * scale);
  }
  plan.windows = windows.length;
  return plan;
}

/** The warnings for the current mask, most important first; shown over the canvas, so always in view. */
function warnings(plan, pct) {
  if (S.holes.count && S.holes.count >= S.W * S.H) {
    return ["The mask covers the whole image: nothing is left to fill from. Erase part of it (or Clear) first."];
  }
  if (S.planError) return [`The server would refuse this fill: ${S.planError}`];
  const out = [];
  // Depth, not the box, decides: a long thin stroke has a large box but every pixel is near known context.
  // Training holes were at most about half the training size wide, i.e. a depth of a quarter of it.
  if (Number.isFinite(plan.depth) && plan.depth > LARGE_HOLE_DEPTH * plan.T) {
    const wide = Math.min(Math.round(2 * plan.depth), Math.round(Math.max(S.W, S.H) * plan.scale));
    const smaller = `fill it in smaller pieces${plan.strategy !== "original" ? ", or lower the processing size (Advanced)" : ""}.`;
    // At full detail the network does not run: the fill is patches of the photo, whose failure is not blur.
    if (Number(optionFields().detail) >= 1) {
      out.push(`Large hole: about ${wide} px across as the model sees it. The fill copies patches of the photo ` +
        `into it; across a hole this large it may break structures that cross it or repeat what it copies: ${smaller}`);
    } else {
      out.push(`Large hole: about ${wide} px across as the model sees it, which was trained on ${plan.T} px ` +
        `images with holes up to about ${Math.round(plan.T / 2)} px. Expect a blurry fill: ${smaller}`);
    }
  }
  if (pct > 100 * LARGE_COVERAGE) out.push(`The mask covers ${pct.toFixed(0)}% of the image: little context is left to fill from.`);
  return out;
}

export function updatePanel() {
  el.mask.style.opacity = Number(el.opacity.value) / 100;
  el.opacityOut.textContent = `${el.opacity.value}%`;
  if (!S.image) return;
  el.factSize.textContent = `${S.W}×${S.H} (${(S.W * S.H / 1e6).toFixed(1)} MP)`;
  const pct = (100 * S.holes.count) / (S.W * S.H);
  const parts = S.holes.boxes.length;
  el.factHole.textContent = S.holes.count
    ? `${pct < 0.1 ? pct.toFixed(2) : pct.toFixed(1)}% · ${parts} part${parts > 1 ? "s" : ""}`
    : "none yet";
  el.factExact.textContent = S.facts ? S.facts.exact : "—";
  el.losslessRow.hidden = !S.facts || S.facts.lossless;
  const plan = processingPlan();
  const how = {
    original: "the whole image at full size",
    resize: `the whole image scaled to ${plan.P} px`,
    crop: `a window around each hole, scaled to ≤ ${plan.P} px`,
  }[plan.strategy];
  if (!S.plan) {
    const auto = "the server picks original or crop by the image's size";
    el.strategyHint.textContent = S.holes.count ? "→ asking the server for its plan…" : `→ ${how || auto}.`;
  } else {
    el.strategyHint.textContent = !how ? "" : `→ ${plan.strategy}: the model sees ${how}` +
      (S.holes.count ? ` (${plan.windows} window${plan.windows > 1 ? "s" : ""}, holes at ` +
        `${Math.round(plan.scale * 100)}% scale).` : ".");
  }
  const list = warnings(plan, pct);
  el.warning.hidden = !list.length;
  el.warning.textContent = list.join(" ");
}

export function updateUi() {
  const has = Boolean(S.image);
  const filled = S.undo.some((e) => e.kind === "image");
  el.undo.disabled = !S.undo.length;
  el.redo.disabled = !S.redo.length;
  el.clear.disabled = !S.holes.count;
  el.fill.disabled = !has || S.busy; // an empty mask says why on Fill, instead of a mute disabled button
  el.download.disabled = !has || S.image === S.original;
  el.downloadMask.disabled = !has || (!S.holes.count && !filled);
  el.uploadMask.disabled = !has;
  el.compare.disabled = !has || S.image === S.original;
  document.body.dataset.undo = String(S.undo.length);
  document.body.dataset.fills = String(S.fills);
  document.body.dataset.saved = String(S.saved);
  updatePanel();
}
