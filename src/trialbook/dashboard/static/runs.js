// The runs page: filters (the `trialbook ls` grammar and pickers), chosen columns, sorting,
// server-side paging, the seed-group view and the selection to compare. All of it lives in
// the URL query, so a pasted URL shows the same table.
import {
  api, append, el, every, fmtDuration, fmtNumber, fmtTime, fmtValue, header, numCell,
  queryState, queryString, replace, setQuery, showError, statusBadge,
} from "./common.js";

const RUN_COLUMNS = [
  // [label, value of a run row, sort key or null]
  ["Name", (r) => r.name || r.short_id, "name"],
  ["Status", (r) => r.status, "status"],
  ["Experiment", (r) => r.experiment, "experiment"],
  ["Seed", (r) => r.seed, "seed"],
  ["Started", (r) => r.started_at, "started_at"],
  ["Duration", (r) => r.duration, "duration"],
];
const STATUSES = ["running", "completed", "failed", "crashed", "killed"];

const q = queryState();
const state = {
  where: q.where || [],
  sort: (q.sort || [""])[0],
  desc: (q.desc || [""])[0],
  experiment: (q.experiment || [""])[0],
  suite: (q.suite || [""])[0],
  status: q.status || [],
  tag: q.tag || [],
  q: (q.q || [""])[0],
  offset: Number((q.offset || ["0"])[0]) || 0,
  limit: Number((q.limit || ["100"])[0]) || 100,
  columns: q.columns || [],
  view: (q.view || ["runs"])[0] === "groups" ? "groups" : "runs",
  runs: q.runs || [],
  groups: q.groups || [],
};

const main = document.getElementById("main");
const parts = {};
let cursor = null;
let rowsById = new Map();
const elsewhere = new Set();
let loadSerial = 0;

function save() {
  setQuery({
    view: state.view === "groups" ? "groups" : "", where: state.where, sort: state.sort,
    desc: state.desc, experiment: state.experiment, suite: state.suite, status: state.status,
    tag: state.tag, q: state.q, offset: state.offset || "", limit: state.limit === 100 ? "" : state.limit,
    columns: state.columns, runs: state.runs, groups: state.groups,
  });
}

/** Split the filter box into `where` texts: conditions separated by spaces or commas
 * (quoted values keep theirs); the server reads each with the `ls --where` grammar. */
function splitConditions(text) {
  const out = [];
  let current = "";
  let quote = null;
  for (const ch of text) {
    if (quote) {
      current += ch;
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      current += ch;
    } else if (ch === " " || ch === "," || ch === "\t") {
      if (current) out.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  if (current) out.push(current);
  return out;
}

function build() {
  header("runs");
  parts.where = el("input", { type: "text", class: "where", id: "where", spellcheck: "false",
    placeholder: "params.lr=0.001 loss<0.5 max(metrics.acc)>=0.9", value: state.where.join(" ") });
  parts.name = el("input", { type: "search", id: "name-filter", placeholder: "name contains",
    value: state.q });
  parts.experiment = el("select", { id: "experiment" }, el("option", { value: "" }, "all experiments"));
  parts.suite = el("select", { id: "suite" }, el("option", { value: "" }, "all suites"));
  parts.status = el("select", { id: "status" }, el("option", { value: "" }, "any status"),
    STATUSES.map((s) => el("option", { value: s, selected: state.status.includes(s) }, s)));
  parts.tag = el("select", { id: "tag" }, el("option", { value: "" }, "any tag"));
  parts.view = el("select", { id: "view" },
    el("option", { value: "runs", selected: state.view === "runs" }, "runs"),
    el("option", { value: "groups", selected: state.view === "groups" }, "seed groups"));
  const form = el("form", { class: "toolbar", id: "filters", onsubmit: (e) => {
    e.preventDefault();
    apply();
  } },
  el("label", {}, "Where", parts.where), parts.name,
  parts.experiment, parts.suite, parts.status, parts.tag,
  el("label", {}, "Show", parts.view),
  el("button", { type: "submit", class: "primary", id: "apply" }, "Filter"),
  el("button", { type: "button", onclick: () => { parts.where.value = ""; parts.name.value = "";
    parts.experiment.value = ""; parts.suite.value = ""; parts.status.value = ""; parts.tag.value = "";
    apply(); } }, "Clear"));
  for (const select of [parts.experiment, parts.suite, parts.status, parts.tag, parts.view]) {
    select.addEventListener("change", apply);
  }
  parts.columnsBox = el("details", { class: "columns-picker" }, el("summary", {}, "Columns…"));
  parts.compare = el("button", { type: "button", id: "compare", class: "primary", disabled: true,
    onclick: () => { window.location.href = "/compare" + queryString({ runs: state.runs, groups: state.groups }); } },
  "Compare");
  parts.selection = el("span", { class: "muted", id: "selection" });
  parts.live = el("span", { class: "live", id: "live" });
  parts.message = el("div", { id: "message" });
  parts.pagerTop = el("div", { class: "pager" });
  parts.table = el("div", { class: "table-wrap", id: "table" });
  parts.pager = el("div", { class: "pager" });
  replace(main, el("h1", {}, "Runs"), form,
    el("div", { class: "toolbar" }, parts.compare, parts.selection, parts.live, parts.columnsBox),
    parts.message, parts.pagerTop, parts.table, parts.pager);
  parts.columnsBox.addEventListener("toggle", () => {
    if (parts.columnsBox.open) loadColumnChoices("");
  });
}

function apply() {
  state.where = splitConditions(parts.where.value.trim());
  state.q = parts.name.value.trim();
  state.experiment = parts.experiment.value;
  state.suite = parts.suite.value;
  state.status = parts.status.value ? [parts.status.value] : [];
  state.tag = parts.tag.value ? [parts.tag.value] : [];
  state.view = parts.view.value;
  state.offset = 0;
  load();
}

async function loadFacets() {
  try {
    const f = await api("facets");
    for (const e of f.experiments || []) {
      parts.experiment.append(el("option", { value: e.name, selected: e.name === state.experiment },
        `${e.name} (${e.runs})`));
    }
    for (const s of f.suites || []) {
      parts.suite.append(el("option", { value: s, selected: s === state.suite }, s));
    }
    for (const t of f.tags || []) {
      parts.tag.append(el("option", { value: t, selected: state.tag.includes(t) }, t));
    }
    for (const option of parts.status.options) {
      const n = (f.statuses || {})[option.value];
      if (option.value && n !== undefined) option.textContent = `${option.value} (${n})`;
    }
  } catch (e) {
    showError(parts.message, e);
  }
}

async function loadColumnChoices(search) {
  let data;
  try {
    data = await api("columns", { experiment: state.experiment, q: search, limit: 200 });
  } catch (e) {
    replace(parts.columnsBox, el("summary", {}, "Columns…"), el("div", { class: "error" }, e.message));
    return;
  }
  const box = el("input", { type: "search", placeholder: "search keys", value: search });
  box.addEventListener("change", () => loadColumnChoices(box.value));
  const pick = (key) => el("label", {}, el("input", { type: "checkbox", value: key,
    checked: state.columns.includes(key), onchange: (e) => {
      state.columns = e.target.checked ? [...state.columns, key] : state.columns.filter((c) => c !== key);
      load();
    } }), " ", key);
  const params = (data.params || []).map((k) => pick(k.startsWith("params.") ? k : "params." + k));
  const metrics = (data.metrics || []).map((k) => pick(k.startsWith("metrics.") ? k : "metrics." + k));
  const evals = (data.evals || []).map((k) => pick(k.startsWith("eval.") ? k : "eval." + k));
  replace(parts.columnsBox, el("summary", {}, "Columns…"),
    el("div", { class: "toolbar" }, box,
      el("span", { class: "muted" }, `${data.total_params} params, ${data.total_metrics} metrics`),
      el("button", { type: "button", onclick: () => { state.columns = []; load(); } }, "Automatic")),
    el("div", { class: "metric-list" }, params, metrics, evals));
}

function updateSelection() {
  const n = state.runs.length + state.groups.length;
  parts.compare.disabled = n < 1;
  parts.selection.textContent = n ? `${n} selected` : "select runs or groups to compare";
}

function toggle(list, value, on) {
  const has = state[list].includes(value);
  if (on && !has) state[list] = [...state[list], value];
  if (!on && has) state[list] = state[list].filter((v) => v !== value);
  updateSelection();
  save();
}

let shownSort = { sort: "", desc: true };

function sortHeader(label, key) {
  if (!key) return el("th", {}, label);
  const active = (state.sort || shownSort.sort) === key;
  const desc = state.desc === "" ? shownSort.desc : state.desc === "true";
  const th = el("th", { class: `sortable${active ? " sorted" : ""}${active && desc === false ? " asc" : ""}`,
    "data-key": key, title: `sort by ${key}` }, label);
  th.addEventListener("click", () => {
    if ((state.sort || shownSort.sort) === key) {
      state.sort = key;
      state.desc = desc === false ? "true" : "false";
    }
    else { state.sort = key; state.desc = ""; }
    state.offset = 0;
    load();
  });
  return th;
}

function pager(total, count) {
  const first = total ? state.offset + 1 : 0;
  const last = state.offset + count;
  const prev = el("button", { type: "button", disabled: state.offset <= 0, onclick: () => {
    state.offset = Math.max(0, state.offset - state.limit); load(); } }, "‹ Previous");
  const next = el("button", { type: "button", disabled: last >= total, onclick: () => {
    state.offset += state.limit; load(); } }, "Next ›");
  const size = el("select", { "aria-label": "rows per page" },
    [50, 100, 200, 500].map((n) => el("option", { value: n, selected: n === state.limit }, `${n} per page`)));
  size.addEventListener("change", () => { state.limit = Number(size.value); state.offset = 0; load(); });
  return [prev, next, el("span", { class: "count" }, `${first}–${last} of ${total}`), size];
}

function runRow(run, columns) {
  const id = run.id;
  const box = el("input", { type: "checkbox", "aria-label": "select", "data-id": id,
    checked: state.runs.includes(id), onchange: (e) => toggle("runs", id, e.target.checked) });
  const cells = {
    status: el("td", {}, statusBadge(run.status)),
    duration: el("td", { class: "num" }, fmtDuration(run.duration)),
  };
  const tr = el("tr", { "data-id": id },
    el("td", {}, box),
    el("td", { class: "name" }, el("a", { href: "/runs/" + encodeURIComponent(id) }, run.name || run.short_id),
      el("div", { class: "muted mono" }, run.short_id),
      run.error ? el("div", { class: "wrong", title: run.error }, String(run.error).split("\n")[0].slice(0, 80)) : null),
    cells.status,
    el("td", {}, run.experiment),
    el("td", { class: "num" }, run.seed === null || run.seed === undefined ? "" : String(run.seed)),
    el("td", { class: "mono" }, fmtTime(run.started_at)),
    cells.duration,
    columns.map((c) => numOrText((run.values || {})[c])),
    el("td", {}, el("div", { class: "chips" }, (run.tags || []).map((t) => el("span", { class: "chip" }, t)))));
  rowsById.set(id, cells);
  return tr;
}

function numOrText(v) {
  return typeof v === "number" || v === null || v === undefined
    ? numCell(v) : el("td", { class: "text" }, fmtValue(v));
}

function renderRuns(data) {
  rowsById = new Map();
  const columns = data.columns || [];
  const head = el("tr", {}, el("th", {}, ""),
    RUN_COLUMNS.map(([label, , key]) => sortHeader(label, key)),
    columns.map((c) => sortHeader(c, c.startsWith("metrics.") ? c : null)),
    el("th", {}, "Tags"));
  const body = el("tbody", {}, data.runs.map((r) => runRow(r, columns)));
  replace(parts.table, el("table", { id: "runs-table" }, el("thead", {}, head), body));
  if (!data.runs.length) {
    append(parts.table, el("p", { class: "muted" }, "No run matches these filters."));
  }
  replace(parts.pager, ...pager(data.total, data.runs.length));
  replace(parts.pagerTop, ...pager(data.total, data.runs.length));
}

function renderGroups(data, metrics) {
  // Params that tell the groups apart (all of them when there is one group).
  const seen = new Map();
  for (const g of data.groups) {
    for (const [k, v] of Object.entries(g.params || {})) {
      if (!seen.has(k)) seen.set(k, new Set());
      seen.get(k).add(JSON.stringify(v));
    }
  }
  const varying = new Set([...seen].filter(([k, vs]) => data.groups.length < 2 || vs.size > 1
    || data.groups.some((g) => !(k in (g.params || {})))).map(([k]) => k));
  const head = el("tr", {}, el("th", {}, ""), el("th", {}, "Group"), el("th", {}, "Experiment"),
    el("th", {}, "n"), el("th", {}, "Seeds"), el("th", {}, "Params"),
    metrics.map((m) => el("th", {}, m, el("span", { class: "sub" }, "mean ± std [95% CI]"))));
  const rows = data.groups.map((g) => {
    const ref = g.ref || "group:" + String(g.group_key).slice(0, 12);
    const box = el("input", { type: "checkbox", "aria-label": "select group", "data-id": ref,
      checked: state.groups.includes(ref), onchange: (e) => toggle("groups", ref, e.target.checked) });
    const params = Object.entries(g.params || {}).filter(([k]) => varying.has(k)).map(([k, v]) => el("span", { class: "chip" }, `${k}=${fmtValue(v)}`));
    return el("tr", { "data-id": ref }, el("td", {}, box),
      el("td", { class: "name" }, el("a", { href: "/compare" + queryString({ groups: [ref] }) }, g.name || ref),
        el("div", { class: "muted mono ref" }, ref)),
      el("td", {}, g.experiment), el("td", { class: "num" }, String(g.n)),
      el("td", { class: "mono seeds" }, (g.seeds || []).join(", ")),
      el("td", {}, el("div", { class: "chips" }, params)),
      metrics.map((m) => {
        const s = (g.metrics || {})[m];
        if (!s) return el("td", { class: "num" }, "–");
        return el("td", { class: "num" }, `${fmtNumber(s.mean)} ± ${fmtNumber(s.std)}`,
          el("div", { class: "muted" }, `[${fmtNumber(s.ci_low)}, ${fmtNumber(s.ci_high)}]`));
      }));
  });
  replace(parts.table, el("table", { id: "groups-table" }, el("thead", {}, head), el("tbody", {}, rows)));
  if (!data.groups.length) append(parts.table, el("p", { class: "muted" }, "No seed group matches these filters."));
  replace(parts.pager, ...pager(data.total, data.groups.length));
  replace(parts.pagerTop);
  if (data.note) append(parts.table, el("p", { class: "note" }, data.note));
}

function filters() {
  return { where: state.where, experiment: state.experiment, suite: state.suite,
    status: state.status, tag: state.tag, q: state.q };
}

async function load() {
  save();
  updateSelection();
  const serial = ++loadSerial;
  replace(parts.message);
  try {
    if (state.view === "groups") {
      const metrics = state.columns.filter((c) => c.startsWith("metrics.") || c.startsWith("eval."))
        .map((c) => (c.startsWith("eval.") ? c.slice("eval.".length) : c));
      const data = await api("groups", { ...filters(), metric: metrics, offset: state.offset, limit: state.limit });
      if (serial === loadSerial) renderGroups(data, data.metrics || []);
    } else {
      const data = await api("runs", { ...filters(), sort: state.sort, desc: state.desc,
        offset: state.offset, limit: state.limit, columns: state.columns });
      if (serial !== loadSerial) return;
      cursor = data.cursor;
      shownSort = { sort: data.sort, desc: data.desc };
      renderRuns(data);
    }
    main.dataset.loaded = "true";
  } catch (e) {
    if (serial === loadSerial) {
      showError(parts.message, e);
      replace(parts.table);
      main.dataset.loaded = "true";
    }
  }
}

async function follow() {
  if (state.view !== "runs" || !cursor) return true;
  const data = await api("changes", { cursor });
  cursor = data.cursor || cursor;
  let unseen = false;
  for (const run of data.runs || []) {
    const cells = rowsById.get(run.id);
    if (!cells) {
      // A run not on this page: a new run shows on the first page (once; a run the filters
      // leave out is not asked for again on each heartbeat).
      if (!elsewhere.has(run.id)) unseen = true;
      elsewhere.add(run.id);
      continue;
    }
    replace(cells.status, statusBadge(run.status));
    cells.duration.textContent = fmtDuration(run.duration);
  }
  const running = (data.runs || []).some((r) => r.status === "running");
  parts.live.textContent = running ? "● live" : "";
  if (unseen && state.offset === 0) await load();
  return true;
}

build();
loadFacets();
load();
every(1000, follow);
