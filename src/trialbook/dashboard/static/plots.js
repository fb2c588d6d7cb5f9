// Charts with plotly.js (SVG `scatter` traces only: WebGL's regl needs eval, which the CSP
// refuses). Text handed to plotly is escaped first: plotly reads a few HTML-like tags in
// labels, and a run's metric names or samples must show literally.
import { COLORS, PLOT_CONFIG, fade, plotly, smooth } from "./common.js";

/** Text for a plotly label or hover: <, > and & escaped (plotly shows the entities as text). */
export function plotText(value) {
  return String(value === null || value === undefined ? "" : value)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export const X_TITLES = { step: "step", time: "wall time", relative: "time since start (s)" };

/** Plotly x values: epoch seconds become dates on the "time" axis. */
export function xValues(xs, axis) {
  return axis === "time" ? xs.map((x) => (x === null ? null : new Date(x * 1000))) : xs.slice();
}

/** The traces of one curve: an optional min/max envelope (when downsampled) and the line. */
export function curveTraces(curve, { axis = "step", smoothing = 0, color = COLORS[0], name = "",
  band = null } = {}) {
  const x = xValues(curve.x, axis);
  const traces = [];
  const low = band ? band.low : curve.sampled ? curve.y_min : null;
  const high = band ? band.high : curve.sampled ? curve.y_max : null;
  if (low && high) {
    traces.push({ type: "scatter", mode: "lines", x, y: low, line: { width: 0, color },
      hoverinfo: "skip", showlegend: false, name: plotText(name) + " low" });
    traces.push({ type: "scatter", mode: "lines", x, y: high, line: { width: 0, color },
      fill: "tonexty", fillcolor: fade(color, 0.18), hoverinfo: "skip", showlegend: false,
      name: plotText(name) + " high" });
  }
  if (smoothing > 0) {
    // The raw values stay visible, faded, under the smoothed line.
    traces.push({ type: "scatter", mode: "lines", x, y: curve.y, line: { width: 1, color },
      opacity: 0.25, hoverinfo: "skip", showlegend: false, name: plotText(name) + " raw" });
  }
  traces.push({ type: "scatter", mode: curve.y.length < 2 ? "markers" : "lines", x,
    y: smooth(curve.y, smoothing), line: { width: 1.6, color }, marker: { color, size: 5 },
    name: plotText(name), meta: "line" });
  return traces;
}

/** Layout of a line chart. */
export function lineLayout({ axis = "step", log = false, title = "", legend = false, height = 300 } = {}) {
  return {
    height,
    margin: { l: 56, r: 16, t: title ? 30 : 10, b: 40 },
    title: title ? { text: plotText(title), font: { size: 13 }, x: 0.02 } : undefined,
    xaxis: { title: { text: X_TITLES[axis] || axis, font: { size: 11 } }, type: axis === "time" ? "date" : "linear",
      zeroline: false },
    yaxis: { type: log ? "log" : "linear", zeroline: false, exponentformat: "e" },
    showlegend: legend,
    legend: { orientation: "h", y: -0.22 },
    hovermode: "x unified",
    uirevision: "keep",
  };
}

/** Redraw the chart in `node` at its new width whenever `box` changes width (plotly's own
 * `responsive` follows only the window, not a grid that gains a column). */
export function fitWidth(node, box) {
  if (typeof ResizeObserver === "undefined") return;
  let width = 0;
  new ResizeObserver(() => {
    const now = box.clientWidth;
    if (now === width) return;
    width = now;
    const P = plotly();
    if (P && node.data) P.Plots.resize(node);
  }).observe(box);
}

/** Draw (or redraw in place) `traces` in `node`; false when plotly.js is not available. */
export function draw(node, traces, layout) {
  const P = plotly();
  if (!P) {
    node.textContent = "plotly.js is not available: install the plotly package to see charts.";
    return false;
  }
  P.react(node, traces, layout, PLOT_CONFIG);
  return true;
}
