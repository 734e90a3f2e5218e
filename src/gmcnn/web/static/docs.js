// Renders /openapi.json as plain HTML: each route, its form fields with their bounds, and its answers.
const root = document.getElementById("api");

function node(tag, text, cls) {
  const n = document.createElement(tag);
  if (text !== undefined) n.textContent = text;
  if (cls) n.className = cls;
  return n;
}

function resolve(spec, schema) {
  const ref = schema && schema.$ref;
  return ref ? spec.components.schemas[ref.split("/").pop()] : schema || {};
}

function bounds(p) {
  const parts = [];
  const s = p.anyOf ? p.anyOf.find((a) => a.type !== "null") || {} : p;
  if (s.type) parts.push(s.format === "binary" ? "file" : s.type);
  if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined) parts.push(`≤ ${s.maximum}`);
  if (p.default !== undefined && p.default !== null) parts.push(`default ${p.default}`);
  return parts.join(", ");
}

function fieldsTable(spec, op) {
  const table = node("table");
  const body = op.requestBody && op.requestBody.content["multipart/form-data"];
  const params = (op.parameters || []).map((p) => [p.name, { ...p.schema, description: p.description }]);
  const form = body ? Object.entries(resolve(spec, body.schema).properties || {}) : [];
  for (const [name, p] of [...params, ...form]) {
    const row = table.insertRow();
    row.insertCell().append(node("code", name));
    row.insertCell().textContent = bounds(p);
    row.insertCell().textContent = p.description || "";
  }
  return table;
}

async function render() {
  const spec = await (await fetch("/openapi.json")).json();
  root.textContent = "";
  root.append(node("p", spec.info.description));
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const h = node("h2");
      h.append(node("span", method.toUpperCase(), "method"), ` ${path}`);
      root.append(h, node("p", op.summary || ""));
      if (op.description) root.append(node("p", op.description));
      root.append(fieldsTable(spec, op));
      const answers = Object.entries(op.responses || {}).map(([code, r]) => `${code} ${r.description}`);
      root.append(node("p", `Answers: ${answers.join(" · ")}`));
    }
  }
}

render().catch((err) => { root.textContent = `Cannot read /openapi.json: ${err.message}`; });
