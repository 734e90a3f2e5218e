// The server's API as the page uses it: health, checking an image at open, previews, fills with progress.
import { S } from "./state.js";

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function failure(res) {
  try {
    const data = await res.json();
    return new ApiError(`${data.error || res.statusText} (HTTP ${res.status})`, res.status);
  } catch {
    return new ApiError(`HTTP ${res.status} ${res.statusText}`, res.status);
  }
}

async function call(url, init) {
  const res = await fetch(url, init);
  if (!res.ok) throw await failure(res);
  return res;
}

function formOf(fields) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) {
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) form.append(k, v[0], v[1]);
    else form.append(k, String(v));
  }
  return form;
}

export async function health() {
  return (await call("/api/v1/health")).json();
}

/** The server's verdict on an image before any painting: its format and size and what stays exact. */
export async function check(blob, name) {
  return (await call("/api/v1/check", { method: "POST", body: formOf({ image: [blob, name] }) })).json();
}

/** A PNG of an image the browser cannot show (TIFF), decoded by the server. */
export async function preview(blob, name) {
  return (await call("/api/v1/preview", { method: "POST", body: formOf({ image: [blob, name] }) })).blob();
}

/** A random job id; crypto.randomUUID needs a secure context, which http://<LAN address> is not. */
function newJobId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** POST a fill; retries after Retry-After on 503 (busy), a few times. */
async function postFill(fields, job, onNote) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch("/api/v1/inpaint", { method: "POST", body: formOf({ ...fields, job: job.id }), signal: job.abort.signal });
    if (res.ok) return res;
    if (res.status !== 503 || attempt >= 3) throw await failure(res);
    const wait = Math.min(30, Number(res.headers.get("Retry-After")) || 2);
    onNote(`Server busy, retrying in ${wait} s…`);
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    onNote("");
    job.id = newJobId(); // the refused request's id is spent
  }
}

/** Poll the job's progress (windows done / total) until `until` settles. */
async function follow(job, until, onProgress) {
  let settled = false;
  until.finally(() => { settled = true; }).catch(() => {});
  while (!settled) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    if (settled) break;
    try {
      const res = await fetch(`/api/v1/jobs/${job.id}`);
      if (res.ok) onProgress(await res.json());
    } catch {
      // progress is a nicety: the fill's own answer decides
    }
  }
}

/** Run one fill: {blob, headers} of the server's answer. `S.job` holds it while it runs (for cancel). */
export async function fill(fields, { onProgress, onNote }) {
  const job = { id: newJobId(), abort: new AbortController(), cancelled: false };
  S.job = job;
  try {
    const answer = postFill(fields, job, onNote);
    follow(job, answer, onProgress);
    const res = await answer;
    return { blob: await res.blob(), headers: res.headers };
  } catch (err) {
    if (job.cancelled) throw new ApiError("cancelled", 409);
    throw err;
  } finally {
    S.job = null;
  }
}

/** Cancel the running fill: the server stops before its next window, the page stops waiting now. */
export function cancel() {
  const job = S.job;
  if (!job) return;
  job.cancelled = true;
  // Stop waiting once the server knows (or after a second): an aborted upload could not be cancelled.
  const stop = () => job.abort.abort();
  const timer = setTimeout(stop, 1000);
  fetch(`/api/v1/jobs/${job.id}`, { method: "DELETE" }).catch(() => {}).finally(() => { clearTimeout(timer); stop(); });
}

/** The server's reading of a mask file (its rule for colours, alpha and 0/1 masks) as a black/white PNG. */
export async function readMask(blob, name) {
  return (await call("/api/v1/mask", { method: "POST", body: formOf({ mask: [blob, name] }) })).blob();
}

/** The server's plan for a fill of this mask with these fill options: strategy and windows (what the model sees). */
export async function plan(maskBlob, options) {
  return (await call("/api/v1/plan", { method: "POST", body: formOf({ mask: [maskBlob, "mask.png"], ...options }) })).json();
}

/** How a fill sent with explain=true was filled: its stages and layers with their picture URLs. */
export async function explanation(job) {
  return (await call(`/api/v1/jobs/${encodeURIComponent(job)}/explain`)).json();
}

/** Smart select: the object a stroke (white on black, the image's size) marks, as a black/white PNG. */
export async function select(imageBlob, name, strokeBlob) {
  const body = formOf({ image: [imageBlob, name], stroke: [strokeBlob, "stroke.png"] });
  const res = await call("/api/v1/select", { method: "POST", body });
  return { blob: await res.blob(), snapped: res.headers.get("X-Gmcnn-Snapped") === "true" };
}

/** The models the server can fill with (null when it lists none: a server started with one model). */
export async function models() {
  const res = await fetch("/api/v1/models");
  if (res.status === 404) return null;
  if (!res.ok) throw await failure(res);
  return res.json();
}

async function postJson(url, data) {
  const init = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) };
  return (await call(url, init)).json();
}

export const selectModel = (name) => postJson("/api/v1/models/select", { name });
export const downloadModel = (name) => postJson("/api/v1/models/download", { name });
export async function downloadProgress(name) {
  return (await call(`/api/v1/models/download/${encodeURIComponent(name)}`)).json();
}
