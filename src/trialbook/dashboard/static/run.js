// One run: status and timings, curves (x axis, smoothing, log scale, zoom), system metrics,
// config with a diff against another run, provenance, evaluations with the per-sample table,
// the data map, files and the stdout/stderr tail. A running run's curves and logs follow live
// (history?after_step= and logs?offset= every second); nothing is reloaded.
import {
  api, append, el, every, post, fmtDuration, fmtNumber, fmtTime, fmtValue, header, numCell,
  queryState, replace, setQuery, showError, statusBadge,
} from "./common.js";
import { curveTraces, draw, fitWidth, lineLayout, plotText } from "./plots.js";

const ref = decodeURIComponent(window.location.pathname.replace(/^\/runs\//, ""));
const R = (path) => `runs/${encodeURIComponent(ref)}${path}`;
const q = queryState();
const state = {
  metric: q.metric || [],
  x: ["step", "time", "relative"].includes((q.x || [""])[0]) ? q.x[0] : "step",
  smooth: Math.min(0.99, Math.max(0, Number((q.smooth || ["0"])[0]) || 0)),
  log: (q.log || [""])[0] === "true",
  diff: (q.diff || [""])[0],
  benchmark: (q.benchmark || [""])[0],
  filter: ["all", "wrong", "right"].includes((q.filter || [""])[0]) ? q.filter[0] : "all",
  sq: (q.sq || [""])[0],
  soffset: Number((q.soffset || ["0"])[0]) || 0,
  stream: (q.stream || ["stdout"])[0] === "stderr" ? "stderr" : "stdout",
};
const main = document.getElementById("main");
const parts = {};
const charts = new Map(); // key -> {node, curve, system}
let doc = null;
let status = null;
let writable = false; // from /api/session: may tags and notes be changed here
let ticks = 0; // live updates so far
let metricTotal = null; // metrics the run had at the last listing
let metricSearch = ""; // what the metric list is filtered by
let chosenByUser = state.metric.length > 0; // else the first six, kept up to date live

function save() {
  setQuery({ metric: state.metric, x: state.x === "step" ? "" : state.x,
    smooth: state.smooth || "", log: state.log ? "true" : "", diff: state.diff,
    benchmark: state.benchmark, filter: state.filter === "all" ? "" : state.filter, sq: state.sq,
    soffset: state.soffset || "", stream: state.stream === "stdout" ? "" : state.stream });
}

function section(id, title, ...children) {
  return el("section", { id }, el("h2", {}, title), ...children);
}

function facts(pairs) {
  return el("dl", { class: "facts" }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function renderHeader() {
  const d = doc;
  parts.status = el("span", { id: "run-status" }, statusBadge(d.status));
  parts.timings = el("div", { id: "timings" });
  replace(parts.head,
    el("h1", { id: "run-name" }, d.name || d.short_id, " ", parts.status),
    el("div", { class: "muted mono" }, d.id),
    parts.timings,
    el("details", { id: "edit-box" }, el("summary", {}, writable ? "Edit tags and notes" : "Tags and notes (read-only)"), parts.edit),
    d.error ? el("pre", { class: "log", id: "run-error" }, d.error) : null);
  renderTimings();
}

function renderTimings() {
  const d = doc;
  replace(parts.timings, facts([
    ["Experiment", d.experiment], ["Seed", d.seed === null ? null : String(d.seed)],
    ["Group", d.group_key ? "group:" + String(d.group_key).slice(0, 12) : null],
    ["Tags", (d.tags || []).length ? el("span", { class: "chips" }, d.tags.map((t) => el("span", { class: "chip" }, t))) : null],
    ["Started", fmtTime(d.started_at)], ["Ended", fmtTime(d.ended_at)],
    ["Duration", d.duration !== null && d.duration !== undefined ? fmtDuration(d.duration)
      : d.status === "running" && d.timestamps && d.timestamps.started_at
        ? `${fmtDuration(Date.now() / 1000 - d.timestamps.started_at)} so far` : null], ["Last heartbeat", fmtTime(d.heartbeat_at)],
    ["Host", d.host], ["PID", d.pid === null ? null : String(d.pid)],
    ["Folder", d.folder], ["Notes", d.notes],
  ]));
}

// ---- tags and notes (a writable dashboard only; a read-only one says so) ------------------

function renderEdit() {
  if (!writable) {
    replace(parts.edit, el("p", { class: "muted", id: "read-only" },
      "This dashboard is read-only: start it with trialbook ui --writable to edit tags and notes."));
    return;
  }
  const message = el("div", { id: "edit-message" });
  const add = el("input", { type: "text", id: "tag-add", placeholder: "tags to add, comma separated" });
  const notes = el("textarea", { id: "notes", rows: "3", maxlength: "100000" });
  notes.value = doc.notes || "";
  const done = (written) => {
    doc = { ...doc, tags: written.tags, notes: written.notes };
    renderTimings();
    renderEdit();
    replace(parts.editMessage || message, el("p", { class: "muted" }, "Saved."));
  };
  const fail = (e) => replace(message, el("div", { class: "error" }, e.message));
  const removeButtons = (doc.tags || []).map((t) => el("span", { class: "chip" }, t, " ",
    el("button", { type: "button", "aria-label": "remove tag", onclick: () =>
      post(R("/tags"), { add: [], remove: [t] }).then(done, fail) }, "×")));
  const form = el("form", { class: "toolbar", onsubmit: (e) => {
    e.preventDefault();
    const tags = add.value.split(",").map((t) => t.trim()).filter(Boolean);
    const work = tags.length ? post(R("/tags"), { add: tags, remove: [] }) : Promise.resolve(null);
    work.then(() => post(R("/notes"), { notes: notes.value })).then(done, fail);
  } }, el("label", {}, "Add tags", add), el("label", {}, "Notes", notes),
  el("button", { type: "submit", id: "save-edit" }, "Save"));
  parts.editMessage = message;
  replace(parts.edit, el("div", { class: "chips" }, removeButtons), form, message);
}

// ---- curves -------------------------------------------------------------------------------

async function loadMetrics(search = metricSearch) {
  metricSearch = search;
  const data = await api(R("/metrics"), { q: search, limit: 200 });
  if (!search) metricTotal = data.total;
  const metrics = data.metrics || [];
  const train = metrics.filter((m) => !m.system);
  const system = metrics.filter((m) => m.system);
  if (!chosenByUser) state.metric = train.slice(0, 6).map((m) => m.key);
  const choose = (m) => el("label", {}, el("input", { type: "checkbox", value: m.key,
    checked: state.metric.includes(m.key), onchange: (e) => {
      chosenByUser = true;
      state.metric = e.target.checked ? [...state.metric, m.key] : state.metric.filter((k) => k !== m.key);
      save();
      drawCurves();
    } }), " ", m.key, el("span", { class: "muted" }, ` (${m.count})`));
  const find = el("input", { type: "search", placeholder: "search metrics", value: search });
  find.addEventListener("change", () => loadMetrics(find.value).catch((e) => showError(parts.curves, e)));
  replace(parts.metricList, el("div", { class: "toolbar" }, find,
    el("span", { class: "muted" }, `${data.total} metric${data.total === 1 ? "" : "s"}${system.length ? ` (${system.length} system)` : ""}`)),
  el("div", { class: "metric-list", id: "metric-list" }, train.map(choose)));
  replace(parts.summary, metrics.length ? el("div", { class: "table-wrap" }, el("table", { id: "metric-summary" },
    el("thead", {}, el("tr", {}, ["Metric", "Last", "Min", "Max", "Points", "Last step"].map((c) => el("th", {}, c)))),
    el("tbody", {}, metrics.map((m) => el("tr", {}, el("td", { class: "name" }, m.key),
      numCell(m.last), numCell(m.min), numCell(m.max), numCell(m.count), numCell(m.last_step)))))) : el("p", { class: "muted" }, "No metric logged yet."));
  parts.systemKeys = system.slice(0, 8).map((m) => m.key);
  drawCurves();
  drawSystem();
}

function chartNode(key, system) {
  const existing = charts.get(key);
  if (existing) return existing;
  const node = el("div", { class: "chart", "data-key": key });
  const box = el("div", {}, el("div", { class: "chart-title" }, key), node);
  fitWidth(node, box); // the grid gets a column when a metric joins a running run's charts
  const entry = { node, box, curve: null, system };
  charts.set(key, entry);
  return entry;
}

async function fetchCurve(entry, key) {
  const curve = await api(R("/history"), { key, x: state.x, points: 1000 });
  entry.curve = curve;
  plot(entry);
}

function plot(entry) {
  const c = entry.curve;
  if (!c) return;
  draw(entry.node, curveTraces(c, { axis: state.x, smoothing: state.smooth, name: c.key }),
    lineLayout({ axis: state.x, log: state.log }));
  entry.node.dataset.points = String(c.x.length);
}

async function drawCurves() {
  const keys = state.metric;
  for (const [key, entry] of charts) {
    if (!entry.system && !keys.includes(key)) { charts.delete(key); entry.box.remove(); }
  }
  const boxes = keys.map((key) => chartNode(key, false).box);
  replace(parts.charts, ...boxes);
  if (!keys.length) append(parts.charts, el("p", { class: "muted" }, "Choose metrics to plot."));
  await Promise.all(keys.map((key) => fetchCurve(charts.get(key), key)
    .catch((e) => showError(charts.get(key).node, e))));
}

async function drawSystem() {
  const keys = parts.systemKeys || [];
  parts.systemSection.hidden = !keys.length;
  replace(parts.system, ...keys.map((key) => chartNode(key, true).box));
  await Promise.all(keys.map((key) => fetchCurve(charts.get(key), key)
    .catch((e) => showError(charts.get(key).node, e))));
}

/** A running run's newer points, appended to each open chart. */
async function growCurves() {
  for (const [key, entry] of charts) {
    const c = entry.curve;
    if (!c) continue;
    const after = c.last_step;
    const more = await api(R("/history"), { key, x: state.x, points: 1000,
      after_step: after === null || after === undefined ? "" : after });
    if (!more.x.length) continue;
    if (c.x.length + more.x.length > 5000) {
      await fetchCurve(entry, key); // keep the drawn curve bounded: downsample again
      continue;
    }
    c.x.push(...more.x);
    c.y.push(...more.y);
    if (c.y_min && more.y_min) c.y_min.push(...more.y_min);
    if (c.y_max && more.y_max) c.y_max.push(...more.y_max);
    c.last_step = more.last_step;
    c.total = (c.total || 0) + more.x.length;
    plot(entry);
  }
}

function curveControls() {
  const axis = el("select", { id: "x-axis", "aria-label": "x axis" },
    [["step", "step"], ["time", "wall time"], ["relative", "relative time"]]
      .map(([v, label]) => el("option", { value: v, selected: state.x === v }, label)));
  axis.addEventListener("change", () => { state.x = axis.value; save(); redrawAll(true); });
  const smoothing = el("input", { type: "range", id: "smoothing", min: "0", max: "0.99", step: "0.01",
    value: String(state.smooth), "aria-label": "smoothing" });
  const shown = el("span", { class: "muted" }, state.smooth.toFixed(2));
  smoothing.addEventListener("input", () => {
    state.smooth = Number(smoothing.value); shown.textContent = state.smooth.toFixed(2); save(); redrawAll(false);
  });
  const log = el("input", { type: "checkbox", id: "log-y", checked: state.log });
  log.addEventListener("change", () => { state.log = log.checked; save(); redrawAll(false); });
  return el("div", { class: "toolbar" }, el("label", {}, "x", axis),
    el("label", {}, "smoothing", smoothing, shown), el("label", {}, log, "log y"),
    el("span", { class: "muted" }, "drag to zoom, double-click to reset"));
}

function redrawAll(refetch) {
  for (const [key, entry] of charts) {
    if (refetch) fetchCurve(entry, key).catch((e) => showError(entry.node, e));
    else plot(entry);
  }
}

// ---- config and provenance ----------------------------------------------------------------

function renderConfig() {
  const other = el("input", { type: "text", id: "diff-other", placeholder: "another run (id, prefix or name)",
    value: state.diff });
  parts.diff = el("div", { id: "config-diff" });
  const form = el("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); state.diff = other.value.trim(); save(); loadDiff(); } },
    el("label", {}, "Diff against", other), el("button", { type: "submit" }, "Diff"));
  replace(parts.config, el("pre", { id: "config-yaml", class: "mono" }, doc.config_yaml || "(empty config)"), form, parts.diff);
  if (state.diff) loadDiff();
}

async function loadDiff() {
  if (!state.diff) { replace(parts.diff); return; }
  try {
    const d = await api(R("/config-diff"), { other: state.diff });
    const rows = d.differences || [];
    replace(parts.diff, rows.length
      ? el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, el("tr", {},
        el("th", {}, "Key"), el("th", {}, "This run"), el("th", {}, state.diff))),
      el("tbody", {}, rows.map((r) => el("tr", {}, el("td", { class: "mono" }, r.key),
        el("td", { class: "text diff-a" }, fmtValue(r.a)), el("td", { class: "text diff-b" }, fmtValue(r.b)))))))
      : el("p", { class: "note" }, "The configs are the same."));
  } catch (e) {
    showError(parts.diff, e);
  }
}

/** Any JSON value as nested definition lists; long or multi-line text in a <pre>. */
function tree(value, depth = 0) {
  if (value === null || value === undefined) return el("span", { class: "muted" }, "–");
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== "object")) {
      return el("span", { class: "chips" }, value.map((v) => el("span", { class: "chip" }, fmtValue(v))));
    }
    return el("div", {}, value.map((v) => el("div", { class: "note" }, tree(v, depth + 1))));
  }
  if (typeof value === "object") {
    return el("dl", { class: "facts" }, Object.entries(value).flatMap(([k, v]) =>
      [el("dt", {}, k), el("dd", {}, tree(v, depth + 1))]));
  }
  if (typeof value === "string" && (value.includes("\n") || value.length > 160)) {
    return el("pre", { class: "mono" }, value);
  }
  return el("span", {}, fmtValue(value));
}

function renderProvenance() {
  const d = doc;
  const git = facts([["Commit", d.git_commit], ["Branch", d.git_branch],
    ["Dirty", d.git_dirty === null || d.git_dirty === undefined ? null : String(d.git_dirty)]]);
  const datasets = (d.datasets || []).length ? el("div", {}, el("h3", {}, "Data"),
    el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, el("tr", {},
      ["Name", "Path", "Rows", "Size", "SHA-256"].map((c) => el("th", {}, c)))),
    el("tbody", {}, d.datasets.map((s) => el("tr", {}, el("td", {}, s.name), el("td", { class: "text" }, s.path),
      numCell(s.rows), numCell(s.size), el("td", { class: "mono" }, s.sha256 || "–"))))))) : null;
  replace(parts.provenance, git, datasets,
    d.provenance ? el("details", {}, el("summary", {}, "Everything recorded (meta.json)"), tree(d.provenance))
      : el("p", { class: "muted" }, "No provenance: the run folder is gone."));
}

// ---- evaluations and samples --------------------------------------------------------------

function renderEvaluations() {
  const evals = doc.evaluations || [];
  parts.evalSection.hidden = !evals.length;
  if (!evals.length) return;
  const metricKeys = [...new Set(evals.flatMap((e) => Object.keys(e.metrics || {})))].slice(0, 12);
  replace(parts.evals, el("div", { class: "table-wrap" }, el("table", { id: "evaluations" },
    el("thead", {}, el("tr", {}, ["Benchmark", "Split", "n", ...metricKeys, "When"].map((c) => el("th", {}, c)))),
    el("tbody", {}, evals.map((e) => el("tr", {}, el("td", {}, el("a", { href: "#samples",
      onclick: () => { state.benchmark = e.benchmark; state.soffset = 0; loadSamples(); } }, e.benchmark)),
    el("td", {}, e.split || ""), numCell(e.n), metricKeys.map((k) => numCell((e.metrics || {})[k])),
    el("td", { class: "mono" }, fmtTime(e.created_at))))))), parts.samples);
  loadSamples();
}

async function loadSamples() {
  save();
  let data;
  try {
    data = await api(R("/samples"), { benchmark: state.benchmark, filter: state.filter, q: state.sq,
      offset: state.soffset, limit: 50 });
  } catch (e) {
    showError(parts.samples, e);
    return;
  }
  if (!data.benchmarks || !data.benchmarks.length) { replace(parts.samples); return; }
  state.benchmark = data.benchmark;
  const bench = el("select", { id: "sample-benchmark" }, data.benchmarks.map((b) =>
    el("option", { value: b, selected: b === data.benchmark }, b)));
  bench.addEventListener("change", () => { state.benchmark = bench.value; state.soffset = 0; loadSamples(); });
  const filter = el("select", { id: "sample-filter" }, ["all", "wrong", "right"].map((f) =>
    el("option", { value: f, selected: f === state.filter }, f)));
  filter.addEventListener("change", () => { state.filter = filter.value; state.soffset = 0; loadSamples(); });
  const search = el("input", { type: "search", id: "sample-search", placeholder: "search input, prediction, reference", value: state.sq });
  search.addEventListener("change", () => { state.sq = search.value; state.soffset = 0; loadSamples(); });
  const shown = new Set(["index", "id", "input", "prediction", "reference", "correct", "score"]);
  const extraKeys = [...new Set(data.rows.flatMap((r) => Object.keys(r.extra || {})))]
    .filter((k) => !shown.has(k)).slice(0, 4);
  const rows = data.rows.map((r) => el("tr", {}, numCell(r.index), el("td", { class: "mono" }, r.id),
    el("td", { class: "text" }, fmtValue(r.input)), el("td", { class: "text" }, fmtValue(r.prediction)),
    el("td", { class: "text" }, fmtValue(r.reference)),
    el("td", { class: r.correct === true ? "right" : r.correct === false ? "wrong" : "muted" },
      r.correct === true ? "✓ right" : r.correct === false ? "✗ wrong" : "–"),
    numCell(r.score), extraKeys.map((k) => el("td", { class: "text" }, fmtValue((r.extra || {})[k])))));
  const last = state.soffset + data.rows.length;
  replace(parts.samples, el("h3", { id: "samples" }, "Samples"),
    el("div", { class: "toolbar" }, el("label", {}, "Benchmark", bench), el("label", {}, "Show", filter), search,
      el("button", { type: "button", disabled: state.soffset <= 0, onclick: () => { state.soffset = Math.max(0, state.soffset - 50); loadSamples(); } }, "‹"),
      el("button", { type: "button", disabled: last >= data.total, onclick: () => { state.soffset += 50; loadSamples(); } }, "›"),
      el("span", { class: "muted", id: "sample-count" }, `${data.total ? state.soffset + 1 : 0}–${last} of ${data.total}`)),
    el("div", { class: "table-wrap" }, el("table", { id: "samples-table" }, el("thead", {}, el("tr", {},
      ["#", "Id", "Input", "Prediction", "Reference", "Correct", "Score", ...extraKeys].map((c) => el("th", {}, c)))),
    el("tbody", {}, rows))));
}

// ---- data map -----------------------------------------------------------------------------

async function loadDataMap() {
  let data;
  try {
    data = await api(R("/dynamics"), { limit: 5000 });
  } catch (e) {
    parts.mapSection.hidden = false;
    showError(parts.map, e);
    return;
  }
  parts.mapSection.hidden = !data.available;
  if (!data.available) return;
  const points = data.points || [];
  const node = el("div", { class: "chart", id: "data-map" });
  const example = el("div", { class: "note", id: "data-map-example" }, "Hover a point to see its example.");
  replace(parts.map, node, example);
  // Cut before escaping, so an entity (&amp;) is never cut in half.
  const hover = points.map((p) => plotText((`${p.id}: ${p.text === null || p.text === undefined ? "" : p.text}` +
    ` (label ${fmtValue(p.label)})`).slice(0, 300)));
  draw(node, [{ type: "scatter", mode: "markers", x: points.map((p) => p.variability),
    y: points.map((p) => p.confidence), text: hover, hoverinfo: "text",
    marker: { size: 6, color: points.map((p) => p.correctness), colorscale: [[0, "#cf222e"], [0.5, "#e3b341"], [1, "#1a7f37"]], cmin: 0, cmax: 1,
      colorbar: { title: { text: "correctness" } } } }],
  { height: 420, margin: { l: 56, r: 16, t: 10, b: 44 }, hovermode: "closest",
    xaxis: { title: { text: "variability" } }, yaxis: { title: { text: "confidence" } } });
  if (node.on) {
    node.on("plotly_hover", (ev) => {
      const p = points[ev.points[0].pointIndex];
      if (!p) return;
      replace(example, el("div", { class: "mono" }, String(p.id)), el("pre", {}, p.text === null ? "(no text)" : String(p.text)),
        facts([["Label", fmtValue(p.label)], ["Confidence", fmtNumber(p.confidence)],
          ["Variability", fmtNumber(p.variability)], ["Correctness", fmtNumber(p.correctness)]]));
    });
  }
}

// ---- files --------------------------------------------------------------------------------

function fileUrl(path) {
  return "/api/" + R("/files/") + String(path).split("/").map(encodeURIComponent).join("/");
}

function renderFiles() {
  const files = doc.files || { checkpoints: [], artifacts: [] };
  const name = (f) => (f.path ? el("a", { href: fileUrl(f.path), download: f.name }, f.path)
    : el("span", { title: "outside the run folder: not served" }, f.name));
  const list = (title, items, extra) => (items.length ? [el("h3", {}, title), el("div", { class: "table-wrap" },
    el("table", { id: title.toLowerCase() }, el("thead", {}, el("tr", {}, ["File", ...extra.map((x) => x[0]), "Size"].map((c) => el("th", {}, c)))),
      el("tbody", {}, items.map((f) => el("tr", {},
        el("td", { class: "text" }, name(f),
          f.image && f.path ? el("img", { class: "artifact", src: fileUrl(f.path), alt: f.name }) : null),
        extra.map((x) => el("td", {}, fmtValue(f[x[1]]))), numCell(f.size))))))] : []);
  const content = [...list("Checkpoints", files.checkpoints || [], [["Step", "step"]]),
    ...list("Artifacts", files.artifacts || [], [["Kind", "kind"]])];
  replace(parts.files, ...(content.length ? content : [el("p", { class: "muted" }, "No checkpoint or artifact recorded.")]));
}

// ---- logs ---------------------------------------------------------------------------------

const logs = { stdout: { offset: null, text: "" }, stderr: { offset: null, text: "" } };
const LOG_KEEP = 200000;

function renderLogs() {
  const tabs = el("div", { class: "tabs" }, ["stdout", "stderr"].map((s) => el("a", { href: "#logs",
    class: s === state.stream ? "current" : "", "data-key": s, onclick: (e) => {
      e.preventDefault(); state.stream = s; save(); renderLogs(); } }, s)));
  parts.log = el("pre", { class: "log", id: "log" }, logs[state.stream].text || "");
  replace(parts.logs, tabs, parts.log);
  if (logs[state.stream].offset === null) readLog(state.stream).catch((e) => showError(parts.logs, e));
}

async function readLog(stream) {
  const entry = logs[stream];
  const data = await api(R("/logs"), { stream, offset: entry.offset === null ? -1 : entry.offset, limit: 65536 });
  const next = data.next_offset !== undefined ? data.next_offset : data.offset;
  const grew = Boolean(data.text);
  entry.offset = next;
  entry.text = (entry.text + (data.text || "")).slice(-LOG_KEEP);
  if (stream === state.stream && parts.log) {
    const atBottom = parts.log.scrollTop + parts.log.clientHeight >= parts.log.scrollHeight - 8;
    if (grew) parts.log.textContent = entry.text || "";
    if (!entry.text) parts.log.textContent = "(empty)";
    if (atBottom || grew) parts.log.scrollTop = parts.log.scrollHeight;
  }
  return data;
}

// ---- live ---------------------------------------------------------------------------------

async function follow() {
  if (status !== "running") return false;
  ticks += 1;
  if (!charts.size) await loadMetrics(); // the first points of a run that had none
  else if (ticks % 2 === 0) { // a metric the run started logging since: list and draw it
    const { total } = await api(R("/metrics"), { limit: 1 });
    if (total !== metricTotal && !metricSearch) await loadMetrics();
  }
  await growCurves();
  await readLog(state.stream);
  const fresh = await api(R(""));
  if (fresh.status !== status) {
    status = fresh.status;
    doc = { ...doc, ...fresh };
    replace(parts.status, statusBadge(status));
    renderTimings();
    parts.live.textContent = "";
    await growCurves(); // the last points written before the end
    await readLog(state.stream);
    return false;
  }
  doc = { ...doc, duration: fresh.duration, heartbeat_at: fresh.heartbeat_at };
  renderTimings();
  return true;
}

async function start() {
  header("runs");
  parts.head = el("div", { id: "head" });
  parts.live = el("span", { class: "live", id: "live" });
  parts.metricList = el("div");
  parts.charts = el("div", { class: "cols", id: "charts" });
  parts.summary = el("div");
  parts.system = el("div", { class: "cols", id: "system-charts" });
  parts.config = el("div");
  parts.provenance = el("div");
  parts.evals = el("div");
  parts.samples = el("div", { id: "samples-box" });
  parts.map = el("div");
  parts.files = el("div");
  parts.logs = el("div", { id: "logs" });
  parts.curves = el("div");
  parts.edit = el("div", { id: "edit" });
  parts.systemSection = section("system", "System metrics", parts.system);
  parts.evalSection = section("evaluations", "Evaluations", parts.evals);
  parts.mapSection = section("datamap", "Data map", el("p", { class: "muted" },
    "Each training example by its confidence and variability across epochs; colour is how often it was right."), parts.map);
  parts.mapSection.hidden = true;
  replace(main, parts.head, parts.live,
    el("div", { class: "tabs" }, [["curves", "Curves"], ["system", "System"], ["config", "Config"],
      ["provenance", "Provenance"], ["evaluations", "Evaluations"], ["datamap", "Data map"], ["files", "Files"], ["logs-section", "Logs"]]
      .map(([id, label]) => el("a", { href: "#" + id }, label))),
    section("curves", "Curves", curveControls(), parts.metricList, parts.curves, parts.charts,
      el("details", {}, el("summary", {}, "All metrics"), parts.summary)),
    parts.systemSection,
    section("config", "Config", parts.config),
    section("provenance", "Provenance", parts.provenance),
    parts.evalSection, parts.mapSection,
    section("files", "Files", parts.files),
    section("logs-section", "Logs", parts.logs));
  try {
    [doc, { writable }] = await Promise.all([api(R("")), api("session")]);
  } catch (e) {
    replace(main, el("h1", {}, "Run"), el("div", { class: "error", role: "alert", id: "run-error" }, e.message));
    return;
  }
  status = doc.status;
  document.title = `${doc.name || doc.short_id} · trialbook`;
  renderHeader();
  renderEdit();
  renderConfig();
  renderProvenance();
  renderEvaluations();
  renderFiles();
  renderLogs();
  loadDataMap();
  try {
    await loadMetrics();
  } catch (e) {
    showError(parts.curves, e);
  }
  main.dataset.loaded = "true";
  if (status === "running") {
    parts.live.textContent = "● following live";
    every(1000, follow);
  }
}

start();
