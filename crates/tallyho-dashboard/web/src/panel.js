// A panel: a chart card fed by one or more range queries over the chosen window.

import { query, queryRange } from "./api.js";
import { ChartCard, MAX_SERIES, prepare } from "./chart.js";

/**
 * The window the page shows: `seconds` long, ending now, with a step that gives about 240
 * points and a rate range that covers several samples.
 */
export function windowFor(seconds, now = Date.now() / 1000) {
  const step = Math.max(1, Math.round(seconds / 240));
  const end = Math.floor(now / step) * step;
  const rate = Math.max(60, 4 * step);
  return { seconds, start: end - seconds, end, step, rate };
}

/** `expr` with `$rate` replaced by the window's rate range and `$window` by its length. */
export function expand(expr, win) {
  return expr.replaceAll("$rate", `${win.rate}s`).replaceAll("$window", `${win.seconds}s`);
}

/**
 * A range query that brings back at most MAX_SERIES series: `topk(MAX_SERIES, expr)` (the
 * largest at each step; every series when there are no more than MAX_SERIES), so a family
 * of thousands of series costs the agent and the browser twenty, and a small one a single
 * request. Only a result that reaches the cap asks `count(expr)` how many there are now
 * (a failing count is ignored). When the wrapped query fails, the plain one is asked so
 * that the error names the user's expression, not the wrapper.
 */
async function cappedRange(expr, win) {
  const result = await queryRange(`topk(${MAX_SERIES}, ${expr})`, win.start, win.end, win.step).catch(
    () => queryRange(expr, win.start, win.end, win.step),
  );
  let total = result.length;
  if (total >= MAX_SERIES) {
    try {
      const c = await query(`count(${expr})`, win.end);
      if (c.resultType === "vector" && c.result.length) total = Math.max(total, Number(c.result[0].value[1]));
    } catch {
      // The chart still shows the top series; only the total is unknown.
    }
  }
  return { result, total };
}

export class Panel {
  /**
   * `def`: `{id, title, unit, subtitle, queries: [{expr, name?}]}`. A query's `name`
   * replaces the series names it produces (for example "p99").
   */
  constructor(parent, def) {
    this.def = def;
    this.card = new ChartCard(parent, def);
    this.card.state = this;
    this.card.el.dataset.queries = JSON.stringify(def.queries.map((q) => q.expr));
    this.seq = 0;
  }

  get el() {
    return this.card.el;
  }

  async refresh(win) {
    const seq = ++this.seq;
    try {
      const parts = await Promise.all(
        this.def.queries.map(async (q) => {
          const { result, total } = await cappedRange(expand(q.expr, win), win);
          return result.map((r) => ({ ...r, rename: q.name, total }));
        }),
      );
      if (seq !== this.seq) return;
      const result = parts.flat();
      const total = parts.reduce((n, p) => n + (p.length ? p[0].total : 0), 0);
      const prepared = prepare(result, this.def.title, (metric, name) => {
        const r = result.find((x) => x.metric === metric);
        if (!r || !r.rename) return name;
        return typeof r.rename === "function" ? r.rename(metric, name) : r.rename;
      });
      prepared.total = Math.max(prepared.total, total);
      this.card.setData(prepared, win.start, win.end);
    } catch (e) {
      if (seq === this.seq) this.card.setError(e.message);
    }
  }

  rebuild() {
    this.card.rebuild();
  }

  remove() {
    this.card.remove();
  }
}
