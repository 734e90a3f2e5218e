// The page's state, declared in one place: every module reads and writes these fields and nothing else.
// The mask is kept at the image's full resolution twice:
//   S.bits   Uint8Array(W*H), 0 or 255 (255 = hole): the committed mask, what is sent and saved;
//   #mask    a W x H canvas showing S.bits in MASK_RGB, plus the stroke being drawn.
// Images are {blob, url}: `blob` is exactly the file opened or the file the server sent (what is uploaded
// and saved), `url` what the page shows (the blob itself, or a PNG preview from the server for TIFF).

export const MASK_RGB = [255, 45, 111]; // --mask in painter.css
export const HISTORY_BYTES = 512 * 2 ** 20; // undo memory budget; the oldest entries go first

const $ = (id) => document.getElementById(id);
export const el = Object.fromEntries(
  [
    "toolbar", "viewport", "stage", "work", "before", "layer", "halo", "mask", "split", "rect-preview", "cursor",
    "empty", "busy", "busy-text", "progress", "cancel", "status", "help", "file", "mask-file", "open", "upload-mask",
    "size", "size-out", "opacity", "opacity-out", "undo", "redo", "clear", "fill", "autofill", "compare", "download",
    "download-mask", "help-button", "more-button", "more-menu", "panel", "panel-toggle", "options",
    "options-advanced", "advanced", "strategy-hint", "fact-size", "fact-hole", "fact-zoom", "fact-exact", "lossless",
    "lossless-row", "warning", "model", "model-select", "model-download", "model-get", "model-progress", "explain",
    "explain-hint", "explain-bar", "explain-close", "stage-stepper", "stage-prev", "stage-name", "stage-next", "layer-about",
  ].map((id) => [id.replace(/-(\w)/g, (_, c) => c.toUpperCase()), $(id)]),
);
export const ctx = el.mask.getContext("2d", { willReadFrequently: true });

export const S = {
  health: null, // GET /api/v1/health: model, fill options with their bounds, limits
  facts: null, // POST /api/v1/check of the opened image: format, size, what is exact
  plan: null, // POST /api/v1/plan of the current mask and options: the server's strategy and windows
  planAsked: 0, planTimer: 0,
  planError: "", // the server's refusal of the current mask and options (e.g. it covers the whole image)
  controls: {}, // fill option name -> {input, read()} built from the health "options" (js/options.js)
  fileName: "image.png", stem: "image", ext: "png",
  W: 0, H: 0,
  original: null, // {blob, url} as opened
  image: null, // {blob, url} now shown and sent
  bits: null,
  holes: { count: 0, boxes: [] },
  tool: "brush", size: 40,
  zoom: 1, panX: 0, panY: 0,
  fitted: true, viewSize: { width: 0, height: 0 }, // fitted to the canvas, and the canvas size the view is for
  undo: [], redo: [], // entries {kind: "mask" | "image", label, bytes, ...what they changed}
  busy: false, pendingFill: false, session: 0, fills: 0, saved: true,
  job: null, // the running fill: {id, abort: AbortController, done, total, cancelled}
  busyNote: "", busyTimer: 0,
  stroke: null, rect: null, pan: null, spaceDown: false, comparing: false, cursorAt: null,
  pointers: new Map(), // touch pointers down: id -> {x, y}
  pinch: null, // two-finger gesture: {dist, mid, zoom, panX, panY}
  hint: null, // smart select's stroke being drawn: {x0, y0, x1, y1, last}
  explanation: null, // the last fill's "how it was filled": {job, stages, layers} from the server
  layer: "stages", stageIndex: 0, // what the explain bar shows
  models: null, // GET /api/v1/models, when the server lists models
};
