// The playground's page: it draws what the server answers and sends what the user does.
//
// Every number on the page comes from the server, that is from tinygrad_lc (the losses, the
// engine's backward(), the optimizers, gradcheck, viz). This file computes nothing but
// geometry: where a point, a line s_c = 0 or a region lies on the screen, and which W, b or
// point a drag means. Requests go one at a time, in order; a drag sends only its latest
// position once the previous answer is in.

const SIZE = 500; // the plot's viewBox is SIZE x SIZE
const SVG = "http://www.w3.org/2000/svg";
const CLASSES = [0, 1, 2];
const RUN_INTERVAL = 100; // ms between the starts of two steps while running: ~10 a second

const $ = (id) => document.getElementById(id);
const plot = $("plot");

let session = null; // this tab's session id, from the server
let state = null; // the last state the server answered
let limit = 5; // the plot shows [-limit, limit]^2 (the server's limits.coordinate)
let running = false;
let queue = Promise.resolve(); // requests run one after another
let pending = 0; // tasks queued or running (body[data-busy] shows it, for tests)
const anchors = [null, null, null]; // each class's arrow base, a point on its line
const collapsed = new Set(); // scopes the diagram draws as one box
let drag = null; // what the pointer is dragging

// ---------------------------------------------------------------- talking to the server
class ServerError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function call(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ServerError(answer.error || `the server answered ${response.status}`, response.status);
  }
  return answer;
}

function setPending(change) {
  pending += change;
  document.body.dataset.busy = String(pending);
}

// Run fn after every task before it; a failure is shown and ends a run.
function enqueue(fn) {
  setPending(1);
  const done = queue.then(fn).catch((error) => {
    running = false;
    showRunning();
    showError(error.message);
  }).finally(() => setPending(-1));
  queue = done;
  return done;
}

// POST the session's change to path and draw the answer. A session the server no longer
// knows (expired, or the server restarted) is started again from the last state drawn.
function update(path, fields) {
  return enqueue(async () => {
    try {
      render(await call(path, { session, ...fields }));
    } catch (error) {
      if (!(error instanceof ServerError) || error.status !== 404 || !state) throw error;
      await restart();
      render(await call(path, { session, ...fields }));
    }
  });
}

async function restart() {
  const fresh = await call("api/state");
  session = fresh.session;
  render(await call("api/state", { session, ...stateFields(state) }));
}

function stateFields(s) {
  const { points, labels, W, b, loss, delta, reg, lr, optimizer, step } = s;
  return { points, labels, W, b, loss, delta, reg, lr, optimizer, step };
}

// ---------------------------------------------------------------- numbers and messages
function format(x) {
  return Math.abs(x) >= 1e5 ? x.toExponential(3) : x.toFixed(4);
}

// Show a server number rounded, and keep the number itself in data-value.
function setNumber(el, x) {
  el.textContent = format(x);
  el.dataset.value = String(x);
}

function showError(message) {
  const el = $("error");
  el.textContent = message;
  el.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

// An input shows the server's value (W and b rounded to 4 decimals; the number itself in
// data-value), unless the user is typing in it.
function setInput(el, x, rounded = false) {
  el.dataset.value = String(x);
  if (document.activeElement !== el) el.value = String(rounded ? Number(x.toFixed(4)) : x);
}

function showRunning() {
  $("run").disabled = running;
  $("stop").disabled = !running;
  $("step").disabled = running;
}

// ---------------------------------------------------------------- drawing the state
function render(s) {
  state = s;
  session = s.session;
  limit = s.limits.coordinate;
  document.body.dataset.session = s.session;
  document.body.dataset.step = String(s.step); // for tests: body[data-step="5"][data-busy="0"]
  setNumber($("data-loss"), s.losses.data);
  setNumber($("reg-loss"), s.losses.reg);
  setNumber($("total-loss"), s.losses.total);
  $("step-count").textContent = String(s.step);
  $("step-count").dataset.value = String(s.step);
  $("loss-kind").value = s.loss;
  $("optimizer").value = s.optimizer;
  setInput($("delta"), s.delta);
  setInput($("reg"), s.reg);
  setInput($("lr"), s.lr);
  $("delta").disabled = s.loss === "softmax";
  for (const [id, key] of [["delta", "delta"], ["reg", "reg"], ["lr", "lr"]]) {
    $(id).min = "0";
    $(id).max = String(s.limits[key]);
  }
  drawPlot(s);
  drawParams(s);
  drawRows(s);
  drawChart(s);
  writeAddress(s);
  clearError();
  if ($("graph").checked) refreshGraph();
}

// data coordinates <-> the plot's SVG units
const sx = (x) => ((x + limit) / (2 * limit)) * SIZE;
const sy = (y) => ((limit - y) / (2 * limit)) * SIZE;

function toData(event) {
  const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(plot.getScreenCTM().inverse());
  const clamp = (v) => Math.max(-limit, Math.min(limit, v));
  return [clamp((p.x / SIZE) * 2 * limit - limit), clamp(limit - (p.y / SIZE) * 2 * limit)];
}

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

// The part of polygon poly where a x + b y + c >= 0 (Sutherland-Hodgman, one edge).
function clip(poly, a, b, c) {
  const out = [];
  for (let i = 0; i < poly.length; i++) {
    const p = poly[i];
    const q = poly[(i + 1) % poly.length];
    const fp = a * p[0] + b * p[1] + c;
    const fq = a * q[0] + b * q[1] + c;
    if (fp >= 0) out.push(p);
    if ((fp >= 0) !== (fq >= 0)) {
      const t = fp / (fp - fq);
      out.push([p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]);
    }
  }
  return out;
}

// Where the line a x + b y + c = 0 crosses the plot: two points, or null.
function segment(a, b, c) {
  const ends = [];
  for (const x of [-limit, limit]) {
    if (b !== 0) ends.push([x, -(a * x + c) / b]);
  }
  for (const y of [-limit, limit]) {
    if (a !== 0) ends.push([-(b * y + c) / a, y]);
  }
  const inside = ends.filter(([x, y]) => Math.abs(x) <= limit + 1e-9 && Math.abs(y) <= limit + 1e-9);
  if (inside.length < 2) return null;
  let best = [inside[0], inside[1]];
  let far = -1;
  for (const p of inside) {
    for (const q of inside) {
      const d = (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2;
      if (d > far) { far = d; best = [p, q]; }
    }
  }
  return far > 0 ? best : null;
}

const column = (W, c) => [W[0][c], W[1][c]];

// Class c's arrow base, a point on its line s_c = 0: the last base, moved onto the line as it
// changes; at first, the point of the line nearest to the class's points (their mean).
function anchorOf(s, c) {
  const w = column(s.W, c);
  const norm2 = w[0] ** 2 + w[1] ** 2;
  const ends = norm2 > 0 ? segment(w[0], w[1], s.b[c]) : null;
  if (!ends) return null;
  let a = anchors[c];
  if (!a) {
    const mine = s.points.filter((_, i) => s.labels[i] === c);
    a = mine.length ? [0, 1].map((k) => mine.reduce((t, p) => t + p[k], 0) / mine.length) : [0, 0];
  }
  const off = (w[0] * a[0] + w[1] * a[1] + s.b[c]) / norm2; // project onto the line
  a = [a[0] - off * w[0], a[1] - off * w[1]];
  if (Math.abs(a[0]) > limit || Math.abs(a[1]) > limit) {
    a = [(ends[0][0] + ends[1][0]) / 2, (ends[0][1] + ends[1][1]) / 2];
  }
  anchors[c] = a;
  return a;
}

// The plot's fixed furniture, made once: regions, grid, per-class lines, arrows, handles.
const parts = { regions: [], lines: [], weights: [], grads: [], bases: [], heads: [] };

function buildPlot() {
  const defs = el("defs", {}, plot);
  for (const c of CLASSES) {
    const marker = el("marker", { id: `tip-${c}`, viewBox: "0 0 10 10", refX: "9", refY: "5",
      markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, defs);
    el("path", { d: "M 0 0 L 10 5 L 0 10 z", class: `k${c}` }, marker);
  }
  for (const c of CLASSES) parts.regions.push(el("polygon", { class: `region-${c}` }, $("regions")));
  for (let v = -Math.floor(limit); v <= Math.floor(limit); v++) {
    const cls = v === 0 ? "axis" : "tick";
    el("line", { x1: sx(v), y1: 0, x2: sx(v), y2: SIZE, class: cls }, $("grid"));
    el("line", { x1: 0, y1: sy(v), x2: SIZE, y2: sy(v), class: cls }, $("grid"));
    if (v !== 0 && v % 2 === 0) {
      el("text", { x: sx(v) + 2, y: sy(0) + 12, class: "tick-label" }, $("grid")).textContent = String(v);
      el("text", { x: sx(0) + 3, y: sy(v) - 3, class: "tick-label" }, $("grid")).textContent = String(v);
    }
  }
  for (const c of CLASSES) {
    parts.lines.push(el("line", { class: `line k${c}` }, $("lines")));
    parts.weights.push(el("line", { class: `weight k${c}`, "marker-end": `url(#tip-${c})` }, $("arrows")));
    parts.grads.push(el("line", { class: `neg-grad k${c}`, "marker-end": `url(#tip-${c})`,
      "data-testid": `neg-grad-${c}` }, $("arrows")));
    parts.bases.push(el("circle", { r: 7, class: `handle k${c}`, "data-drag": "base", "data-class": c,
      "data-testid": `base-${c}` }, $("arrows")));
    parts.heads.push(el("circle", { r: 8, class: `head k${c}`, "data-drag": "head", "data-class": c,
      "data-testid": `head-${c}`, "fill-opacity": "0.35" }, $("arrows")));
  }
}

function show(node, visible) {
  node.style.display = visible ? "" : "none";
}

function drawPlot(s) {
  const square = [[-limit, -limit], [limit, -limit], [limit, limit], [-limit, limit]];
  for (const c of CLASSES) {
    let poly = square;
    for (const k of CLASSES) {
      if (k === c) continue; // class c wins where s_c - s_k >= 0 for every other k
      poly = clip(poly, s.W[0][c] - s.W[0][k], s.W[1][c] - s.W[1][k], s.b[c] - s.b[k]);
    }
    parts.regions[c].setAttribute("points", poly.map(([x, y]) => `${sx(x)},${sy(y)}`).join(" "));
  }
  for (const c of CLASSES) {
    const w = column(s.W, c);
    const ends = segment(w[0], w[1], s.b[c]);
    const base = drag && drag.cls === c ? drag.base : anchorOf(s, c);
    const visible = ends !== null && base !== null;
    for (const node of [parts.lines[c], parts.weights[c], parts.bases[c], parts.heads[c]]) show(node, visible);
    if (!visible) { show(parts.grads[c], false); continue; }
    setLine(parts.lines[c], ends[0], ends[1]);
    const head = [base[0] + w[0], base[1] + w[1]];
    setLine(parts.weights[c], base, head);
    setCircle(parts.bases[c], base);
    setCircle(parts.heads[c], head);
    const g = column(s.grad.W, c);
    const size = Math.hypot(g[0], g[1]);
    show(parts.grads[c], size > 1e-9);
    setLine(parts.grads[c], head, [head[0] - g[0], head[1] - g[1]]);
  }
  drawPoints(s);
}

function setLine(node, p, q) {
  node.setAttribute("x1", sx(p[0]));
  node.setAttribute("y1", sy(p[1]));
  node.setAttribute("x2", sx(q[0]));
  node.setAttribute("y2", sy(q[1]));
}

function setCircle(node, p) {
  node.setAttribute("cx", sx(p[0]));
  node.setAttribute("cy", sy(p[1]));
}

function drawPoints(s) {
  const group = $("points");
  while (group.children.length > s.points.length) group.lastChild.remove();
  while (group.children.length < s.points.length) {
    const i = group.children.length;
    el("circle", { r: 7, "data-drag": "point", "data-index": i, "data-testid": `point-${i}` }, group);
  }
  s.points.forEach((p, i) => {
    const node = group.children[i];
    node.setAttribute("class", `point k${s.labels[i]}`);
    if (!(drag && drag.kind === "point" && drag.index === i)) setCircle(node, p);
  });
}

function drawParams(s) {
  const body = $("params").tBodies[0];
  if (body.rows.length !== 3) {
    body.replaceChildren();
    for (const c of CLASSES) {
      const row = body.insertRow();
      row.insertCell().innerHTML = `<span class="dot k${c}"></span>${c}`;
      for (const [name, i] of [["W", 0], ["W", 1], ["b", null]]) {
        const input = document.createElement("input");
        input.type = "number";
        input.step = "0.1";
        input.dataset.testid = name === "W" ? `W-${i}-${c}` : `b-${c}`;
        input.setAttribute("aria-label", name === "W" ? `W[${i}, ${c}]` : `b[${c}]`);
        input.addEventListener("change", () => editParam(name, i, c, input.value));
        row.insertCell().appendChild(input);
      }
      for (let k = 0; k < 3; k++) row.insertCell().className = "num";
    }
  }
  for (const c of CLASSES) {
    const row = body.rows[c];
    setInput(row.cells[1].firstChild, s.W[0][c], true);
    setInput(row.cells[2].firstChild, s.W[1][c], true);
    setInput(row.cells[3].firstChild, s.b[c], true);
    setNumber(row.cells[4], -s.grad.W[0][c]);
    setNumber(row.cells[5], -s.grad.W[1][c]);
    setNumber(row.cells[6], -s.grad.b[c]);
  }
}

function drawRows(s) {
  const body = $("rows").tBodies[0];
  while (body.rows.length > s.points.length) body.deleteRow(-1);
  while (body.rows.length < s.points.length) {
    const i = body.rows.length;
    const row = body.insertRow();
    row.dataset.testid = `row-${i}`;
    row.insertCell().textContent = String(i);
    for (let k = 0; k < 7; k++) row.insertCell().className = "num";
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "remove";
    remove.dataset.testid = `remove-${i}`;
    remove.addEventListener("click", () => removePoint(i));
    row.insertCell().appendChild(remove);
  }
  s.points.forEach((p, i) => {
    const cells = body.rows[i].cells;
    setNumber(cells[1], p[0]);
    setNumber(cells[2], p[1]);
    cells[3].innerHTML = `<span class="dot k${s.labels[i]}"></span>${s.labels[i]}`;
    cells[3].dataset.value = String(s.labels[i]);
    s.rows[i].scores.forEach((v, k) => setNumber(cells[4 + k], v));
    setNumber(cells[7], s.rows[i].loss);
  });
}

function drawChart(s) {
  const chart = $("chart");
  chart.replaceChildren();
  const [W, H, left, bottom] = [600, 180, 90, 28];
  el("rect", { x: left, y: 6, width: W - left - 8, height: H - bottom - 6, class: "frame" }, chart);
  const h = s.history;
  if (!h.length) return;
  const steps = h.map((p) => p[0]);
  const totals = h.map((p) => p[1]);
  const [x0, x1] = [Math.min(...steps), Math.max(...steps)];
  const [y0, y1] = [Math.min(...totals), Math.max(...totals)];
  const X = (v) => left + (x1 > x0 ? (v - x0) / (x1 - x0) : 0.5) * (W - left - 8);
  const Y = (v) => 6 + (y1 > y0 ? (y1 - v) / (y1 - y0) : 0.5) * (H - bottom - 6);
  el("polyline", { points: h.map(([x, y]) => `${X(x)},${Y(y)}`).join(" "), class: "curve" }, chart);
  const label = (x, y, text, attrs = {}) => { el("text", { x, y, ...attrs }, chart).textContent = text; };
  label(left - 6, 6, format(y1), { "text-anchor": "end", "dominant-baseline": "hanging" });
  label(left - 6, H - bottom, format(y0), { "text-anchor": "end" });
  label(left, H - 4, `step ${x0}`);
  label(W - 8, H - 4, `step ${x1}`, { "text-anchor": "end" });
}

// ---------------------------------------------------------------- the state in the address
function writeAddress(s) {
  const parts = [
    `loss=${s.loss}`, `delta=${s.delta}`, `reg=${s.reg}`, `lr=${s.lr}`, `optimizer=${s.optimizer}`,
    `W=${s.W.flat().join(",")}`, `b=${s.b.join(",")}`,
    `points=${s.points.map((p, i) => `${p[0]},${p[1]},${s.labels[i]}`).join(";")}`,
  ];
  history.replaceState(null, "", `#${parts.join("&")}`);
}

// The state fields the address holds; the server checks them (a bad link gets its message).
function readAddress() {
  const fields = {};
  const numbers = (text) => text.split(",").map(Number);
  for (const pair of location.hash.slice(1).split("&")) {
    const at = pair.indexOf("=");
    if (at < 0) continue;
    const [key, value] = [pair.slice(0, at), decodeURIComponent(pair.slice(at + 1))];
    if (key === "loss" || key === "optimizer") fields[key] = value;
    else if (key === "delta" || key === "reg" || key === "lr") fields[key] = Number(value);
    else if (key === "W") { const w = numbers(value); fields.W = [w.slice(0, 3), w.slice(3)]; }
    else if (key === "b") fields.b = numbers(value);
    else if (key === "points") {
      const rows = value.split(";").map(numbers);
      fields.points = rows.map((r) => r.slice(0, 2));
      fields.labels = rows.map((r) => r[2]);
    }
  }
  return fields;
}

// ---------------------------------------------------------------- what the user does
function editParam(name, i, c, text) {
  const value = Number(text === "" ? NaN : text); // NaN is sent as null: the server says why
  if (name === "W") {
    const W = state.W.map((row) => row.slice());
    W[i][c] = value;
    update("api/state", { W });
  } else {
    const b = state.b.slice();
    b[c] = value;
    update("api/state", { b });
  }
}

function removePoint(i) {
  update("api/state", {
    points: state.points.filter((_, k) => k !== i),
    labels: state.labels.filter((_, k) => k !== i),
  });
}

function addPoint(p) {
  const label = Number(document.querySelector("input[name=add-class]:checked").value);
  update("api/state", { points: [...state.points, p], labels: [...state.labels, label] });
}

// A drag sends its latest position when the previous answer is in, never a backlog.
let dragWaiting = null;
let dragSending = false;

function sendDrag(fields) {
  dragWaiting = fields;
  if (dragSending) return;
  dragSending = true;
  const loop = async () => {
    while (dragWaiting) {
      const next = dragWaiting;
      dragWaiting = null;
      await update("api/state", next);
    }
    dragSending = false;
  };
  loop();
}

function dragFields(d, q) {
  if (d.kind === "point") {
    const points = state.points.map((p) => p.slice());
    points[d.index] = q;
    return { points };
  }
  const W = state.W.map((row) => row.slice());
  const b = state.b.slice();
  const lim = state.limits.weight;
  const clampW = (v) => Math.max(-lim, Math.min(lim, v));
  let w = d.w;
  if (d.kind === "head") w = [q[0] - d.base[0], q[1] - d.base[1]]; // turn and stretch
  const anchor = d.kind === "head" ? d.base : q; // the line keeps passing through anchor
  W[0][d.cls] = clampW(w[0]);
  W[1][d.cls] = clampW(w[1]);
  b[d.cls] = clampW(-(W[0][d.cls] * anchor[0] + W[1][d.cls] * anchor[1]));
  return { W, b };
}

function onPointerDown(event) {
  const target = event.target.closest("[data-drag]");
  if (!target || !state || running) return;
  event.preventDefault();
  const kind = target.dataset.drag;
  const cls = Number(target.dataset.class);
  drag = { kind, node: target, moved: false, pointer: event.pointerId };
  if (kind === "point") drag.index = Number(target.dataset.index);
  else {
    drag.cls = cls;
    drag.w = column(state.W, cls);
    drag.base = anchors[cls];
  }
  target.classList.add("dragging");
  target.setPointerCapture(event.pointerId); // moves reach the plot's listener by bubbling
}

function onPointerMove(event) {
  if (!drag || event.pointerId !== drag.pointer) return;
  const q = toData(event);
  drag.moved = true;
  if (drag.kind === "point") setCircle(drag.node, q);
  if (drag.kind === "base") drag.base = q;
  sendDrag(dragFields(drag, q));
}

function onPointerUp(event) {
  if (!drag || event.pointerId !== drag.pointer) return;
  const d = drag;
  drag = null;
  d.node.classList.remove("dragging");
  if (d.node.hasPointerCapture(event.pointerId)) d.node.releasePointerCapture(event.pointerId);
  if (d.moved) {
    if (d.kind !== "point") anchors[d.cls] = d.kind === "base" ? toData(event) : d.base;
    sendDrag(dragFields(d, toData(event)));
  }
}

// A click on the plot's background adds a point (a click on a point or handle is a drag).
function onClick(event) {
  if (!state || running || event.target.closest("[data-drag]")) return;
  addPoint(toData(event));
}

function onDoubleClick(event) {
  const target = event.target.closest("[data-drag=point]");
  if (target && state && !running) removePoint(Number(target.dataset.index));
}

async function runLoop() {
  while (running) {
    const started = performance.now();
    await update("api/step", { steps: 1 });
    const wait = RUN_INTERVAL - (performance.now() - started);
    if (running && wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

// ---------------------------------------------------------------- the gradient check
function renderGradcheck(report) {
  $("gradcheck-panel").hidden = false;
  const summary = $("gradcheck-summary");
  summary.textContent = `${report.summary}, at step ${report.step}`;
  summary.className = report.passed ? "passed" : "failed";
  const body = $("gradcheck-table").tBodies[0];
  body.replaceChildren();
  for (const r of report.rows) {
    const row = body.insertRow();
    row.insertCell().textContent = r.input;
    row.insertCell().textContent = `(${r.shape.join(", ")})`;
    row.insertCell().textContent = r.status;
    row.insertCell().textContent = r.worst === null ? "" : `(${r.worst.join(", ")})`;
    for (const v of [r.analytic, r.numerical]) {
      const cell = row.insertCell();
      cell.className = "num";
      if (v !== null) { cell.textContent = v.toPrecision(8); cell.dataset.value = String(v); }
    }
    const rel = row.insertCell();
    rel.className = "num";
    if (r.rel !== null) { rel.textContent = r.rel.toPrecision(3); rel.dataset.value = String(r.rel); }
    const kinks = row.insertCell();
    kinks.className = "num";
    kinks.textContent = String(r.kinks);
  }
  $("gradcheck-note").textContent = `relative error = ${report.relative_error} for analytic a and ` +
    "numerical n (central differences); coordinates whose step crosses a kink of max(0, .) or max " +
    `are reported and left out of the verdict: ${report.kink_count} here.`;
  const list = $("gradcheck-kinks");
  list.replaceChildren();
  for (const k of report.kinks) {
    const item = document.createElement("li");
    item.textContent = k;
    list.appendChild(item);
  }
}

// ---------------------------------------------------------------- the computation graph
let graphSending = false;
let graphAgain = false;

function refreshGraph() {
  if (graphSending) { graphAgain = true; return; }
  graphSending = true;
  enqueue(async () => {
    const answer = await call("api/graph", { session, collapse: [...collapsed] });
    const svg = new DOMParser().parseFromString(answer.svg, "image/svg+xml").documentElement;
    $("graph-view").replaceChildren(document.importNode(svg, true));
    const scopes = $("graph-scopes");
    scopes.replaceChildren(document.createTextNode("Collapse: "));
    for (const name of answer.scopes) {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = collapsed.has(name);
      box.dataset.testid = `collapse-${name}`;
      box.addEventListener("change", () => {
        if (box.checked) collapsed.add(name); else collapsed.delete(name);
        refreshGraph();
      });
      label.append(box, ` ${name}`);
      scopes.appendChild(label);
    }
  }).finally(() => {
    graphSending = false;
    if (graphAgain) { graphAgain = false; refreshGraph(); }
  });
}

// ---------------------------------------------------------------- wiring
function wire() {
  plot.addEventListener("pointerdown", onPointerDown);
  plot.addEventListener("pointermove", onPointerMove);
  plot.addEventListener("pointerup", onPointerUp);
  plot.addEventListener("pointercancel", onPointerUp);
  plot.addEventListener("click", onClick);
  plot.addEventListener("dblclick", onDoubleClick);
  $("loss-kind").addEventListener("change", (e) => update("api/state", { loss: e.target.value }));
  $("optimizer").addEventListener("change", (e) => update("api/state", { optimizer: e.target.value }));
  for (const id of ["delta", "reg", "lr"]) {
    $(id).addEventListener("change", (e) => {
      const text = e.target.value;
      update("api/state", { [id]: text === "" ? null : Number(text) });
    });
  }
  $("step").addEventListener("click", () => update("api/step", { steps: 1 }));
  $("run").addEventListener("click", () => {
    if (running) return;
    running = true;
    showRunning();
    runLoop();
  });
  $("stop").addEventListener("click", () => { running = false; showRunning(); });
  $("randomize-data").addEventListener("click", () => update("api/randomize", { what: "data" }));
  $("randomize-params").addEventListener("click", () => update("api/randomize", { what: "params" }));
  $("gradcheck").addEventListener("click", () => enqueue(async () => {
    renderGradcheck(await call("api/gradcheck", { session }));
  }));
  $("graph").addEventListener("change", (e) => {
    $("graph-panel").hidden = !e.target.checked;
    if (e.target.checked) refreshGraph();
  });
}

async function start() {
  const fresh = await call("api/state");
  session = fresh.session;
  limit = fresh.limits.coordinate;
  buildPlot();
  let fields = {};
  try {
    fields = readAddress();
  } catch (error) { // e.g. a broken %-escape in a hand-edited link
    render(fresh);
    showError(`the link cannot be read: ${error.message}`);
    return;
  }
  if (Object.keys(fields).length === 0) {
    render(fresh);
    return;
  }
  try {
    render(await call("api/state", { session, ...fields }));
  } catch (error) {
    render(fresh);
    showError(`the link's state was refused: ${error.message}`);
  }
}

wire();
showRunning();
enqueue(start);
