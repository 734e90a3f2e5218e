/* gmcnn painter: paint over what should go, press Fill, keep painting on the result.
 *
 * Plain browser JavaScript, no framework, no build step, no network but this server.
 *
 * State in one object `S`. The mask is kept at the image's full resolution twice:
 *   S.bits   Uint8Array(W*H), 0 or 255 (255 = hole): the committed mask, what is sent and saved;
 *   #mask    a W x H canvas showing S.bits in MASK_RGB, plus the stroke being drawn.
 * A stroke is drawn on the canvas, then its bounding box is read back, binarised into S.bits and redrawn,
 * so what you see is exactly what is sent (no soft anti-aliased edge).
 * Images are Blobs shown through <img> (the browser decodes and scales them; a 12 MP photo costs no JS
 * memory), and the Blob of a fill result is exactly the file the server sent: "Save result" writes it
 * unchanged, in the input's format.
 * Undo/redo: every action pushes one entry {kind: "mask" | "image", ...} holding what it changed.
 */
"use strict";

(() => {
  const MASK_RGB = [255, 45, 111]; // --mask in painter.css
  const DETAIL_STEPS = [null, 256, 384, 512, 768, 1024, 1536, 2048]; // null = the server's default
  const HISTORY_BYTES = 512 * 2 ** 20; // undo memory budget; the oldest entries go first
  // The crop strategy's window around a hole (gmcnn.inpainting.windows): margin 0.5 x the hole's longer
  // side, at least 32 px, at least the training size. Mirrored here only to estimate the processing scale.
  const CROP_MARGIN = 0.5;
  const CROP_MIN_MARGIN = 32;
  const LARGE_HOLE_DEPTH = 0.25; // of the training size, at processing scale: a hole half as wide as it
  const LARGE_COVERAGE = 0.4;

  const $ = (id) => document.getElementById(id);
  const el = {
    viewport: $("viewport"), stage: $("stage"), work: $("work"), before: $("before"), mask: $("mask"),
    split: $("split"), rectPreview: $("rect-preview"), cursor: $("cursor"), empty: $("empty"),
    busy: $("busy"), busyText: $("busy-text"), status: $("status"), help: $("help"),
    file: $("file"), maskFile: $("mask-file"), open: $("open"), uploadMask: $("upload-mask"),
    size: $("size"), sizeOut: $("size-out"), opacity: $("opacity"), opacityOut: $("opacity-out"),
    undo: $("undo"), redo: $("redo"), clear: $("clear"), fill: $("fill"), autofill: $("autofill"),
    compare: $("compare"), download: $("download"), downloadMask: $("download-mask"), helpButton: $("help-button"),
    strategy: $("strategy"), strategyHint: $("strategy-hint"), detail: $("detail"), detailOut: $("detail-out"),
    grow: $("grow"), growOut: $("grow-out"), feather: $("feather"), featherOut: $("feather-out"),
    factSize: $("fact-size"), factHole: $("fact-hole"), factZoom: $("fact-zoom"), warning: $("warning"),
    model: $("model"),
  };
  const ctx = el.mask.getContext("2d", { willReadFrequently: true });

  const S = {
    health: null,
    fileName: "image.png", stem: "image", ext: "png",
    W: 0, H: 0,
    original: null, // {blob, url} as opened
    image: null, // {blob, url} now shown and sent
    bits: null,
    holes: { count: 0, boxes: [] },
    tool: "brush", size: 40,
    zoom: 1, panX: 0, panY: 0,
    undo: [], redo: [],
    busy: false, pendingFill: false, session: 0, fills: 0, saved: true,
    stroke: null, rect: null, pan: null, spaceDown: false, comparing: false,
  };

  // ------------------------------------------------------------------------------------------ status
  function setStatus(text, kind = "") {
    el.status.textContent = text;
    el.status.className = kind;
  }

  async function errorMessage(res) {
    try {
      const data = await res.json();
      return `${data.error || res.statusText} (HTTP ${res.status})`;
    } catch {
      return `HTTP ${res.status} ${res.statusText}`;
    }
  }

  async function loadHealth() {
    try {
      const res = await fetch("/api/v1/health");
      if (!res.ok) throw new Error(await errorMessage(res));
      S.health = await res.json();
      const m = S.health.model;
      const t = m.training || {};
      el.model.textContent = `${m.name}${m.cnum ? ` · cnum ${m.cnum}` : ""} · trained on ${t.image_size} px images` +
        `${t.mask_type ? `, ${t.mask_type} holes` : ""}`;
      el.grow.max = Math.min(128, S.health.limits.grow);
      el.feather.max = Math.min(64, S.health.limits.feather);
    } catch (err) {
      el.model.textContent = `server not reachable: ${err.message}`;
    }
    updatePanel();
  }

  // ------------------------------------------------------------------------------------------ image
  function stemOf(name) {
    const dot = name.lastIndexOf(".");
    return dot > 0 ? [name.slice(0, dot), name.slice(dot + 1)] : [name || "image", ""];
  }

  async function openImage(file, name) {
    if (!file) return;
    if (S.busy) {
      setStatus("Wait for the fill to finish before opening another image.", "error");
      return;
    }
    const url = URL.createObjectURL(file);
    const probe = new Image();
    probe.src = url;
    try {
      await probe.decode();
    } catch {
      URL.revokeObjectURL(url);
      setStatus(`Cannot open ${name}: this browser cannot show it (use PNG, JPEG or WEBP).`, "error");
      return;
    }
    const W = probe.naturalWidth, H = probe.naturalHeight;
    const limits = S.health && S.health.limits;
    if (limits && W * H > limits.max_pixels) {
      URL.revokeObjectURL(url);
      setStatus(`${name} is ${W}×${H} = ${(W * H / 1e6).toFixed(1)} MP; this server accepts up to ` +
        `${(limits.max_pixels / 1e6).toFixed(0)} MP.`, "error");
      return;
    }
    releaseAll();
    S.session += 1;
    S.fileName = name;
    [S.stem, S.ext] = stemOf(name);
    S.W = W;
    S.H = H;
    S.original = S.image = { blob: file, url };
    S.bits = new Uint8Array(W * H);
    S.undo = [];
    S.redo = [];
    S.fills = 0;
    S.saved = true;
    el.mask.width = W; // also clears it
    el.mask.height = H;
    el.work.src = url;
    el.before.src = url;
    el.stage.style.width = `${W}px`;
    el.stage.style.height = `${H}px`;
    el.stage.hidden = false;
    el.empty.hidden = true;
    el.viewport.classList.add("ready");
    el.size.max = Math.max(400, Math.round(Math.max(W, H) / 6));
    setSize(Math.max(4, Math.round(Math.max(W, H) / 60)));
    el.compare.value = 0;
    fitView();
    analyseHoles();
    updateUi();
    let note = "";
    if (limits && file.size > limits.max_upload_bytes) {
      note = ` Warning: the file is ${(file.size / 2 ** 20).toFixed(0)} MiB, over the server's upload limit.`;
    }
    setStatus(`Opened ${name} (${W}×${H}). Paint over what should go, then Fill.${note}`, note ? "error" : "");
  }

  function setImage(state) {
    S.image = state;
    el.work.src = state.url;
    updateCompare();
  }

  /** Revoke the object URLs of the images in `dropped` history entries that nothing still shown or kept uses. */
  function releaseDropped(dropped) {
    const live = new Set([S.original, S.image]);
    for (const e of [...S.undo, ...S.redo]) imagesOf(e).forEach((i) => live.add(i));
    for (const e of dropped) imagesOf(e).forEach((i) => { if (!live.has(i)) URL.revokeObjectURL(i.url); });
  }

  function releaseAll() {
    const all = new Set([S.original, S.image]);
    for (const e of [...S.undo, ...S.redo]) imagesOf(e).forEach((i) => all.add(i));
    all.forEach((i) => i && URL.revokeObjectURL(i.url));
  }
  const imagesOf = (e) => (e.kind === "image" ? [e.imageBefore, e.imageAfter] : []);

  // ------------------------------------------------------------------------------------------ mask pixels
  /** Redraw a region of the mask canvas from S.bits. */
  function paintRegion(x, y, w, h) {
    if (w <= 0 || h <= 0) return;
    const img = ctx.createImageData(w, h);
    const d = img.data, bits = S.bits, W = S.W;
    const [r, g, b] = MASK_RGB;
    for (let j = 0; j < h; j++) {
      let src = (y + j) * W + x, dst = j * w * 4;
      for (let i = 0; i < w; i++, src++, dst += 4) {
        if (bits[src]) { d[dst] = r; d[dst + 1] = g; d[dst + 2] = b; d[dst + 3] = 255; }
      }
    }
    ctx.putImageData(img, x, y);
  }

  /** Binarise a drawn region into S.bits; returns {before, after} or null when nothing changed. */
  function commitRegion(x, y, w, h) {
    if (w <= 0 || h <= 0) return null;
    const d = ctx.getImageData(x, y, w, h).data;
    const before = new Uint8Array(w * h), after = new Uint8Array(w * h);
    let changed = false;
    for (let j = 0, n = 0; j < h; j++) {
      let k = (y + j) * S.W + x;
      for (let i = 0; i < w; i++, n++, k++) {
        before[n] = S.bits[k];
        const a = d[n * 4 + 3] >= 128 ? 255 : 0;
        after[n] = a;
        if (a !== before[n]) changed = true;
        S.bits[k] = a;
      }
    }
    paintRegion(x, y, w, h);
    return changed ? { before, after } : null;
  }

  function writeRegion(x, y, w, h, values) {
    for (let j = 0; j < h; j++) S.bits.set(values.subarray(j * w, (j + 1) * w), (y + j) * S.W + x);
    paintRegion(x, y, w, h);
  }

  function clampRect(x0, y0, x1, y1) {
    const x = Math.max(0, Math.floor(Math.min(x0, x1))), y = Math.max(0, Math.floor(Math.min(y0, y1)));
    const r = Math.min(S.W, Math.ceil(Math.max(x0, x1))), b = Math.min(S.H, Math.ceil(Math.max(y0, y1)));
    return { x, y, w: Math.max(0, r - x), h: Math.max(0, b - y) };
  }

  /** Hole pixel count, and per connected part (8-connected on an 8 px grid, like the server): its box and its
   * half-thickness (how far its deepest pixel is from known pixels, from a distance transform on the grid). */
  function analyseHoles() {
    const { W, H, bits } = S;
    const cell = 8, gw = Math.ceil(W / cell), gh = Math.ceil(H / cell);
    const counts = new Uint8Array(gw * gh); // hole pixels per cell (<= 64)
    let count = 0;
    for (let y = 0; y < H; y++) {
      const line = bits.subarray(y * W, (y + 1) * W); // a view: searches stop at the row's end
      const first = line.indexOf(255);
      if (first === -1) continue;
      const last = line.lastIndexOf(255);
      const g = ((y / cell) | 0) * gw;
      for (let x = first; x <= last; x++) {
        if (line[x]) { count++; counts[g + ((x / cell) | 0)]++; }
      }
    }
    // Chamfer distance (in cells) from each fully covered cell to the nearest cell with known pixels.
    const dist = new Float32Array(gw * gh);
    for (let cy = 0; cy < gh; cy++) {
      const ch = Math.min(cell, H - cy * cell);
      for (let cx = 0; cx < gw; cx++) {
        const n = cy * gw + cx;
        dist[n] = counts[n] === ch * Math.min(cell, W - cx * cell) ? 1e9 : 0;
      }
    }
    const relax = (n, m, w) => { if (dist[m] + w < dist[n]) dist[n] = dist[m] + w; };
    for (let cy = 0; cy < gh; cy++) {
      for (let cx = 0; cx < gw; cx++) {
        const n = cy * gw + cx;
        if (!dist[n]) continue;
        if (cx > 0) relax(n, n - 1, 1);
        if (cy > 0) {
          relax(n, n - gw, 1);
          if (cx > 0) relax(n, n - gw - 1, Math.SQRT2);
          if (cx < gw - 1) relax(n, n - gw + 1, Math.SQRT2);
        }
      }
    }
    for (let cy = gh - 1; cy >= 0; cy--) {
      for (let cx = gw - 1; cx >= 0; cx--) {
        const n = cy * gw + cx;
        if (!dist[n]) continue;
        if (cx < gw - 1) relax(n, n + 1, 1);
        if (cy < gh - 1) {
          relax(n, n + gw, 1);
          if (cx < gw - 1) relax(n, n + gw + 1, Math.SQRT2);
          if (cx > 0) relax(n, n + gw - 1, Math.SQRT2);
        }
      }
    }
    const boxes = [];
    const seen = new Uint8Array(gw * gh);
    for (let start = 0; start < counts.length; start++) {
      if (!counts[start] || seen[start]) continue;
      let x0 = gw, y0 = gh, x1 = -1, y1 = -1, deepest = 0;
      const stack = [start];
      seen[start] = 1;
      while (stack.length) {
        const c = stack.pop(), cx = c % gw, cy = (c / gw) | 0;
        x0 = Math.min(x0, cx); x1 = Math.max(x1, cx); y0 = Math.min(y0, cy); y1 = Math.max(y1, cy);
        deepest = Math.max(deepest, dist[c]);
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const nx = cx + dx, ny = cy + dy, n = ny * gw + nx;
            if (nx >= 0 && ny >= 0 && nx < gw && ny < gh && counts[n] && !seen[n]) { seen[n] = 1; stack.push(n); }
          }
        }
      }
      boxes.push({
        w: Math.min(W, (x1 + 1) * cell) - x0 * cell,
        h: Math.min(H, (y1 + 1) * cell) - y0 * cell,
        depth: (deepest + 0.5) * cell, // px from the deepest hole pixel to known pixels (within a cell)
      });
    }
    S.holes = { count, boxes };
  }

  // ------------------------------------------------------------------------------------------ history
  function entryBytes(e) {
    if (e.kind === "mask") return e.before.length + e.after.length;
    return e.maskBefore.length + e.maskAfter.length + e.sent.length + e.imageAfter.blob.size;
  }

  function pushHistory(entry) {
    entry.bytes = entryBytes(entry);
    S.undo.push(entry);
    const dropped = S.redo;
    S.redo = [];
    let total = S.undo.reduce((n, e) => n + e.bytes, 0);
    while (total > HISTORY_BYTES && S.undo.length > 1) {
      const old = S.undo.shift();
      total -= old.bytes;
      dropped.push(old);
    }
    releaseDropped(dropped);
  }

  function applyEntry(e, useBefore) {
    if (e.kind === "mask") {
      writeRegion(e.x, e.y, e.w, e.h, useBefore ? e.before : e.after);
    } else {
      setImage(useBefore ? e.imageBefore : e.imageAfter);
      S.bits.set(useBefore ? e.maskBefore : e.maskAfter);
      paintRegion(0, 0, S.W, S.H);
    }
  }

  /** Move the newest entry of `from` onto `to`, restoring its before (undo) or after (redo) state. */
  function travel(from, to, useBefore, verb) {
    if (!from.length || S.stroke || S.rect) return;
    const e = from.pop();
    applyEntry(e, useBefore);
    to.push(e);
    afterChange(`${verb} ${e.label}.`);
  }
  const undo = () => travel(S.undo, S.redo, true, "Undid");
  const redo = () => travel(S.redo, S.undo, false, "Redid");

  function afterChange(message) {
    analyseHoles();
    updateUi();
    if (message) setStatus(message);
  }

  /** The mask used by the latest fill still in the history (what "Save mask" writes once the mask is empty). */
  function lastFillMask() {
    for (let i = S.undo.length - 1; i >= 0; i--) if (S.undo[i].kind === "image") return S.undo[i].sent;
    return null;
  }

  // ------------------------------------------------------------------------------------------ painting
  function strokeStyle(erase) {
    ctx.globalCompositeOperation = erase ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = `rgb(${MASK_RGB.join(",")})`;
    ctx.lineWidth = S.size;
    ctx.lineCap = ctx.lineJoin = "round";
  }

  function startStroke(p, erase) {
    S.stroke = { erase, last: p, x0: p.x, y0: p.y, x1: p.x, y1: p.y };
    strokeStyle(erase);
    ctx.beginPath();
    ctx.arc(p.x, p.y, S.size / 2, 0, 2 * Math.PI);
    ctx.fill();
  }

  function extendStroke(p) {
    const s = S.stroke;
    strokeStyle(s.erase);
    ctx.beginPath();
    ctx.moveTo(s.last.x, s.last.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    s.last = p;
    s.x0 = Math.min(s.x0, p.x); s.y0 = Math.min(s.y0, p.y);
    s.x1 = Math.max(s.x1, p.x); s.y1 = Math.max(s.y1, p.y);
  }

  function endStroke() {
    const s = S.stroke;
    S.stroke = null;
    ctx.globalCompositeOperation = "source-over";
    const pad = S.size / 2 + 2;
    const r = clampRect(s.x0 - pad, s.y0 - pad, s.x1 + pad, s.y1 + pad);
    commitEdit(r, s.erase ? "eraser stroke" : "brush stroke");
  }

  function commitEdit(r, label) {
    const diff = commitRegion(r.x, r.y, r.w, r.h);
    if (!diff) return;
    pushHistory({ kind: "mask", label, ...r, ...diff });
    afterChange();
    if (el.autofill.checked && !S.spaceDown) fill();
  }

  function startRect(p, erase) {
    S.rect = { erase, x0: p.x, y0: p.y, x1: p.x, y1: p.y };
    el.rectPreview.classList.toggle("erase", erase);
    moveRect(p);
    el.rectPreview.hidden = false;
  }

  function moveRect(p) {
    const q = S.rect;
    q.x1 = p.x;
    q.y1 = p.y;
    const r = clampRect(q.x0, q.y0, q.x1, q.y1);
    Object.assign(el.rectPreview.style, {
      left: `${S.panX + r.x * S.zoom}px`, top: `${S.panY + r.y * S.zoom}px`,
      width: `${r.w * S.zoom}px`, height: `${r.h * S.zoom}px`,
    });
  }

  function endRect(cancel = false) {
    const q = S.rect;
    S.rect = null;
    el.rectPreview.hidden = true;
    const r = clampRect(q.x0, q.y0, q.x1, q.y1);
    if (cancel || r.w < 1 || r.h < 1) return;
    if (q.erase) {
      ctx.clearRect(r.x, r.y, r.w, r.h);
    } else {
      strokeStyle(false);
      ctx.fillRect(r.x, r.y, r.w, r.h);
    }
    commitEdit(r, q.erase ? "rectangle erase" : "rectangle");
  }

  function clearMask() {
    if (!S.holes.count) return;
    const before = S.bits.slice(), after = new Uint8Array(S.bits.length);
    pushHistory({ kind: "mask", label: "clear", x: 0, y: 0, w: S.W, h: S.H, before, after });
    S.bits.fill(0);
    ctx.clearRect(0, 0, S.W, S.H);
    afterChange("Mask cleared (Ctrl+Z brings it back).");
  }

  async function loadMask(file) {
    if (!file || !S.image) return;
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
    } catch {
      setStatus(`Cannot read ${file.name} as an image.`, "error");
      return;
    }
    const { W, H } = S;
    const canvas = document.createElement("canvas");
    canvas.width = W;
    canvas.height = H;
    const g = canvas.getContext("2d", { willReadFrequently: true });
    g.imageSmoothingEnabled = false; // nearest neighbour: a scaled mask stays black/white
    g.drawImage(bitmap, 0, 0, W, H);
    const scaled = bitmap.width !== W || bitmap.height !== H;
    const note = scaled ? ` (scaled from ${bitmap.width}×${bitmap.height} to the image's ${W}×${H})` : "";
    bitmap.close();
    const d = g.getImageData(0, 0, W, H).data;
    // Same reading as gmcnn.inpainting.image.normalize_mask: a real alpha channel marks the painted part;
    // otherwise brightness, where a 0/1 mask counts any non-zero pixel.
    let hasAlpha = false, top = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] < 255) hasAlpha = true;
      const l = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      if (l > top) top = l;
    }
    const after = new Uint8Array(W * H);
    for (let k = 0, i = 0; k < after.length; k++, i += 4) {
      const l = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      const hole = hasAlpha ? d[i + 3] >= 128 : top <= 1.5 ? l >= 0.5 : l >= 127.5;
      after[k] = hole ? 255 : 0;
    }
    pushHistory({ kind: "mask", label: "mask upload", x: 0, y: 0, w: W, h: H, before: S.bits.slice(), after });
    S.bits.set(after);
    paintRegion(0, 0, W, H);
    afterChange(`Loaded mask ${file.name}${note}.`);
  }

  // ------------------------------------------------------------------------------------------ PNG (grey)
  const CRC_TABLE = (() => {
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t[n] = c >>> 0;
    }
    return t;
  })();

  function pngChunk(type, data) {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
    out.set(data, 8);
    let crc = 0xffffffff;
    for (let i = 4; i < 8 + data.length; i++) crc = CRC_TABLE[(crc ^ out[i]) & 0xff] ^ (crc >>> 8);
    view.setUint32(8 + data.length, (crc ^ 0xffffffff) >>> 0);
    return out;
  }

  /** 8-bit greyscale PNG of a 0/255 mask: lossless, exactly W x H, white = hole. */
  async function encodeMaskPng(bits, w, h) {
    const raw = new Uint8Array((w + 1) * h); // each row: filter byte 0, then the pixels
    for (let y = 0; y < h; y++) raw.set(bits.subarray(y * w, (y + 1) * w), y * (w + 1) + 1);
    // "deflate" in the Compression Streams API is the zlib format PNG's IDAT expects.
    const stream = new Blob([raw]).stream().pipeThrough(new CompressionStream("deflate"));
    const idat = new Uint8Array(await new Response(stream).arrayBuffer());
    const ihdr = new Uint8Array(13);
    const view = new DataView(ihdr.buffer);
    view.setUint32(0, w);
    view.setUint32(4, h);
    ihdr[8] = 8; // bit depth; colour type 0 (grey), compression 0, filter 0, no interlace follow as zeros
    const signature = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
    const parts = [signature, pngChunk("IHDR", ihdr), pngChunk("IDAT", idat), pngChunk("IEND", new Uint8Array(0))];
    return new Blob(parts, { type: "image/png" });
  }

  // ------------------------------------------------------------------------------------------ fill
  function setBusy(on) {
    S.busy = on;
    document.body.dataset.busy = String(on);
    el.busy.hidden = !on;
    clearInterval(S.busyTimer);
    if (on) {
      const t0 = performance.now();
      S.busyTimer = setInterval(() => {
        el.busyText.textContent = `${S.busyNote || "Filling…"} ${((performance.now() - t0) / 1000).toFixed(1)} s`;
      }, 100);
    }
    updateUi();
  }

  async function postFill(form) {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch("/api/v1/inpaint", { method: "POST", body: form });
      if (res.status !== 503 || attempt >= 3) return res;
      const wait = Math.min(30, Number(res.headers.get("Retry-After")) || 2);
      S.busyNote = `Server busy, retrying in ${wait} s…`;
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      S.busyNote = "";
    }
  }

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
      const form = new FormData();
      form.append("image", sentImage.blob, S.fileName);
      form.append("mask", await encodeMaskPng(sent, S.W, S.H), "mask.png");
      form.append("strategy", el.strategy.value);
      const detail = DETAIL_STEPS[Number(el.detail.value)];
      if (detail) form.append("process_size", String(detail));
      form.append("grow", el.grow.value);
      form.append("feather", el.feather.value);
      const res = await postFill(form);
      if (!res.ok) throw new Error(await errorMessage(res));
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const probe = new Image();
      probe.src = url;
      await probe.decode();
      if (session !== S.session || S.image !== sentImage) {
        URL.revokeObjectURL(url);
        setStatus("A fill was discarded: the image changed while it ran.");
        return;
      }
      const after = { blob, url };
      const maskBefore = S.bits.slice(), maskAfter = S.bits.slice();
      for (let k = 0; k < sent.length; k++) if (sent[k]) maskAfter[k] = 0; // strokes made meanwhile stay
      pushHistory({ kind: "image", label: "fill", imageBefore: sentImage, imageAfter: after, maskBefore, maskAfter, sent });
      setImage(after);
      S.bits.set(maskAfter);
      paintRegion(0, 0, S.W, S.H);
      S.fills += 1;
      S.saved = false;
      const used = res.headers.get("X-Gmcnn-Strategy") || el.strategy.value;
      const model = res.headers.get("X-Gmcnn-Seconds");
      afterChange(`Filled in ${((performance.now() - t0) / 1000).toFixed(1)} s (strategy ${used}` +
        `${model ? `, model ${Number(model).toFixed(1)} s` : ""}). Keep painting to fix more; Ctrl+Z undoes.`);
    } catch (err) {
      setStatus(`Fill failed: ${err.message}`, "error");
    } finally {
      setBusy(false);
      if (S.pendingFill) {
        S.pendingFill = false;
        if (el.autofill.checked && S.holes.count) fill();
      }
    }
  }

  // ------------------------------------------------------------------------------------------ downloads
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
    if (!S.image || S.image === S.original) return;
    const ext = S.ext || { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp" }[S.image.blob.type] || "png";
    saveBlob(S.image.blob, `${S.stem}-filled.${ext}`);
    S.saved = true;
    setStatus(`Saved ${S.stem}-filled.${ext} (the server's file, in the input's format).`);
  }

  async function downloadMask() {
    if (!S.image) return;
    const bits = S.holes.count ? S.bits : lastFillMask();
    if (!bits) return;
    saveBlob(await encodeMaskPng(bits, S.W, S.H), `${S.stem}-mask.png`);
    setStatus(`Saved ${S.stem}-mask.png (${S.holes.count ? "the current mask" : "the mask of the last fill"}; ` +
      "black/white PNG, white = fill).");
  }

  // ------------------------------------------------------------------------------------------ view
  function applyView() {
    el.stage.style.transform = `translate(${S.panX}px, ${S.panY}px) scale(${S.zoom})`;
    el.stage.classList.toggle("pixelated", S.zoom >= 3);
    el.factZoom.textContent = S.image ? `${Math.round(S.zoom * 100)}%` : "—";
    updateCompare();
  }

  function fitView() {
    const r = el.viewport.getBoundingClientRect();
    S.zoom = Math.min((r.width - 24) / S.W, (r.height - 24) / S.H, 8);
    S.panX = (r.width - S.W * S.zoom) / 2;
    S.panY = (r.height - S.H * S.zoom) / 2;
    applyView();
  }

  function zoomAt(factor, cx, cy) {
    const zoom = Math.min(32, Math.max(0.01, S.zoom * factor));
    const k = zoom / S.zoom;
    S.panX = cx - (cx - S.panX) * k;
    S.panY = cy - (cy - S.panY) * k;
    S.zoom = zoom;
    applyView();
  }

  function zoomCentre(factor) {
    const r = el.viewport.getBoundingClientRect();
    zoomAt(factor, r.width / 2, r.height / 2);
  }

  function toImage(e) {
    const r = el.viewport.getBoundingClientRect();
    return { x: (e.clientX - r.left - S.panX) / S.zoom, y: (e.clientY - r.top - S.panY) / S.zoom };
  }

  function updateCompare() {
    const v = S.comparing ? 100 : Number(el.compare.value);
    el.before.hidden = !S.image || S.image === S.original || v === 0;
    el.before.style.clipPath = `inset(0 ${100 - v}% 0 0)`;
    el.stage.classList.toggle("comparing", S.comparing);
    el.split.hidden = el.before.hidden || S.comparing || v >= 100;
    el.split.style.left = `${S.panX + S.W * S.zoom * v / 100}px`;
  }

  function setComparing(on) {
    if (S.comparing === on) return;
    S.comparing = on;
    updateCompare();
    if (on && S.image === S.original) setStatus("Nothing to compare yet: fill first.");
  }

  function setSize(v) {
    S.size = Math.max(1, Math.min(Number(el.size.max), Math.round(v)));
    el.size.value = S.size;
    el.sizeOut.textContent = S.size;
    updateCursor();
  }

  function setTool(tool) {
    S.tool = tool;
    for (const b of document.querySelectorAll("[data-tool]")) b.setAttribute("aria-pressed", String(b.dataset.tool === tool));
    for (const t of ["brush", "eraser", "rect", "pan"]) el.viewport.classList.toggle(`tool-${t}`, t === tool);
    updateCursor();
  }

  function updateCursor(e) {
    if (e) {
      const r = el.viewport.getBoundingClientRect();
      S.cursorAt = { x: e.clientX - r.left, y: e.clientY - r.top };
    }
    const show = S.image && S.cursorAt && (S.tool === "brush" || S.tool === "eraser") && !S.spaceDown && !S.pan;
    el.cursor.hidden = !show;
    if (!show) return;
    const d = Math.max(4, S.size * S.zoom);
    Object.assign(el.cursor.style, { left: `${S.cursorAt.x}px`, top: `${S.cursorAt.y}px`, width: `${d}px`, height: `${d}px` });
    el.cursor.classList.toggle("eraser", S.tool === "eraser");
  }

  // ------------------------------------------------------------------------------------------ panel + buttons
  /** How the model will see the holes, mirroring the server's choice of strategy and window. */
  function processingPlan() {
    const P = DETAIL_STEPS[Number(el.detail.value)] || (S.health && S.health.defaults.process_size) || 512;
    const T = (S.health && S.health.model.training.image_size) || 256;
    const long = Math.max(S.W, S.H);
    let strategy = el.strategy.value;
    if (strategy === "auto") strategy = long <= P ? "original" : "crop";
    const plan = { strategy, P, T, scale: strategy === "resize" ? Math.min(1, P / long) : 1, depth: 0 };
    let widest = 0;
    for (const b of S.holes.boxes) {
      const side = Math.max(b.w, b.h);
      let scale = plan.scale;
      if (strategy === "crop") {
        const win = Math.min(long, Math.max(side + 2 * Math.max(CROP_MIN_MARGIN, CROP_MARGIN * side), T));
        scale = Math.min(1, P / win);
      }
      if (side * scale > widest) { widest = side * scale; plan.scale = scale; }
      plan.depth = Math.max(plan.depth, b.depth * scale);
    }
    return plan;
  }

  function updatePanel() {
    const detail = DETAIL_STEPS[Number(el.detail.value)];
    const fallback = S.health ? S.health.defaults.process_size : 512;
    el.detailOut.textContent = detail ? `${detail} px` : `auto (${fallback} px)`;
    el.growOut.textContent = `${el.grow.value} px`;
    el.featherOut.textContent = `${el.feather.value} px`;
    el.mask.style.opacity = Number(el.opacity.value) / 100;
    el.opacityOut.textContent = `${el.opacity.value}%`;
    if (!S.image) return;
    el.factSize.textContent = `${S.W}×${S.H} (${(S.W * S.H / 1e6).toFixed(1)} MP)`;
    const pct = (100 * S.holes.count) / (S.W * S.H);
    const parts = S.holes.boxes.length;
    el.factHole.textContent = S.holes.count
      ? `${pct < 0.1 ? pct.toFixed(2) : pct.toFixed(1)}% · ${parts} part${parts > 1 ? "s" : ""}`
      : "none yet";
    const plan = processingPlan();
    const how = {
      original: "the whole image at full size",
      resize: `the whole image scaled to ${plan.P} px`,
      crop: `a window around each hole, scaled to ≤ ${plan.P} px`,
    }[plan.strategy];
    el.strategyHint.textContent = `→ ${plan.strategy}: the model sees ${how}` +
      (S.holes.count ? ` (holes at ${Math.round(plan.scale * 100)}% scale).` : ".");
    const warnings = [];
    // Depth, not the box, decides: a long thin stroke has a large box but every pixel is near known context.
    // Training holes were at most about half the training size wide, i.e. a depth of a quarter of it.
    if (plan.depth > LARGE_HOLE_DEPTH * plan.T) {
      warnings.push(`The thickest hole is about ${Math.round(2 * plan.depth)} px wide as the model sees it; ` +
        `it was trained on ${plan.T} px images with holes up to about ${Math.round(plan.T / 2)} px wide. ` +
        `Expect a blurry fill: fill it in smaller pieces${plan.strategy !== "original" ? " or lower Detail" : ""}.`);
    }
    if (S.holes.count / (S.W * S.H) > LARGE_COVERAGE) {
      warnings.push(`The mask covers ${pct.toFixed(0)}% of the image: little context is left to fill from.`);
    }
    el.warning.hidden = !warnings.length;
    el.warning.textContent = warnings.join(" ");
  }

  function updateUi() {
    const has = Boolean(S.image);
    el.undo.disabled = !S.undo.length;
    el.redo.disabled = !S.redo.length;
    el.clear.disabled = !S.holes.count;
    el.fill.disabled = !has || S.busy || !S.holes.count;
    el.download.disabled = !has || S.image === S.original;
    el.downloadMask.disabled = !has || (!S.holes.count && !lastFillMask());
    el.uploadMask.disabled = !has;
    el.compare.disabled = !has || S.image === S.original;
    document.body.dataset.undo = String(S.undo.length);
    document.body.dataset.fills = String(S.fills);
    updatePanel();
    updateCompare();
  }

  // ------------------------------------------------------------------------------------------ events
  el.open.addEventListener("click", () => el.file.click());
  el.file.addEventListener("change", () => {
    const f = el.file.files[0];
    if (f) openImage(f, f.name);
    el.file.value = "";
  });
  el.uploadMask.addEventListener("click", () => el.maskFile.click());
  el.maskFile.addEventListener("change", () => {
    loadMask(el.maskFile.files[0]);
    el.maskFile.value = "";
  });
  for (const b of document.querySelectorAll("[data-tool]")) b.addEventListener("click", () => setTool(b.dataset.tool));
  el.size.addEventListener("input", () => setSize(Number(el.size.value)));
  el.opacity.addEventListener("input", updatePanel);
  for (const input of [el.strategy, el.detail, el.grow, el.feather]) input.addEventListener("input", updatePanel);
  el.undo.addEventListener("click", undo);
  el.redo.addEventListener("click", redo);
  el.clear.addEventListener("click", clearMask);
  el.fill.addEventListener("click", fill);
  el.compare.addEventListener("input", updateCompare);
  el.download.addEventListener("click", downloadResult);
  el.downloadMask.addEventListener("click", downloadMask);
  el.helpButton.addEventListener("click", () => el.help.showModal());
  // Buttons give focus back to the canvas so Space pans instead of pressing the last clicked button.
  for (const b of document.querySelectorAll(".toolbar button")) b.addEventListener("click", () => el.viewport.focus());

  el.viewport.addEventListener("pointerdown", (e) => {
    el.viewport.focus({ preventScroll: true });
    if (!S.image) {
      if (e.button === 0) el.file.click();
      return;
    }
    if (S.stroke || S.rect || S.pan) return;
    if (e.button === 1 || (e.button === 0 && (S.spaceDown || S.tool === "pan"))) {
      S.pan = { x: e.clientX, y: e.clientY, panX: S.panX, panY: S.panY };
      el.viewport.classList.add("panning");
    } else if (e.button === 0 && (S.tool === "brush" || S.tool === "eraser")) {
      startStroke(toImage(e), S.tool === "eraser");
    } else if (e.button === 0 && S.tool === "rect") {
      startRect(toImage(e), e.altKey);
    } else {
      return;
    }
    el.viewport.setPointerCapture(e.pointerId);
    e.preventDefault();
  });

  el.viewport.addEventListener("pointermove", (e) => {
    updateCursor(e);
    if (S.pan) {
      S.panX = S.pan.panX + e.clientX - S.pan.x;
      S.panY = S.pan.panY + e.clientY - S.pan.y;
      applyView();
    } else if (S.stroke) {
      const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
      for (const ev of events.length ? events : [e]) extendStroke(toImage(ev));
    } else if (S.rect) {
      moveRect(toImage(e));
    }
  });

  function endPointer() {
    if (S.pan) {
      S.pan = null;
      el.viewport.classList.remove("panning");
    }
    if (S.stroke) endStroke();
    if (S.rect) endRect();
  }
  el.viewport.addEventListener("pointerup", endPointer);
  el.viewport.addEventListener("pointercancel", endPointer);
  el.viewport.addEventListener("pointerleave", () => {
    S.cursorAt = null;
    updateCursor();
  });
  el.viewport.addEventListener("wheel", (e) => {
    if (!S.image) return;
    e.preventDefault();
    const r = el.viewport.getBoundingClientRect();
    const lines = e.deltaMode === 1 ? 33 : 1; // Firefox reports lines
    zoomAt(Math.exp(-e.deltaY * lines * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });

  window.addEventListener("keydown", (e) => {
    if (e.target.closest && e.target.closest("select, textarea, input[type=text], input[type=number]")) return;
    if (el.help.open) {
      if (e.key === "?") el.help.close();
      return; // the dialog closes itself on Escape
    }
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (e.ctrlKey || e.metaKey) {
      const actions = {
        z: () => (e.shiftKey ? redo() : undo()),
        y: redo,
        s: () => (e.shiftKey ? downloadMask() : downloadResult()),
        o: () => el.file.click(),
      };
      if (actions[key]) {
        e.preventDefault();
        actions[key]();
      }
      return;
    }
    if (e.altKey) return;
    const onButton = e.target.closest && e.target.closest("button");
    const actions = {
      b: () => setTool("brush"),
      e: () => setTool("eraser"),
      r: () => setTool("rect"),
      h: () => setTool("pan"),
      "[": () => setSize(S.size - Math.max(1, S.size * 0.15)),
      "]": () => setSize(S.size + Math.max(1, S.size * 0.15)),
      f: fill,
      Enter: () => !onButton && fill(),
      c: () => S.image && setComparing(true),
      " ": () => {
        S.spaceDown = true;
        el.viewport.classList.add("panning-ready");
        updateCursor();
      },
      0: () => S.image && fitView(),
      1: () => S.image && zoomCentre(1 / S.zoom),
      "+": () => S.image && zoomCentre(1.25),
      "=": () => S.image && zoomCentre(1.25),
      "-": () => S.image && zoomCentre(0.8),
      x: () => el.stage.classList.toggle("mask-hidden"),
      o: () => el.file.click(),
      "?": () => el.help.showModal(),
      Escape: () => S.rect && endRect(true),
    };
    if (actions[key]) {
      e.preventDefault();
      if (!e.repeat || key === "[" || key === "]" || key === "+" || key === "-" || key === "=") actions[key]();
    }
  });

  window.addEventListener("keyup", (e) => {
    if (e.key === "c" || e.key === "C") setComparing(false);
    if (e.key === " ") {
      S.spaceDown = false;
      el.viewport.classList.remove("panning-ready");
      updateCursor();
    }
  });
  window.addEventListener("blur", () => {
    setComparing(false);
    S.spaceDown = false;
    el.viewport.classList.remove("panning-ready");
  });

  // Open by drag-and-drop (anywhere on the page) or paste.
  window.addEventListener("dragover", (e) => {
    e.preventDefault();
    el.viewport.classList.add("dragover");
  });
  window.addEventListener("dragleave", (e) => {
    if (!e.relatedTarget) el.viewport.classList.remove("dragover");
  });
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
  window.addEventListener("beforeunload", (e) => {
    if (!S.saved) e.preventDefault(); // unsaved fills
  });

  setTool("brush");
  setSize(40);
  updateUi();
  loadHealth();
})();
