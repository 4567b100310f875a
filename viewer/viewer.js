// The chainette-stream viewer page: plain DOM, hand-drawn <canvas> charts, no dependencies.
// Everything from the run is shown with textContent (row content is model output: never HTML).
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const app = {
  run: Number(params.get("run") ?? 0),
  snapshot: null,
  points: [],
  failedSeen: -1,
  commitsSeen: -1,
  group: null,
  failuresNext: null,
  page: { folder: "flattened", next: null, previous: null, live: false },
  events: null,
};

function text(tag, value, className) {
  const element = document.createElement(tag);
  element.textContent = value === null || value === undefined ? "" : String(value);
  if (className) element.className = className;
  return element;
}

function row(cells, onClick) {
  const tr = document.createElement("tr");
  for (const cell of cells) tr.append(cell instanceof Node ? cell : text("td", cell));
  if (onClick) {
    tr.className = "clickable";
    tr.tabIndex = 0;
    tr.addEventListener("click", onClick);
    tr.addEventListener("keydown", (event) => { if (event.key === "Enter") onClick(); });
  }
  return tr;
}

async function api(path, query = {}) {
  const url = new URL(path, location.origin);
  url.searchParams.set("run", String(app.run));
  for (const [key, value] of Object.entries(query)) if (value !== null && value !== undefined) url.searchParams.set(key, String(value));
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ?? response.statusText);
  return body;
}

const number = new Intl.NumberFormat("en");
function count(value) { return value === null || value === undefined ? "–" : number.format(value); }
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// ---- state, tiles, nodes ----
function renderState(snapshot) {
  app.snapshot = snapshot;
  $("chain").textContent = snapshot.chain ?? "chainette-stream";
  const state = $("state");
  state.textContent = snapshot.ended && snapshot.state === "stopped" ? `stopped (${snapshot.ended})` : snapshot.state;
  state.className = `state ${snapshot.state}`;
  state.dataset.state = snapshot.state;
  const holder = snapshot.holder;
  let why = snapshot.why ?? "";
  if (holder && holder.live) why = `${why}${why ? "\n" : ""}pid ${holder.pid ?? "?"} on ${holder.host ?? "?"} since ${holder.started_at ?? "?"}`;
  if (snapshot.state === "stopped" && snapshot.resume_command) why += `\nresume with: ${snapshot.resume_command}`;
  $("why").textContent = why;
  const t = snapshot.tiles;
  $("tile-done").textContent = t.total === null ? count(t.done) : `${count(t.done)} / ${count(t.total)}`;
  $("progress").style.width = t.total ? `${Math.min(100, (t.done / t.total) * 100).toFixed(1)}%` : "0";
  $("tile-rate").textContent = count(t.rows_per_s);
  $("tile-tokens").textContent = count(t.tokens_per_s);
  $("tile-errors").textContent = `${count(t.failed)}${t.done ? ` (${((t.failed / Math.max(1, t.ok + t.failed)) * 100).toFixed(1)}%)` : ""}`;
  $("tile-eta").textContent = snapshot.state === "complete" ? "done" : duration(t.eta_s);
  $("tile-elapsed").textContent = duration(t.elapsed_s);
  const body = $("nodes").tBodies[0];
  body.replaceChildren(...snapshot.node_table.map((n) => row([n.node, count(n.ok), count(n.failed), count(n.filtered), count(n.input_tokens), count(n.output_tokens), n.p50_ms, n.p90_ms, n.p99_ms])));
  const folder = $("folder");
  if (folder.options.length !== snapshot.folders.length) {
    folder.replaceChildren(...snapshot.folders.map((name) => { const option = text("option", name); option.value = name; return option; }));
    folder.value = app.page.folder;
  }
  if (t.failed !== app.failedSeen) {
    app.failedSeen = t.failed;
    loadErrors().catch(showProblem);
  }
  if (t.commits !== app.commitsSeen) {
    const first = app.commitsSeen === -1;
    app.commitsSeen = t.commits;
    loadRollups().catch(showProblem);
    if (first) loadRows("tail").catch(showProblem);
    else if (app.page.live) followTail().catch(showProblem);
  }
}

// ---- charts ----
async function loadRollups() {
  const since = app.points.length > 0 ? app.points[app.points.length - 1].t : 0;
  const { points } = await api("/api/rollups", { since });
  // The last bucket may have grown since it was read: replace it.
  app.points = app.points.filter((point) => point.t < since).concat(points);
  drawCharts();
}

function drawCharts() {
  const p = app.points;
  chart($("chart-throughput"), p, [{ color: "--c1", value: (x) => x.rows / (x.width_ms / 1000) }]);
  chart($("chart-latency"), p, [{ color: "--c1", value: (x) => x.p50_ms }, { color: "--c2", value: (x) => x.p99_ms }]);
  const per10s = (x) => x.width_ms / 10_000;
  chart($("chart-errors"), p, [{ color: "--c3", value: (x) => x.failed / per10s(x) }, { color: "--c2", value: (x) => x.retries / per10s(x) }]);
}

function chart(canvas, points, series) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 600;
  const height = canvas.clientHeight || 180;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  const style = getComputedStyle(document.documentElement);
  const left = 44, bottom = 18, top = 6;
  const plotW = width - left - 6, plotH = height - bottom - top;
  g.font = "10px system-ui, sans-serif";
  g.fillStyle = style.getPropertyValue("--muted");
  g.strokeStyle = style.getPropertyValue("--line");
  g.strokeRect(left, top, plotW, plotH);
  canvas.dataset.points = String(points.length);
  if (points.length === 0) {
    g.fillText("no commits yet", left + 8, top + 16);
    return;
  }
  // Buckets with no commit are gaps at zero, so a stall shows as one.
  const t0 = points[0].t, t1 = Math.max(points[points.length - 1].t, t0 + points[0].width_ms);
  const max = Math.max(1e-9, ...series.flatMap((s) => points.map(s.value)));
  const x = (t) => left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (v) => top + plotH - (v / max) * plotH;
  g.fillText(formatAxis(max), 2, top + 8);
  g.fillText("0", 2, top + plotH);
  g.fillText(new Date(t0).toLocaleTimeString(), left, height - 4);
  const end = new Date(t1).toLocaleTimeString();
  g.fillText(end, width - 6 - g.measureText(end).width, height - 4);
  for (const s of series) {
    g.strokeStyle = style.getPropertyValue(s.color);
    g.lineWidth = 1.5;
    g.beginPath();
    let previous = null;
    for (const point of points) {
      if (previous !== null && point.t - previous.t > previous.width_ms) {
        g.lineTo(x(previous.t + previous.width_ms), y(0));
        g.lineTo(x(point.t - point.width_ms), y(0));
      }
      if (previous === null) g.moveTo(x(point.t), y(s.value(point)));
      else g.lineTo(x(point.t), y(s.value(point)));
      previous = point;
    }
    g.stroke();
    // Few points (a short run, or its first minutes): each one marked, so a single bucket shows.
    if (points.length <= 60) {
      g.fillStyle = g.strokeStyle;
      for (const point of points) {
        g.beginPath();
        g.arc(x(point.t), y(s.value(point)), 3, 0, 2 * Math.PI);
        g.fill();
      }
    }
  }
}

function formatAxis(value) {
  return value >= 1000 ? `${(value / 1000).toFixed(1)}k` : value >= 10 ? value.toFixed(0) : value.toFixed(1);
}

// ---- errors ----
async function loadErrors() {
  const { groups } = await api("/api/errors");
  const body = $("error-groups").tBodies[0];
  const shown = app.group ? groups.filter((g) => g.node === app.group.node && g.type === app.group.type) : groups;
  body.replaceChildren(...shown.map((g) => {
    const tr = row([g.node, g.type, count(g.count), text("td", `row ${g.sample_row_id}: ${g.sample}`, "text")], () => filterGroup(g));
    tr.dataset.type = g.type;
    return tr;
  }));
  if (groups.length === 0) body.replaceChildren(row([text("td", "no errors", "muted")]));
}

async function filterGroup(group) {
  app.group = { node: group.node, type: group.type };
  $("clear-filter").hidden = false;
  $("failures-panel").hidden = false;
  $("failures-title").textContent = `${group.type} at ${group.node}: ${count(group.count)} rows`;
  $("failures").tBodies[0].replaceChildren();
  app.failuresNext = null;
  await loadErrors();
  await moreFailures();
}

async function moreFailures() {
  if (!app.group) return;
  const page = await api("/api/failures", { ...app.group, after: app.failuresNext, limit: 50 });
  app.failuresNext = page.next;
  $("failures-more").hidden = page.next === null;
  $("failures").tBodies[0].append(...page.failures.map((f) => row([f.rowId, f.attempts, f.status ?? "", text("td", f.message, "text")], () => openRow({ id: f.rowId }))));
}

// ---- rows ----
async function loadRows(direction) {
  const folder = app.page.folder;
  const query = { folder, limit: 50 };
  if (direction === "first") query.after = "0:0";
  else if (direction === "next") query.after = app.page.next;
  else if (direction === "previous") query.before = app.page.previous;
  if (direction === "previous" && !app.page.previous) return;
  const page = await api("/api/rows", query);
  if (direction === "next" && page.lines.length === 0) { $("rows-note").textContent = "no more rows yet"; return; }
  app.page.next = page.next;
  app.page.previous = page.previous;
  $("rows-note").textContent = "";
  $("rows").tBodies[0].replaceChildren(...page.lines.map((line) => rowLine(folder, line)));
  $("rows-previous").disabled = page.previous === null;
}

async function followTail() {
  const body = $("rows").tBodies[0];
  const page = await api("/api/rows", { folder: app.page.folder, after: app.page.next, limit: 200 });
  if (page.lines.length === 0) return;
  app.page.next = page.next;
  body.append(...page.lines.map((line) => rowLine(app.page.folder, line)));
  while (body.rows.length > 200) body.deleteRow(0);
  app.page.previous = body.rows[0]?.dataset.cursor ?? app.page.previous;
  $("rows-previous").disabled = false;
}

function rowLine(folder, line) {
  const id = /^\{"row_id":"([\d.]+)"/.exec(line.text)?.[1] ?? "?";
  const tr = row([id, text("td", line.text, "text")], () => {
    for (const other of tr.parentElement?.children ?? []) other.classList.remove("selected");
    tr.classList.add("selected");
    openRow({ folder, cursor: line.cursor }).catch(showProblem);
  });
  tr.dataset.cursor = line.cursor;
  return tr;
}

/** Where a record is, from its cursor: `seq:offset` (JSONL), `seq:rROW` (sealed Parquet), `seq:rROW:offset` (a Parquet run's staging JSONL). */
function recordPlace(folder, cursor) {
  const [seq, place, offset] = cursor.split(":");
  const shard = `${folder}/${seq.padStart(3, "0")}`;
  if (!place.startsWith("r")) return `${shard}.jsonl, byte ${place}`;
  const row = `row ${place.slice(1)}`;
  return offset === undefined ? `${shard}.parquet, ${row}` : `${folder}/.staging/${seq.padStart(3, "0")}.jsonl, ${row}, byte ${offset}`;
}

async function openRow(query) {
  const detail = await api("/api/row", query);
  $("detail").hidden = false;
  $("detail-id").textContent = detail.row_id;
  $("detail-note").textContent =
    "What the run records of a row: the input and each node's parsed output (flattened/ and the node folders), " +
    "and for a failed row its error (type, message, attempts, HTTP status) with the raw reply when it could not be parsed. " +
    "Rendered prompts and the raw replies of rows that succeeded are not recorded (run --dry-run N prints the prompts).";
  const records = detail.records.map((record) => {
    const box = document.createElement("div");
    box.append(text("h3", `${record.folder} (${recordPlace(record.folder, record.cursor)})`));
    let shown = record.text;
    try { shown = JSON.stringify(JSON.parse(record.text), null, 2); } catch { /* a cut line: as it is */ }
    box.append(text("pre", shown));
    return box;
  });
  if (detail.failure) {
    const box = document.createElement("div");
    box.append(text("h3", "failure (ledger)"), text("pre", JSON.stringify(detail.failure, null, 2)));
    records.push(box);
  }
  if (records.length === 0) records.push(text("p", "no committed records of this row (yet)", "muted"));
  $("detail-records").replaceChildren(...records);
  $("detail").scrollIntoView({ block: "nearest" });
}

// ---- runs and live updates ----
async function loadRuns() {
  const response = await fetch("/api/runs");
  const { runs, totals } = await response.json();
  const picker = $("runs");
  picker.replaceChildren(...runs.map((run) => {
    const option = text("option", `${run.name}: ${run.state} ${count(run.done)}${run.total === null ? "" : ` / ${count(run.total)}`}`);
    option.value = String(run.id);
    return option;
  }));
  picker.value = String(app.run);
  $("run-picker").hidden = runs.length < 2;
  const states = new Map();
  for (const run of runs) states.set(run.state, (states.get(run.state) ?? 0) + 1);
  $("runs-summary").textContent = runs.length < 2 ? "" :
    `${runs.length} runs (${[...states].map(([state, n]) => `${n} ${state}`).join(", ")}), ${count(totals.done)}${totals.total === null ? "" : ` / ${count(totals.total)}`} rows done in all`;
}

// The picker's states and totals follow the runs, at most every 5 s.
let runsRefreshed = 0;
function refreshRuns() {
  if (Date.now() - runsRefreshed < 5000) return;
  runsRefreshed = Date.now();
  loadRuns().catch(showProblem);
}

function connect() {
  app.events?.close();
  const events = new EventSource(`/api/events?run=${app.run}`);
  app.events = events;
  events.addEventListener("state", (event) => {
    $("connection").textContent = `updated ${new Date().toLocaleTimeString()}`;
    renderState(JSON.parse(event.data));
    if (!$("run-picker").hidden) refreshRuns();
  });
  events.addEventListener("problem", (event) => showProblem(new Error(JSON.parse(event.data).error)));
  events.onerror = () => { $("connection").textContent = "viewer server unreachable: retrying"; };
}

function showProblem(error) {
  $("connection").textContent = `problem: ${error.message}`;
}

$("runs").addEventListener("change", () => {
  const url = new URL(location.href);
  url.searchParams.set("run", $("runs").value);
  location.assign(url);
});
$("folder").addEventListener("change", () => { app.page.folder = $("folder").value; loadRows("tail").catch(showProblem); });
$("rows-first").addEventListener("click", () => loadRows("first").catch(showProblem));
$("rows-previous").addEventListener("click", () => loadRows("previous").catch(showProblem));
$("rows-next").addEventListener("click", () => loadRows("next").catch(showProblem));
$("rows-tail").addEventListener("click", () => loadRows("tail").catch(showProblem));
$("rows-live").addEventListener("change", () => {
  app.page.live = $("rows-live").checked;
  if (app.page.live) loadRows("tail").catch(showProblem);
});
$("clear-filter").addEventListener("click", () => {
  app.group = null;
  $("clear-filter").hidden = true;
  $("failures-panel").hidden = true;
  loadErrors().catch(showProblem);
});
$("failures-more").addEventListener("click", () => moreFailures().catch(showProblem));
$("detail-close").addEventListener("click", () => { $("detail").hidden = true; });
window.addEventListener("resize", drawCharts);

loadRuns().catch(showProblem);
connect();
