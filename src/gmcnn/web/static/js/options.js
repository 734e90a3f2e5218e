// The fill options' controls, built from the server's FillOptions.schema() (GET /api/v1/health "options").
// Nothing here names an option: each schema entry (type, bounds, choices, help, nullable and the display hints
// label, unit, ends, advanced, image_side) makes its own control, so a new FillOptions field gets one with no
// page edit. The values go to the server as form fields of the same names.
import { S, el } from "./state.js";

const SLIDER_STEPS = 100; // a number option's slider resolution

function node(tag, props = {}, ...children) {
  const n = Object.assign(document.createElement(tag), props);
  n.append(...children);
  return n;
}

function labelOf(name, o) {
  return o.label || name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

/** A value as the control's output shows it: the slider's end words at its ends, a unit after a number. */
function shown(o, value) {
  if (value === null || value === "") return "";
  const v = Number(value);
  if (o.ends && v <= o.minimum) return o.ends[0];
  if (o.ends && v >= o.maximum) return o.ends[1];
  if (o.ends) return `${Math.round((100 * (v - o.minimum)) / (o.maximum - o.minimum))}%`;
  return o.type === "integer" ? `${v}${o.unit ? ` ${o.unit}` : ""}` : v.toFixed(2);
}

function choiceControl(id, o) {
  const input = node("select", { id });
  for (const c of o.choices) input.append(node("option", { value: c, textContent: c === o.default ? `${c} (default)` : c }));
  input.value = o.default;
  return { input, read: () => input.value };
}

/** A bounded number as a slider; a nullable one (left to the model) starts at the model's own value, set by
 * describeAuto from the contract field of the same name. */
function sliderControl(id, o, out) {
  const step = o.type === "integer" ? 1 : (o.maximum - o.minimum) / SLIDER_STEPS;
  const value = o.default ?? o.maximum;
  const input = node("input", { id, type: "range", min: o.minimum, max: o.maximum, step, value });
  const show = () => { out.textContent = shown(o, input.value); };
  input.addEventListener("input", show);
  show();
  return { input, read: () => input.value, show };
}

/** A nullable number: a box left empty means the server's own choice (e.g. the model's processing size). */
function numberControl(id, o) {
  const input = node("input", { id, type: "number", min: o.minimum, max: o.maximum, step: o.type === "integer" ? 1 : "any" });
  input.placeholder = "auto";
  return { input, read: () => (input.value === "" ? null : input.value) };
}

/** Build every option's control into the panel ("Fill" or, for advanced ones, "Advanced"). */
export function buildControls(options, onChange) {
  el.options.replaceChildren();
  el.optionsAdvanced.replaceChildren();
  S.controls = {};
  for (const [name, o] of Object.entries(options)) {
    const id = `opt-${name}`;
    const out = node("output");
    const label = node("label", { htmlFor: id, title: o.help }, labelOf(name, o), " ", out);
    let control;
    if (o.choices) control = choiceControl(id, o);
    else if (o.minimum === undefined || (o.nullable && !o.ends)) control = numberControl(id, o);
    else control = sliderControl(id, o, out);
    control.input.name = name;
    control.input.title = o.help;
    control.input.addEventListener(o.choices ? "change" : "input", onChange);
    const parts = [label, control.input];
    if (o.ends) parts.push(node("p", { className: "muted scale" }, node("span", { textContent: o.ends[0] }), node("span", { textContent: o.ends[1] })));
    const help = node("p", { className: "muted help", textContent: o.help, id: `${id}-help` });
    parts.push(help);
    const box = node("div", { className: `option option-${o.type}` }, ...parts);
    box.dataset.option = name;
    (o.advanced ? el.optionsAdvanced : el.options).append(box);
    S.controls[name] = { ...control, option: o, help };
  }
  describeAuto();
}

/** The fill options as form fields (null = left to the server, not sent). */
export function optionFields() {
  return Object.fromEntries(Object.entries(S.controls).map(([name, c]) => [name, c.read()]));
}

/** What the nullable options mean for the loaded model: its contract's field of the same name (a box shows it
 * as "auto (...)"; a slider moves to it, e.g. Detail: full texture for the embedded model, smooth for an
 * official release, which fills as the official code does). Called again when another model is served. */
export function describeAuto() {
  const contract = (S.health && S.health.model.contract) || {};
  for (const [name, c] of Object.entries(S.controls)) {
    const own = contract[name];
    if (!c.option.nullable || own === undefined || own === null) continue;
    if (c.show) {
      c.input.value = own;
      c.show();
    } else if (c.option.image_side) c.input.placeholder = `auto (${own} ${c.option.unit || ""})`.replace(" )", ")");
  }
}

/** Options whose values above the image's longer side change nothing are bounded by the opened image. */
export function boundByImage(W, H) {
  const side = Math.max(W, H);
  for (const c of Object.values(S.controls)) {
    const o = c.option;
    if (!o.image_side) continue;
    const top = Math.min(o.maximum, side);
    c.input.max = top;
    c.input.disabled = top < o.minimum;
    if (c.input.value !== "" && Number(c.input.value) > top) c.input.value = top;
    c.help.textContent = top < o.minimum
      ? `${o.help} — this image is smaller than ${o.minimum} ${o.unit || ""}: the model sees it whole.`
      : `${o.help}; at most ${top} ${o.unit || ""} for this image.`;
    if (c.show) c.show();
  }
}
