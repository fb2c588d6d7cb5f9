// A benchmark's leaderboard, as `trialbook leaderboard` ranks it: value with its interval,
// ties with the leader, n. `?benchmark=..&metric=..&by=run|group`.
import {
  api, el, fmtNumber, fmtValue, header, queryString, queryValue, replace, setQuery, showError,
} from "./common.js";

const state = {
  benchmark: queryValue("benchmark"),
  metric: queryValue("metric"),
  by: queryValue("by", "run") === "group" ? "group" : "run",
};
const main = document.getElementById("main");
const parts = {};

function save() {
  setQuery({ benchmark: state.benchmark, metric: state.metric, by: state.by === "run" ? "" : "group" });
}

function options(select, values, current, blank) {
  replace(select, blank ? el("option", { value: "" }, blank) : null,
    values.map((v) => el("option", { value: v, selected: v === current }, v)));
}

function build() {
  header("leaderboard");
  parts.benchmark = el("select", { id: "benchmark" });
  parts.metric = el("select", { id: "metric" });
  parts.by = el("select", { id: "by" }, el("option", { value: "run", selected: state.by === "run" }, "runs"),
    el("option", { value: "group", selected: state.by === "group" }, "seed groups"));
  for (const [key, select] of [["benchmark", parts.benchmark], ["metric", parts.metric], ["by", parts.by]]) {
    select.addEventListener("change", () => {
      state[key] = select.value;
      if (key === "benchmark") state.metric = "";
      load();
    });
  }
  parts.note = el("div");
  parts.table = el("div", { id: "leaderboard" });
  replace(main, el("h1", {}, "Leaderboard"),
    el("div", { class: "toolbar" }, el("label", {}, "Benchmark", parts.benchmark),
      el("label", {}, "Metric", parts.metric), el("label", {}, "Rank", parts.by)),
    parts.note, parts.table);
}

function entryCell(row) {
  const id = String(row.id || "");
  const href = id.startsWith("group:") ? "/compare" + queryString({ groups: [id] }) : "/runs/" + encodeURIComponent(id);
  return el("td", { class: "name" }, el("a", { href }, row.entry || id), el("div", { class: "muted mono" }, id));
}

function tiedCell(row, index) {
  const tied = row.tied_with_leader === undefined ? row.tied : row.tied_with_leader;
  if (tied === true) return el("td", { class: "right" }, index === 0 ? "leader" : "tied");
  if (tied === false) return el("td", { class: "muted" }, "behind");
  return el("td", { class: "muted", title: row.note || "" }, "untested");
}

async function load() {
  save();
  replace(parts.note);
  let data;
  try {
    data = await api("leaderboard", { benchmark: state.benchmark, metric: state.metric, by: state.by });
  } catch (e) {
    showError(parts.table, e);
    main.dataset.loaded = "true";
    return;
  }
  state.benchmark = data.benchmark || state.benchmark;
  state.metric = data.metric || state.metric;
  options(parts.benchmark, data.benchmarks || [], state.benchmark, (data.benchmarks || []).length ? null : "no benchmark");
  options(parts.metric, data.metrics || [], state.metric, "default metric");
  save();
  const rows = data.rows || [];
  if (data.note) replace(parts.note, el("p", { class: "note" }, data.note));
  replace(parts.table, rows.length ? el("div", { class: "table-wrap" }, el("table", { id: "leaderboard-table" },
    el("thead", {}, el("tr", {}, ["Rank", "Entry", "Experiment", "Value", "95% CI", "n", "vs leader", "p (adjusted)"]
      .map((c) => el("th", {}, c)))),
    el("tbody", {}, rows.map((r, i) => el("tr", {}, el("td", { class: "num" }, r.rank === null ? "–" : String(r.rank)),
      entryCell(r), el("td", {}, fmtValue(r.experiment)),
      el("td", { class: "num" }, fmtNumber(r.value), r.std !== null && r.std !== undefined && r.n > 1 ? ` ± ${fmtNumber(r.std)}` : ""),
      el("td", { class: "num" }, r.ci_low === null || r.ci_low === undefined ? "–" : `[${fmtNumber(r.ci_low)}, ${fmtNumber(r.ci_high)}]`),
      el("td", { class: "num" }, fmtValue(r.n)), tiedCell(r, i),
      el("td", { class: "num" }, fmtNumber(r.p_adjusted === undefined ? null : r.p_adjusted)))))))
    : el("p", { class: "muted" }, "Nothing ranked: evaluate runs on a benchmark (trialbook evaluate) to rank them."));
  main.dataset.loaded = "true";
}

build();
load();
