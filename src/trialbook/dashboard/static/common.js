// Shared by every page: the JSON API, DOM building (text only), URL state, formatting.
// Every user string reaches the page through textContent or an attribute set by setAttribute
// on a fixed, non-script attribute: never parsed as HTML.

/** Fetch `/api/<path>` with `params` (arrays repeat the key); throws Error(detail) on 4xx/5xx. */
export async function api(path, params = {}, options = {}) {
  const url = new URL("/api/" + path, window.location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(key, String(v));
  }
  const response = await fetch(url, { headers: { Accept: "application/json" }, ...options,
    credentials: "same-origin" });
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (e) {
    body = null;
  }
  if (!response.ok) {
    const detail = body && typeof body.detail === "string" ? body.detail : `HTTP ${response.status}`;
    const error = new Error(detail);
    error.status = response.status;
    throw error;
  }
  return body;
}

/** The value of cookie `name` (the CSRF cookie is readable by the page on purpose). */
export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

/** POST JSON to `/api/<path>` with the double-submit CSRF header; throws Error(detail). */
export function post(path, body) {
  return api(path, {}, {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json",
      "X-CSRF-Token": cookie("trialbook_csrf") },
    body: JSON.stringify(body),
  });
}

const SAFE_ATTRIBUTES = new Set([
  "class", "id", "title", "type", "value", "name", "placeholder", "for", "colspan", "min", "max",
  "step", "role", "aria-label", "aria-sort", "data-key", "data-id", "data-kind", "href", "download",
  "src", "alt", "target", "rel", "size", "list", "autocomplete", "spellcheck", "hidden", "selected",
  "checked", "disabled", "open", "loading", "width", "height", "rows", "maxlength",
]);

/** A link target that cannot run script: only same-origin paths and http(s) URLs. */
export function safeHref(href) {
  const s = String(href);
  if (s.startsWith("/") && !s.startsWith("//")) return s;
  try {
    const u = new URL(s, window.location.origin);
    if (u.origin === window.location.origin) return u.pathname + u.search + u.hash;
  } catch (e) {
    return "#";
  }
  return "#";
}

/** Build an element: `el("td", {class: "num"}, "text", child, ...)`. Strings become text. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "text") {
      node.textContent = String(value);
    } else if (SAFE_ATTRIBUTES.has(key)) {
      const v = key === "href" || key === "src" ? safeHref(value) : String(value);
      node.setAttribute(key, value === true ? "" : v);
    }
  }
  append(node, ...children);
  return node;
}

/** Append children: nodes as they are, anything else as text. */
export function append(node, ...children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Empty `node` and put `children` in it. */
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, ...children);
}

/** The page's query as {key: [values]}. */
export function queryState() {
  const out = {};
  for (const [key, value] of new URLSearchParams(window.location.search)) {
    (out[key] = out[key] || []).push(value);
  }
  return out;
}

/** First value of `key` in the URL query, or `fallback`. */
export function queryValue(key, fallback = "") {
  const v = new URLSearchParams(window.location.search).get(key);
  return v === null ? fallback : v;
}

/** Write `state` ({key: value | [values]}) to the URL query without reloading the page. */
export function setQuery(state) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v === undefined || v === null || v === "" || v === false) continue;
      params.append(key, String(v));
    }
  }
  const search = params.toString();
  const url = window.location.pathname + (search ? "?" + search : "");
  window.history.replaceState(null, "", url);
}

/** A query string for a link (same rules as setQuery). */
export function queryString(state) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v === undefined || v === null || v === "") continue;
      params.append(key, String(v));
    }
  }
  const s = params.toString();
  return s ? "?" + s : "";
}

/** Seconds since the epoch (or an ISO 8601 string) as local "YYYY-MM-DD HH:MM:SS". */
export function fmtTime(value) {
  if (value === null || value === undefined || value === "") return "";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const p = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())} ` +
    `${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`;
}

/** Seconds as "1h 02m", "3m 05s", "4.2s". */
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "";
  const s = Number(seconds);
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${String(m % 60).padStart(2, "0")}m`;
}

/** A number for a table: 4 significant digits, null as "–" (NaN and infinities arrive as null). */
export function fmtNumber(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return String(value);
  const a = Math.abs(value);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return value.toExponential(3);
  return String(Number(value.toPrecision(4)));
}

/** Any JSON value as one line of text. */
export function fmtValue(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number" || typeof value === "boolean") return fmtNumber(value);
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** A status badge. */
export function statusBadge(status) {
  return el("span", { class: `status status-${String(status).replace(/[^a-z]/g, "")}` }, status);
}

/** An error box with the API's sentence. */
export function errorBox(message) {
  return el("div", { class: "error", role: "alert" }, String(message));
}

/** Show `error` in `node` (replacing what was there). */
export function showError(node, error) {
  replace(node, errorBox(error && error.message ? error.message : error));
}

/** The header's navigation, the current page marked. */
export function header(current) {
  const nav = document.getElementById("nav");
  if (!nav) return;
  const links = [["runs", "/", "Runs"], ["compare", "/compare", "Compare"],
    ["leaderboard", "/leaderboard", "Leaderboard"], ["api", "/api/docs", "API"]];
  replace(nav, el("a", { href: "/", class: "brand" }, "trialbook"),
    ...links.map(([key, href, label]) =>
      el("a", { href, class: key === current ? "current" : "" }, label)));
}

/** Plotly is loaded by a classic script before the modules; null when it is missing. */
export function plotly() {
  return window.Plotly || null;
}

/** Call `fn` every `ms` while the page is open; `fn` returning false stops it. */
export function every(ms, fn) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    if (stopped) return;
    let again = true;
    try {
      again = (await fn()) !== false;
    } catch (e) {
      again = true;
    }
    if (again && !stopped) timer = setTimeout(tick, ms);
  };
  timer = setTimeout(tick, ms);
  return () => { stopped = true; clearTimeout(timer); };
}

/** Exponential moving average with weight `alpha` in [0, 1) (0: the raw values). */
export function smooth(values, alpha) {
  if (!alpha) return values.slice();
  const out = [];
  let last = null;
  for (const v of values) {
    if (v === null || v === undefined) { out.push(null); continue; }
    last = last === null ? v : alpha * last + (1 - alpha) * v;
    out.push(last);
  }
  return out;
}

/** A table from column labels and rows of cells (strings or nodes). */
export function table(columns, rows, attrs = {}) {
  return el("table", attrs,
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", {}, c)))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) =>
      c instanceof Node && c.tagName === "TD" ? c : el("td", {}, c))))));
}

/** A cell holding a number (right-aligned). */
export function numCell(value) {
  return el("td", { class: "num" }, fmtNumber(value));
}

export const PLOT_CONFIG = { displaylogo: false, responsive: true,
  modeBarButtonsToRemove: ["sendDataToCloud", "select2d", "lasso2d"] };

export const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
  "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/** An rgba() of a #rrggbb colour. */
export function fade(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}
