// gmcnn study: the judging page. One pair at a time; every judgement is saved by the server before the next
// pair is shown, so closing the page loses nothing and reopening it continues at the first unjudged pair.
// The server never tells the page which method is which: it only knows pair numbers and pictures.

const $ = (id) => document.getElementById(id);
const JUDGE_KEY = "gmcnn-study-judge";

const state = { study: null, judge: "", next: null, side: null, shownAt: 0, busy: false };

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function showError(error) {
  $("error").textContent = error ? String(error.message || error) : "";
  $("error").hidden = !error;
}

// Each tile shows one panel of the pair picture: the picture as background, scaled so one panel fills the
// tile, and shifted to that panel. All in percentages, so the tiles can take any size.
function layoutTiles(layout) {
  const { width, height, panel_width: pw, panel_height: ph, gap, header } = layout;
  ["input", "left", "right"].forEach((name, index) => {
    const tile = $(`panel-${name}`);
    tile.style.aspectRatio = `${pw} / ${ph}`;
    tile.style.backgroundSize = `${(100 * width) / pw}% ${(100 * height) / ph}%`;
    const x = index === 0 ? 0 : (100 * index * (pw + gap)) / (width - pw);
    const y = height === ph ? 0 : (100 * header) / (height - ph);
    tile.style.backgroundPosition = `${x}% ${y}%`;
  });
}

function pictureUrl(pair) {
  return `/pairs/${pair}.png`;
}

function choose(side) {
  if (state.next === null || state.busy) return;
  state.side = side;
  $("panel-left").setAttribute("aria-pressed", String(side === "left"));
  $("panel-right").setAttribute("aria-pressed", String(side === "right"));
  for (const b of document.querySelectorAll("[data-level]")) b.disabled = side === null;
  $("confidence-prompt").textContent = side === null
    ? "Tap or press ← / → to choose the more natural fill"
    : `You chose the ${side} fill. How sure are you?`;
}

function render(data) {
  state.next = data.next;
  $("progress").max = data.total;
  $("progress").value = data.done;
  $("progress-text").textContent = `${data.done} / ${data.total} judged`;
  $("undo").disabled = data.done === 0;
  $("judge-view").hidden = data.next === null;
  $("done").hidden = data.next !== null;
  choose(null);
  if (data.next === null) return;
  const url = `url("${pictureUrl(data.next)}")`;
  for (const name of ["input", "left", "right"]) $(`panel-${name}`).style.backgroundImage = url;
  $("judge-view").dataset.pair = data.next;
  state.shownAt = performance.now();
  // Warm the cache with the picture after this one.
  const order = state.study.pairs;
  const after = order[order.indexOf(data.next) + 1];
  if (after) new Image().src = pictureUrl(after);
}

async function run(action) {
  if (state.busy) return;
  state.busy = true;
  try {
    render(await action());
    showError(null);
  } catch (error) {
    showError(error);
  } finally {
    state.busy = false;
  }
}

function judgesPath() {
  return `/api/v1/judges/${encodeURIComponent(state.judge)}`;
}

function confirm(level) {
  if (state.side === null || state.next === null) return;
  const seconds = Math.round((performance.now() - state.shownAt) / 100) / 10;
  const body = { pair: state.next, choice: state.side, confidence: level, seconds };
  run(() => api(`${judgesPath()}/judgements`, body));
}

function undo() {
  if (!$("undo").disabled) run(() => api(`${judgesPath()}/undo`, {}));
}

// `loaded` is the study's description, still on its way when a quick judge presses Start.
async function start(loaded, judge) {
  state.judge = judge;
  localStorage.setItem(JUDGE_KEY, judge);
  const url = new URL(location.href);
  url.searchParams.set("judge", judge);
  history.replaceState(null, "", url);
  $("start").hidden = true;
  await run(async () => {
    await loaded;
    return api(judgesPath());
  });
  if (!$("error").hidden) $("start").hidden = false;
}

function onKey(event) {
  if (!state.judge || event.target instanceof HTMLInputElement || event.ctrlKey || event.metaKey || event.altKey) return;
  const keys = {
    ArrowLeft: () => choose("left"),
    ArrowRight: () => choose("right"),
    Escape: () => choose(null),
    1: () => confirm(1),
    2: () => confirm(2),
    3: () => confirm(3),
    u: undo,
    U: undo,
    Backspace: undo,
  };
  const action = keys[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
}

// Everything a judge can touch works from the first moment: the name is filled in and Start is wired before
// the study's description arrives. Doing it after that request let a name typed meanwhile be overwritten by
// the stored one (often empty), and the form's `required` then swallowed the press without a word.
function main() {
  const named = new URL(location.href).searchParams.get("judge");
  $("judge").value = named || localStorage.getItem(JUDGE_KEY) || "";
  const loaded = api("/api/v1/study").then((study) => {
    state.study = study;
    layoutTiles(study.layout);
  });
  $("start").addEventListener("submit", (event) => {
    event.preventDefault();
    start(loaded, $("judge").value.trim());
  });
  $("panel-left").addEventListener("click", () => choose("left"));
  $("panel-right").addEventListener("click", () => choose("right"));
  for (const b of document.querySelectorAll("[data-level]")) {
    b.addEventListener("click", () => confirm(Number(b.dataset.level)));
  }
  $("undo").addEventListener("click", undo);
  document.addEventListener("keydown", onKey);
  // A name in the address continues at once; otherwise the instructions and the name (shown) come first.
  if (named) {
    start(loaded, named);
  } else {
    loaded.catch(showError);
  }
}

main();
