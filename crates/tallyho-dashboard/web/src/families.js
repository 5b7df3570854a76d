// The families view: every family of the registry, searchable by name and label, and the
// charts of the one picked (counters as rates, gauges as values, histograms as quantiles
// plus a bucket view).

import { metadata, query, series } from "./api.js";
import { state } from "./chart.js";
import { fmt, unitOf } from "./format.js";
import { Panel } from "./panel.js";
import { familyOf, labelsMatch, parseSearch, selector } from "./search.js";

const MAX_LISTED = 300;

/** The panels that chart family `name` of type `type`, restricted by `matchers`. */
export function familyPanels(name, type, unitMeta, matchers) {
  const units = unitOf(name, unitMeta);
  if (type === "counter") {
    return [
      {
        id: "family-main",
        title: `${name}: rate`,
        subtitle: "per second, by series",
        unit: units.rate,
        queries: [{ expr: `rate(${selector(name, matchers)}[$rate])` }],
      },
    ];
  }
  if (type === "histogram") {
    const b = selector(`${name}_bucket`, matchers);
    const q = (p) => `histogram_quantile(${p}, sum by (le) (rate(${b}[$rate])))`;
    return [
      {
        id: "family-main",
        title: `${name}: quantiles`,
        subtitle: "p50, p90 and p99 over all series",
        unit: units.value,
        queries: [
          { expr: q(0.5), name: "p50" },
          { expr: q(0.9), name: "p90" },
          { expr: q(0.99), name: "p99" },
        ],
      },
      {
        id: "family-count",
        title: `${name}: observations`,
        subtitle: "per second, by series",
        unit: "/s",
        queries: [{ expr: `rate(${selector(`${name}_count`, matchers)}[$rate])` }],
      },
    ];
  }
  return [
    {
      id: "family-main",
      title: name,
      subtitle: "value, by series",
      unit: units.value,
      queries: [{ expr: selector(name, matchers) }],
    },
  ];
}

export class FamiliesView {
  constructor(root, onPick) {
    this.root = root;
    this.onPick = onPick;
    this.meta = {};
    this.counts = new Map();
    this.labelsByFamily = new Map();
    this.panels = [];
    this.picked = null;
    this.input = root.querySelector("#family-search");
    this.list = root.querySelector("#family-list");
    this.detail = root.querySelector("#family-detail");
    this.status = root.querySelector("#family-status");
    this.input.addEventListener("input", () => this.renderList());
  }

  /** Reloads the family list and the series' labels (over `win`). */
  async load(win) {
    try {
      const [meta, sets] = await Promise.all([metadata(), series('{__name__=~".+"}', win.start, win.end)]);
      this.meta = meta;
      this.counts = new Map();
      this.labelsByFamily = new Map();
      for (const labels of sets) {
        const fam = familyOf(labels.__name__, meta);
        this.counts.set(fam, (this.counts.get(fam) || 0) + 1);
        if (!this.labelsByFamily.has(fam)) this.labelsByFamily.set(fam, []);
        this.labelsByFamily.get(fam).push(labels);
      }
      this.renderList();
    } catch (e) {
      this.status.textContent = `Could not list the families: ${e.message}`;
    }
  }

  matching() {
    const { words, matchers, error } = parseSearch(this.input.value);
    const names = Object.keys(this.meta).sort();
    const hits = names.filter((n) => {
      const m = this.meta[n][0] || {};
      const hay = `${n} ${m.help || ""}`.toLowerCase();
      if (!words.every((w) => hay.includes(w))) return false;
      if (!matchers.length) return true;
      return (this.labelsByFamily.get(n) || []).some((l) => labelsMatch(l, matchers));
    });
    return { hits, matchers, error };
  }

  renderList() {
    const { hits, error } = this.matching();
    this.list.replaceChildren();
    for (const name of hits.slice(0, MAX_LISTED)) {
      const m = this.meta[name][0] || {};
      const li = document.createElement("li");
      const btn = document.createElement("button");
      btn.type = "button";
      btn.className = "family";
      btn.dataset.family = name;
      if (name === this.picked) btn.setAttribute("aria-current", "true");
      btn.innerHTML = '<span class="fname"></span><span class="badge"></span><span class="count"></span><span class="help"></span>';
      btn.querySelector(".fname").textContent = name;
      btn.querySelector(".badge").textContent = m.type || "unknown";
      btn.querySelector(".count").textContent = `${this.counts.get(name) || 0} series`;
      btn.querySelector(".help").textContent = m.help || "";
      btn.addEventListener("click", () => this.onPick(name));
      li.appendChild(btn);
      this.list.appendChild(li);
    }
    const more = hits.length > MAX_LISTED ? ` (first ${MAX_LISTED} listed)` : "";
    this.status.textContent = error || `${hits.length} of ${Object.keys(this.meta).length} families${more}`;
    state().families = { total: Object.keys(this.meta).length, matching: hits };
  }

  /** Shows family `name`'s charts, with the search's label matchers applied. */
  pick(name, win) {
    this.picked = name;
    for (const p of this.panels) p.remove();
    this.panels = [];
    const m = (this.meta[name] && this.meta[name][0]) || {};
    const { matchers } = parseSearch(this.input.value);
    this.detail.querySelector("h2").textContent = name;
    this.detail.querySelector(".help").textContent = m.help ? `${m.help} (${m.type})` : m.type || "";
    const charts = this.detail.querySelector(".charts");
    for (const def of familyPanels(name, m.type, m.unit, matchers)) {
      this.panels.push(new Panel(charts, def));
    }
    this.buckets = m.type === "histogram" ? { name, matchers, unit: unitOf(name, m.unit).value } : null;
    this.detail.querySelector(".buckets").hidden = !this.buckets;
    this.renderList();
    return this.refresh(win);
  }

  async refresh(win) {
    await Promise.all([...this.panels.map((p) => p.refresh(win)), this.refreshBuckets(win)]);
  }

  /** The histogram's buckets over the window: observations per bucket, not cumulative. */
  async refreshBuckets(win) {
    if (!this.buckets) return;
    const box = this.detail.querySelector(".buckets");
    const { name, matchers, unit } = this.buckets;
    const expr = `sum by (le) (increase(${selector(`${name}_bucket`, matchers)}[${win.seconds}s]))`;
    try {
      const data = await query(expr, win.end);
      const rows = data.result
        .map((r) => ({ le: r.metric.le, bound: Number(r.metric.le === "+Inf" ? Infinity : r.metric.le), cum: Number(r.value[1]) }))
        .sort((a, b) => a.bound - b.bound);
      const buckets = rows.map((r, i) => ({ le: r.le, count: Math.max(0, r.cum - (i ? rows[i - 1].cum : 0)) }));
      state().charts["family-buckets"] = { title: `${name} buckets`, buckets, error: null, updated: Date.now() };
      renderBuckets(box, buckets, unit);
    } catch (e) {
      state().charts["family-buckets"] = { title: `${name} buckets`, buckets: [], error: e.message, updated: Date.now() };
      box.querySelector(".bars").textContent = e.message;
    }
  }

  rebuild() {
    for (const p of this.panels) p.rebuild();
  }
}

function renderBuckets(box, buckets, unit) {
  const bars = box.querySelector(".bars");
  bars.replaceChildren();
  const max = Math.max(1, ...buckets.map((b) => b.count));
  buckets.forEach((b, i) => {
    const row = document.createElement("div");
    row.className = "bar";
    row.innerHTML = '<span class="le"></span><span class="track"><span class="fill"></span></span><span class="n"></span>';
    const prev = i > 0 ? fmt(Number(buckets[i - 1].le), unit) : "";
    row.querySelector(".le").textContent = b.le === "+Inf" ? `> ${prev}` : `≤ ${fmt(Number(b.le), unit)}`;
    row.querySelector(".fill").style.width = `${(100 * b.count) / max}%`;
    row.querySelector(".n").textContent = fmt(b.count, "");
    bars.appendChild(row);
  });
  if (!buckets.length) bars.textContent = "No observations in this window.";
}
