// A panel: a chart card fed by one or more range queries over the chosen window.

import { query, queryRange, queryRangeBatch } from "./api.js";
import { ChartCard, MAX_SERIES, prepare, state } from "./chart.js";

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
  const result = await queryRange(capped(expr), win.start, win.end, win.step).catch(
    () => queryRange(expr, win.start, win.end, win.step),
  );
  return { result, total: await totalOf(expr, result, win) };
}

const capped = (expr) => `topk(${MAX_SERIES}, ${expr})`;

/** How many series `expr` has now: `result`'s length, or `count(expr)` at the cap. */
async function totalOf(expr, result, win) {
  let total = result.length;
  if (total >= MAX_SERIES) {
    try {
      const c = await query(`count(${expr})`, win.end);
      if (c.resultType === "vector" && c.result.length) total = Math.max(total, Number(c.result[0].value[1]));
    } catch {
      // The chart still shows the top series; only the total is unknown.
    }
  }
  return total;
}

/**
 * Refreshes `panels` over `win` with one request for all their queries (`queryRangeBatch`);
 * when that fails, each panel asks on its own, so that an error lands on the chart whose
 * query caused it.
 */
export async function refreshPanels(panels, win) {
  const exprs = panels.flatMap((p) => p.def.queries.map((q) => capped(expand(q.expr, win))));
  let results = null;
  // What the batches did, for the browser test: requests sent and how many fell back.
  const b = (state().batches ||= { sent: 0, fellBack: 0, parts: 0 });
  b.sent += 1;
  b.parts = exprs.length;
  try {
    results = await queryRangeBatch(exprs, win.start, win.end, win.step);
  } catch {
    b.fellBack += 1; // Asked one by one below.
  }
  let next = 0;
  await Promise.all(
    panels.map((p) => {
      const n = p.def.queries.length;
      const mine = results && results.slice(next, next + n);
      next += n;
      return p.refresh(win, mine);
    }),
  );
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

  /**
   * Draws the window `win`. `given`, when there, holds each query's capped result already
   * fetched (by `refreshPanels`); otherwise the panel asks for them itself.
   */
  async refresh(win, given = null) {
    const seq = ++this.seq;
    try {
      const parts = await Promise.all(
        this.def.queries.map(async (q, i) => {
          const expr = expand(q.expr, win);
          const { result, total } = given
            ? { result: given[i], total: await totalOf(expr, given[i], win) }
            : await cappedRange(expr, win);
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
