// Call-outs above the views: overflowed cardinality (from /health), export failures and
// StatsD lines dropped (from the self-metrics), and alerts when /api/v1/alerts answers.

import { alerts, health, query, queryBatch } from "./api.js";
import { state } from "./chart.js";
import { fmt } from "./format.js";

const SELF = [
  {
    key: "export_failures",
    expr: "sum by (exporter) (tallyho_export_failures_total) > 0",
    text: (m, v) => `Export failures: ${fmt(v, "")} failed attempts to ${m.exporter || "an exporter"}`,
  },
  {
    key: "export_dropped",
    expr: "sum by (exporter) (tallyho_export_dropped_total) > 0",
    text: (m, v) => `Exports dropped: ${fmt(v, "")} batches lost by ${m.exporter || "an exporter"}`,
  },
  {
    key: "statsd_malformed",
    expr: "sum(tallyho_statsd_malformed_lines_total) > 0",
    text: (m, v) => `StatsD: ${fmt(v, "")} malformed lines dropped`,
  },
  {
    key: "statsd_rejected",
    expr: "sum(tallyho_statsd_rejected_lines_total) > 0",
    text: (m, v) => `StatsD: ${fmt(v, "")} lines rejected (name, type or tags clash)`,
  },
];

function item(kind, text) {
  const li = document.createElement("li");
  li.className = `callout ${kind}`;
  li.textContent = text;
  return li;
}

export class Callouts {
  constructor(list, alertsBox, statusEl) {
    this.list = list;
    this.alertsBox = alertsBox;
    this.statusEl = statusEl;
    this.alertsUntil = 0;
  }

  async refresh(now) {
    const items = [];
    const found = {};
    const [h, selfResults] = await Promise.all([
      health().catch((e) => ({ error: e.message })),
      // One request for all of them; one each (a failure counts as none) if that fails.
      queryBatch(SELF.map((s) => s.expr), now).catch(() =>
        Promise.all(SELF.map((s) => query(s.expr, now).then((d) => d.result, () => []))),
      ),
    ]);
    if (h.error) {
      this.statusEl.textContent = `health: ${h.error}`;
    } else {
      const up = fmt(h.uptime_seconds, "seconds");
      const count = (x) => (typeof x === "object" && x ? Object.values(x).reduce((a, b) => a + (Number(b) || 0), 0) : Number(x) || 0);
      this.statusEl.textContent = `${h.status} · up ${up} · ${count(h.families)} families · ${count(h.series)} series`;
      const over = h.cardinality_overflow || {};
      found.overflow = over;
      for (const [family, n] of Object.entries(over)) {
        items.push(item("warn", `Cardinality limit reached: ${family} (${fmt(n, "")} records went to its overflow series)`));
      }
    }
    SELF.forEach((s, i) => {
      found[s.key] = selfResults[i].map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
      for (const r of selfResults[i]) items.push(item("error", s.text(r.metric, Number(r.value[1]))));
    });
    this.list.replaceChildren(...items);
    this.list.hidden = items.length === 0;
    state().callouts = found;
    await this.refreshAlerts();
  }

  /** Asks for alerts; a 404 hides the panel and waits a minute before asking again. */
  async refreshAlerts() {
    if (Date.now() < this.alertsUntil) return;
    let data;
    try {
      data = await alerts();
    } catch {
      data = null;
    }
    if (!data) {
      this.alertsUntil = Date.now() + 60_000;
      this.alertsBox.hidden = true;
      state().alerts = null;
      return;
    }
    const list = (data.alerts || []).filter((a) => a.state === "firing" || a.state === "pending");
    state().alerts = list;
    const ul = this.alertsBox.querySelector("ul");
    ul.replaceChildren(
      ...list.map((a) => {
        const name = (a.labels && a.labels.alertname) || "alert";
        const summary = (a.annotations && (a.annotations.summary || a.annotations.description)) || "";
        const li = item(a.state === "firing" ? "error" : "warn", `${a.state}: ${name}${summary ? ` — ${summary}` : ""}`);
        return li;
      }),
    );
    this.alertsBox.querySelector(".none").hidden = list.length > 0;
    this.alertsBox.hidden = false;
  }
}
