// Compare runs and seed groups: overlaid curves (a group as its mean with a 95% band), the
// config keys that differ, metrics side by side, the library's significance verdict and, for
// two runs, the samples that changed. `?runs=..&groups=..&metric=..&key=..&benchmark=..`.
import {
  COLORS, api, el, fmtNumber, fmtValue, header, queryState, queryString, replace, setQuery,
  showError,
} from "./common.js";
import { curveTraces, draw, lineLayout } from "./plots.js";

const q = queryState();
const state = {
  runs: q.runs || [],
  groups: q.groups || [],
  metric: (q.metric || [""])[0],
  benchmark: (q.benchmark || [""])[0],
  key: (q.key || [""])[0],
  x: ["step", "time", "relative"].includes((q.x || [""])[0]) ? q.x[0] : "step",
  log: (q.log || [""])[0] === "true",
};
const main = document.getElementById("main");
const parts = {};

function save() {
  setQuery({ runs: state.runs, groups: state.groups, metric: state.metric, benchmark: state.benchmark,
    key: state.key, x: state.x === "step" ? "" : state.x, log: state.log ? "true" : "" });
}

function entryLabel(e) {
  return e.label;
}

function entryLink(e) {
  const href = e.kind === "group" ? "/compare" + queryString({ groups: [e.ref] })
    : "/runs/" + encodeURIComponent(e.run_ids[0] || e.ref);
  return el("a", { href }, entryLabel(e));
}

function build() {
  header("compare");
  const pick = el("input", { type: "text", id: "add-entry", placeholder: "add a run or group:<key>" });
  const form = el("form", { class: "toolbar", onsubmit: (e) => {
    e.preventDefault();
    const v = pick.value.trim();
    if (!v) return;
    if (v.startsWith("group:")) state.groups = [...state.groups, v]; else state.runs = [...state.runs, v];
    pick.value = "";
    load();
  } }, el("label", {}, "Add", pick), el("button", { type: "submit" }, "Add"));
  parts.entries = el("div", { id: "entries" });
  parts.message = el("div");
  parts.verdict = el("div", { id: "verdict-box" });
  parts.curveControls = el("div", { class: "toolbar" });
  parts.chart = el("div", { class: "chart", id: "compare-chart" });
  parts.metrics = el("div", { id: "metrics" });
  parts.config = el("div", { id: "config-differences" });
  parts.samples = el("div", { id: "changed-samples" });
  replace(main, el("h1", {}, "Compare"), form, parts.entries, parts.message,
    el("section", {}, el("h2", {}, "Verdict"), parts.verdict),
    el("section", {}, el("h2", {}, "Curves"), parts.curveControls, parts.chart),
    el("section", {}, el("h2", {}, "Metrics"), parts.metrics),
    el("section", {}, el("h2", {}, "Config differences"), parts.config),
    el("section", {}, el("h2", {}, "Changed samples"), parts.samples));
}

function renderEntries(entries) {
  parts.entryRefs = entries.map((e) => e.ref);
  const remove = (e) => {
    if (e.kind === "group") state.groups = state.groups.filter((g) => g !== e.ref);
    else state.runs = state.runs.filter((r) => r !== e.ref);
    load();
  };
  replace(parts.entries, el("div", { class: "chips" }, entries.map((e, i) => el("span", { class: "chip" },
    el("span", { class: "swatch", title: "colour" }, "■ "), entryLink(e), " ",
    el("button", { type: "button", "aria-label": "remove", onclick: () => remove(e) }, "×")))));
  parts.entries.querySelectorAll(".swatch").forEach((s, i) => { s.style.color = COLORS[i % COLORS.length]; });
}

function renderVerdict(data) {
  const v = data.verdict;
  if (!v) {
    replace(parts.verdict, el("p", { class: "muted", id: "verdict-note" }, data.verdict_note ||
      "No verdict: a significance test needs exactly two entries with a metric in common."));
    return;
  }
  const pairs = [
    ["Metric", v.benchmark ? `${v.benchmark} ${v.metric || ""}` : v.metric],
    ["Test", v.test],
    ["Difference (B − A)", v.difference === null || v.difference === undefined ? null
      : `${fmtNumber(v.difference)}  [${fmtNumber(v.ci_low)}, ${fmtNumber(v.ci_high)}]`],
    ["p-value", v.p_value === null || v.p_value === undefined ? null : fmtNumber(v.p_value)],
    [v.effect_name || "Effect", v.effect === null || v.effect === undefined ? null : fmtNumber(v.effect)],
    ["Note", v.note],
  ].filter(([, value]) => value !== null && value !== undefined && value !== "");
  replace(parts.verdict, el("div", { class: "verdict", id: "verdict" }, v.text),
    el("dl", { class: "facts" }, pairs.flatMap(([k, value]) => [el("dt", {}, k), el("dd", {}, value)])));
}

function renderMetrics(data) {
  const entries = data.entries;
  const rows = (data.metrics || []).map((m) => el("tr", {}, el("td", { class: "name" },
    el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); state.metric = m.metric; load(); } }, m.metric)),
  m.values.map((v) => el("td", { class: "num" }, v ? `${fmtNumber(v.mean)}` : "–",
    v && v.ci_low !== null && v.ci_low !== undefined && v.n > 1
      ? el("div", { class: "muted" }, `[${fmtNumber(v.ci_low)}, ${fmtNumber(v.ci_high)}] n=${v.n}`) : null))));
  replace(parts.metrics, rows.length ? el("div", { class: "table-wrap" }, el("table", { id: "metrics-table" },
    el("thead", {}, el("tr", {}, el("th", {}, "Metric"), entries.map((e) => el("th", {}, entryLabel(e))))),
    el("tbody", {}, rows))) : el("p", { class: "muted" }, "No metric in common."));
}

function renderConfig(data) {
  const diffs = data.config_differences || [];
  replace(parts.config, diffs.length ? el("div", { class: "table-wrap" }, el("table", { id: "config-table" },
    el("thead", {}, el("tr", {}, el("th", {}, "Key"), data.entries.map((e) => el("th", {}, entryLabel(e))))),
    el("tbody", {}, diffs.map((d) => el("tr", {}, el("td", { class: "mono" }, d.key),
      d.values.map((v) => el("td", { class: "text" }, fmtValue(v))))))))
    : el("p", { class: "muted" }, "The configs are the same."));
}

function renderSamples(data) {
  const c = data.changed_samples;
  if (!c) {
    replace(parts.samples, el("p", { class: "muted" }, "Changed samples are shown for two runs evaluated on a common benchmark."));
    return;
  }
  const list = (title, rows, id, n) => [el("h3", {}, `${title} (${n === undefined ? rows.length : n})`),
    rows.length ? el("div", { class: "table-wrap" }, el("table", { id },
      el("thead", {}, el("tr", {}, ["Id", "Input", "Reference", "A", "B"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((r) => el("tr", {}, el("td", { class: "mono" }, r.id),
        el("td", { class: "text" }, fmtValue(r.input)), el("td", { class: "text" }, fmtValue(r.reference)),
        el("td", { class: "text" }, fmtValue(r.a)), el("td", { class: "text" }, fmtValue(r.b)))))))
      : el("p", { class: "muted" }, "None.")];
  replace(parts.samples, el("p", { class: "muted" }, `Benchmark ${c.benchmark}: A is the first entry, B the second.`),
    ...list("Regressions: right in A, wrong in B", c.regressions || [], "regressions", c.n_regressions),
    ...list("Fixes: wrong in A, right in B", c.fixes || [], "fixes", c.n_fixes));
}

/** Above this many curves the chart has no legend and hovers on the nearest curve. */
const MANY_CURVES = 20;

/** Resolves once plotly.js has run (its script is async, so the API requests above do not
 * wait for it) or failed to load; `draw` then says when it is missing. */
function plotlyLoaded() {
  const script = document.querySelector('script[src$="plotly.min.js"]');
  if (window.Plotly || !script) return Promise.resolve();
  return new Promise((resolve) => {
    script.addEventListener("load", () => { performance.mark("compare:plotly-ready"); resolve(); },
      { once: true });
    script.addEventListener("error", resolve, { once: true });
  });
}

/** The curves request for `key`, started early (with the compare request) when the URL names
 * the key; later calls for another key or axis make a new request. */
let pendingCurves = null;
function fetchCurves(key) {
  const args = { runs: state.runs, groups: state.groups, key, x: state.x, points: 500 };
  const id = JSON.stringify(args);
  if (!pendingCurves || pendingCurves.id !== id) {
    const request = api("compare/history", args);
    request.catch(() => {});  // an early request nobody awaits must not be reported unhandled
    pendingCurves = { id, request };
  }
  return pendingCurves.request;
}

async function drawCurves(keys) {
  // Default: the loss when the entries logged one (curves that differ most often), else the first.
  if (!state.key || !keys.includes(state.key)) state.key = keys.includes("loss") ? "loss" : keys[0] || "";
  save();
  const select = el("select", { id: "curve-key", "aria-label": "metric" },
    keys.map((k) => el("option", { value: k, selected: k === state.key }, k)));
  select.addEventListener("change", () => { state.key = select.value; drawCurves(keys); });
  const axis = el("select", { id: "x-axis" }, ["step", "time", "relative"].map((v) =>
    el("option", { value: v, selected: v === state.x }, v)));
  axis.addEventListener("change", () => { state.x = axis.value; drawCurves(keys); });
  const log = el("input", { type: "checkbox", checked: state.log });
  log.addEventListener("change", () => { state.log = log.checked; drawCurves(keys); });
  replace(parts.curveControls, el("label", {}, "Metric", select), el("label", {}, "x", axis),
    el("label", {}, log, "log y"));
  if (!state.key) { replace(parts.chart, el("p", { class: "muted" }, "No logged metric in common.")); return; }
  try {
    const data = await fetchCurves(state.key);
    await plotlyLoaded();
    performance.mark("compare:draw-start");
    // The same colour as the entry's chip above, whatever order the curves come in.
    const refs = (parts.entryRefs || []);
    const traces = data.curves.flatMap((c, i) => curveTraces(
      { x: c.x, y: c.y, sampled: false },
      { axis: state.x, color: COLORS[(refs.includes(c.ref) ? refs.indexOf(c.ref) : i) % COLORS.length],
        name: c.kind === "group" ? `${c.label} (mean)` : c.label,
        band: c.y_low && c.y_high ? { low: c.y_low, high: c.y_high } : null }));
    // Many curves: no legend (the entry chips above carry the colours; plotly spends half the
    // drawing on a 200-item legend) and hover on the nearest curve, not a 200-line box.
    const many = data.curves.length > MANY_CURVES;
    const layout = lineLayout({ axis: state.x, log: state.log, legend: !many, height: 420 });
    if (many) layout.hovermode = "closest";
    draw(parts.chart, traces, layout);
    parts.chart.dataset.curves = String(data.curves.length);
    performance.measure("compare:draw", "compare:draw-start");
  } catch (e) {
    showError(parts.chart, e);
  }
}

async function load() {
  save();
  replace(parts.message);
  if (!state.runs.length && !state.groups.length) {
    replace(parts.entries, el("p", { class: "note" },
      "Nothing to compare yet: select runs or seed groups on the runs page, or add one above."));
    main.dataset.loaded = "true";
    return;
  }
  if (state.key) fetchCurves(state.key);  // in parallel with the compare request
  let data;
  try {
    data = await api("compare", { runs: state.runs, groups: state.groups, metric: state.metric,
      benchmark: state.benchmark });
  } catch (e) {
    showError(parts.message, e);
    main.dataset.loaded = "true";
    return;
  }
  renderEntries(data.entries);
  renderVerdict(data);
  renderMetrics(data);
  renderConfig(data);
  renderSamples(data);
  const keys = (data.metrics || []).map((m) => m.metric).filter((m) => m.startsWith("metrics."))
    .map((m) => m.slice("metrics.".length));
  const logged = keys.length ? keys : (data.metrics || []).map((m) => m.metric).filter((m) => !m.startsWith("eval."));
  await drawCurves(logged);
  main.dataset.loaded = "true";
}

build();
load();
