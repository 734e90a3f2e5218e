// "How it was filled": the pictures the server kept from a fill sent with explain=true, shown over the image.
// Three layers: the stages (pre-fill -> network -> completion -> composite, stepped through, each with its
// time), the sources (where each part of the fill was copied from) and the confidence; each with one sentence
// from the server saying what it shows. The bar sits over the canvas, so the image stays in view on a phone.
import * as api from "./api.js";
import { S, el } from "./state.js";

/** Fetch the explanation of fill `job` and show it (the stages first, at the last one: the result). */
export async function load(job) {
  const shown = await api.explanation(job);
  S.explanation = shown;
  S.stageIndex = shown.stages.length - 1;
  S.layer = "stages";
  el.explainBar.hidden = false;
  render();
}

/** Forget the explanation (a new image, or the fill it explains was undone). */
export function reset() {
  S.explanation = null;
  el.explainBar.hidden = true;
  el.layer.hidden = true;
  el.layer.removeAttribute("src");
  document.body.dataset.layer = "";
}

function stageLabel(stage, i, n) {
  const seconds = stage.seconds < 0.1 ? `${Math.round(stage.seconds * 1000)} ms` : `${stage.seconds.toFixed(2)} s`;
  return `${i + 1}/${n} ${stage.name} · ${seconds}`;
}

export function render() {
  const x = S.explanation;
  if (!x) return;
  for (const b of el.explainBar.querySelectorAll("[data-layer]")) b.setAttribute("aria-pressed", String(b.dataset.layer === S.layer));
  el.stageStepper.hidden = S.layer !== "stages";
  let picture = null, about = "The result, as it will be saved. Pick a layer to see how it was made.";
  if (S.layer === "stages") {
    const stage = x.stages[S.stageIndex];
    el.stageName.textContent = stageLabel(stage, S.stageIndex, x.stages.length);
    el.stagePrev.disabled = S.stageIndex === 0;
    el.stageNext.disabled = S.stageIndex === x.stages.length - 1;
    picture = stage.url;
    about = stage.about;
  } else if (S.layer) {
    picture = x.layers[S.layer].url;
    about = x.layers[S.layer].about;
  }
  el.layerAbout.textContent = about;
  el.layer.hidden = !picture;
  if (picture && el.layer.getAttribute("src") !== picture) el.layer.src = picture;
  document.body.dataset.layer = S.layer === "stages" ? `stage:${x.stages[S.stageIndex].name}` : S.layer;
}

export function showLayer(name) {
  S.layer = name;
  render();
}

export function step(delta) {
  const x = S.explanation;
  if (!x) return;
  S.layer = "stages";
  S.stageIndex = Math.max(0, Math.min(x.stages.length - 1, S.stageIndex + delta));
  render();
}

export function wireExplain() {
  for (const b of el.explainBar.querySelectorAll("[data-layer]")) b.addEventListener("click", () => showLayer(b.dataset.layer));
  el.explainClose.addEventListener("click", reset);
  el.stagePrev.addEventListener("click", () => step(-1));
  el.stageNext.addEventListener("click", () => step(1));
}
