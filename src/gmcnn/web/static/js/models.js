// The model picker: the models the server offers (GET /api/v1/models), switching between them, and downloading
// an official release that is not there yet, with progress. A server without a models folder offers only the
// model it serves (and the embedded one): with fewer than two the picker stays hidden.
import * as api from "./api.js";
import { S, el } from "./state.js";

const POLL_MS = 400;

function sizeText(bytes) {
  if (!bytes) return "";
  return bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(0)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

function entry(name) {
  return S.models && S.models.models.find((m) => m.name === name);
}

function render() {
  const list = S.models;
  // Offered: what is here or can be fetched (a server without a models folder offers only what it serves).
  const offered = list ? list.models.filter((m) => m.available || m.downloadable || m.name === list.current) : [];
  el.modelSelect.hidden = offered.length < 2;
  if (!list) return;
  el.modelSelect.replaceChildren(...offered.map((m) => {
    const option = document.createElement("option");
    option.value = m.name;
    const note = m.available ? "" : ` — download${m.size ? `, ${sizeText(m.size)}` : ""}`;
    option.textContent = `${m.name}${note}`;
    option.title = m.description || "";
    return option;
  }));
  el.modelSelect.value = list.current;
  el.modelSelect.disabled = S.busy;
  document.body.dataset.model = list.current;
  showDownload(entry(el.modelSelect.value));
}

function showDownload(m) {
  const offer = Boolean(m && !m.available && m.downloadable);
  el.modelDownload.hidden = !offer;
  if (offer) el.modelGet.textContent = `Download ${m.name}${m.size ? ` (${sizeText(m.size)})` : ""}`;
}

/** Ask the server for its models (once at start, and after a switch or a download). */
export async function loadModels() {
  try {
    S.models = await api.models();
  } catch (err) {
    S.models = null;
    el.model.textContent = `cannot list the models: ${err.message}`;
  }
  render();
}

async function choose(name, { onSwitched, setStatus }) {
  const m = entry(name);
  if (!m || name === S.models.current) return;
  if (!m.available) {
    showDownload(m);
    setStatus(m.downloadable ? `${name} is not here yet: Download fetches it from the authors' published link.`
      : `${name} is not in the models folder and cannot be downloaded.`, m.downloadable ? "" : "error");
    return;
  }
  el.modelSelect.disabled = true;
  setStatus(`Loading ${name}…`);
  try {
    await api.selectModel(name);
    await loadModels();
    await onSwitched();
    setStatus(`Now filling with ${name}.`);
  } catch (err) {
    setStatus(`Cannot switch to ${name}: ${err.message}`, "error");
    render();
  }
}

async function download(callbacks) {
  const name = el.modelSelect.value;
  el.modelGet.disabled = true;
  el.modelProgress.hidden = false;
  el.modelProgress.removeAttribute("value");
  try {
    await api.downloadModel(name);
    for (;;) {
      const p = await api.downloadProgress(name);
      if (p.total) {
        el.modelProgress.max = p.total;
        el.modelProgress.value = p.done;
      }
      callbacks.setStatus(`Downloading ${name}: ${sizeText(p.done) || "starting"}${p.total ? ` of ${sizeText(p.total)}` : ""}…`);
      if (p.state === "done") break;
      if (p.state === "failed") throw new Error(p.error || "the download failed");
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    await loadModels();
    el.modelSelect.value = name;
    await choose(name, callbacks);
  } catch (err) {
    callbacks.setStatus(`Download of ${name} failed: ${err.message}`, "error");
  } finally {
    el.modelGet.disabled = false;
    el.modelProgress.hidden = true;
  }
}

/** callbacks: onSwitched() reloads what depends on the model (health, options); setStatus(text, kind). */
export function wireModels(callbacks) {
  el.modelSelect.addEventListener("change", () => choose(el.modelSelect.value, callbacks));
  el.modelGet.addEventListener("click", () => download(callbacks));
}
