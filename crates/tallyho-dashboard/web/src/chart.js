// A chart card: a title, a uPlot time-series chart of fixed height, a note and an error
// line. What it draws is also kept on `window.__tallyho.charts[id]` for tests and tools.

import uPlot from "uplot";
import { fmt } from "./format.js";

/** At most this many series are drawn per chart: the largest by peak value. */
export const MAX_SERIES = 20;
const PLOT_HEIGHT = 190;

const PALETTES = {
  light: [
    "#1f6fd1", "#d9480f", "#2b8a3e", "#ae3ec9", "#c2255c", "#0b7285", "#e67700",
    "#5c940d", "#5f3dc4", "#a61e4d", "#1864ab", "#862e9c", "#087f5b", "#c92a2a",
    "#364fc7", "#d6336c", "#2f9e44", "#f08c00", "#495057", "#0c8599",
  ],
  dark: [
    "#74b3ff", "#ff922b", "#69db7c", "#da77f2", "#f783ac", "#3bc9db", "#ffd43b",
    "#a9e34b", "#9775fa", "#ff8787", "#4dabf7", "#e599f7", "#63e6be", "#ffa8a8",
    "#91a7ff", "#faa2c1", "#8ce99a", "#ffc078", "#ced4da", "#66d9e8",
  ],
};

/** The data shared with tests: charts by id, plus page-level facts set by main.js. */
export function state() {
  if (!window.__tallyho) window.__tallyho = { charts: {}, errors: [], refreshes: 0 };
  return window.__tallyho;
}

function themeName() {
  return document.documentElement.dataset.theme === "dark" ? "dark" : "light";
}

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** A display name per series: the labels whose values differ between series. */
export function seriesNames(metrics, fallback) {
  const keys = new Set();
  for (const m of metrics) for (const k of Object.keys(m)) keys.add(k);
  const varying = [...keys].filter((k) => {
    const first = metrics[0][k];
    return metrics.some((m) => m[k] !== first);
  });
  return metrics.map((m) => {
    if (metrics.length === 1 || varying.length === 0) {
      const own = Object.entries(m).filter(([k]) => k !== "__name__" && k !== "service");
      if (!own.length) return m.__name__ || fallback;
      return own.map(([k, v]) => `${k}=${v}`).join(", ");
    }
    if (varying.length === 1) return m[varying[0]] ?? "";
    return varying.map((k) => (k === "__name__" ? m[k] : `${k}=${m[k] ?? ""}`)).join(", ");
  });
}

function parseValue(s) {
  if (s === "+Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  return Number(s);
}

/** Turns a matrix result into named series of `[t, v]` points, ranked and capped. */
export function prepare(result, fallbackName, rename) {
  const names = seriesNames(result.map((r) => r.metric), fallbackName);
  const all = result.map((r, i) => {
    const points = r.values.map(([t, v]) => [Number(t), parseValue(v)]);
    let peak = -Infinity;
    for (const [, v] of points) if (Number.isFinite(v)) peak = Math.max(peak, Math.abs(v));
    const last = points.length ? points[points.length - 1][1] : null;
    return { name: rename ? rename(r.metric, names[i]) : names[i], labels: r.metric, points, peak, last };
  });
  const shown = all.length > MAX_SERIES
    ? [...all].sort((a, b) => b.peak - a.peak).slice(0, MAX_SERIES)
    : all;
  return { total: all.length, shown };
}

/** uPlot's column data: shared timestamps, then one column per series (null = gap). */
function columns(shown) {
  const ts = new Set();
  for (const s of shown) for (const [t] of s.points) ts.add(t);
  const xs = [...ts].sort((a, b) => a - b);
  const at = new Map(xs.map((t, i) => [t, i]));
  const cols = shown.map((s) => {
    const col = new Array(xs.length).fill(null);
    for (const [t, v] of s.points) col[at.get(t)] = Number.isFinite(v) ? v : null;
    return col;
  });
  return [xs, ...cols];
}

function lastFinite(col) {
  for (let i = col.length - 1; i >= 0; i--) if (col[i] !== null && Number.isFinite(col[i])) return col[i];
  return null;
}

const observer = new ResizeObserver((entries) => {
  for (const e of entries) e.target.__card?.resize();
});

export class ChartCard {
  constructor(parent, { id, title, unit, subtitle }) {
    this.id = id;
    this.unit = unit || "";
    this.title = title;
    this.el = document.createElement("article");
    this.el.className = "card";
    this.el.dataset.chart = id;
    this.el.innerHTML = `<header><h3></h3><span class="note"></span></header>
      <p class="sub"></p><div class="plot"><p class="empty">Loading…</p></div>
      <p class="err" role="alert" hidden></p>`;
    this.el.querySelector("h3").textContent = title;
    this.el.querySelector(".sub").textContent = subtitle || "";
    this.plotEl = this.el.querySelector(".plot");
    this.plotEl.__card = this;
    parent.appendChild(this.el);
    observer.observe(this.plotEl);
    this.plot = null;
    this.data = null;
    this.window = null;
    state().charts[id] = { title, unit: this.unit, total: 0, shown: [], error: null, updated: 0 };
  }

  /** Draws `prepared` (from `prepare`) over [start, end] seconds. */
  setData(prepared, start, end) {
    this.data = prepared;
    this.window = [start, end];
    const note = prepared.total > prepared.shown.length
      ? `top ${prepared.shown.length} of ${prepared.total} series by value`
      : `${prepared.total} series`;
    this.el.querySelector(".note").textContent = note;
    this.setError(null);
    const entry = state().charts[this.id];
    Object.assign(entry, {
      total: prepared.total,
      shown: prepared.shown.map((s) => ({ name: s.name, labels: s.labels, last: s.last, points: s.points })),
      error: null,
      updated: Date.now(),
    });
    this.draw();
  }

  setError(message) {
    const err = this.el.querySelector(".err");
    err.hidden = !message;
    err.textContent = message || "";
    if (message) {
      state().charts[this.id].error = message;
      state().charts[this.id].updated = Date.now();
      this.el.querySelector(".empty")?.remove();
    }
  }

  draw() {
    if (!this.data) return;
    const { shown } = this.data;
    this.plotEl.querySelector(".empty")?.remove();
    if (shown.length === 0) {
      this.destroyPlot();
      const p = document.createElement("p");
      p.className = "empty";
      p.textContent = "No data in this window.";
      this.plotEl.appendChild(p);
      return;
    }
    const data = columns(shown);
    const sameShape = this.plot && this.plot.series.length === shown.length + 1
      && this.plot.series.every((s, i) => i === 0 || s.label === shown[i - 1].name);
    if (sameShape) {
      this.plot.setData(data, false);
      this.plot.setScale("x", { min: this.window[0], max: this.window[1] });
      return;
    }
    this.destroyPlot();
    this.plot = new uPlot(this.options(shown), data, this.plotEl);
  }

  options(shown) {
    const palette = PALETTES[themeName()];
    const axis = css("--muted");
    const grid = css("--grid");
    const unit = this.unit;
    const [min, max] = this.window;
    return {
      width: Math.max(200, this.plotEl.clientWidth),
      height: PLOT_HEIGHT,
      scales: { x: { time: true, range: () => [min, max] } },
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        {
          stroke: axis,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid },
          size: 84,
          values: (u, splits) => splits.map((v) => fmt(v, unit)),
        },
      ],
      series: [
        { value: (u, v) => (v == null ? "latest" : new Date(v * 1000).toLocaleTimeString()) },
        ...shown.map((s, i) => ({
          label: s.name,
          stroke: palette[i % palette.length],
          width: 1.5,
          points: { show: false },
          spanGaps: false,
          // Without a cursor the legend shows the latest value.
          value: (u, v, si, idx) => fmt(idx == null ? lastFinite(u.data[si]) : v, unit),
        })),
      ],
    };
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: Math.max(200, this.plotEl.clientWidth), height: PLOT_HEIGHT });
  }

  /** Recreates the plot (after a theme change). */
  rebuild() {
    this.destroyPlot();
    this.draw();
  }

  destroyPlot() {
    if (this.plot) {
      this.plot.destroy();
      this.plot = null;
    }
  }

  remove() {
    this.destroyPlot();
    observer.unobserve(this.plotEl);
    this.el.remove();
    delete state().charts[this.id];
  }
}
