// The PromQL box: charts any expression through /api/v1/query_range over the window, and
// shows the API's error text when the expression is wrong.

import { Panel } from "./panel.js";

export class QueryView {
  constructor(root) {
    this.root = root;
    this.form = root.querySelector("form");
    this.input = root.querySelector("#promql");
    this.charts = root.querySelector(".charts");
    this.panel = null;
    this.expr = "";
    this.onRun = null;
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (this.onRun) this.onRun(this.input.value.trim());
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey || !e.shiftKey)) {
        e.preventDefault();
        this.form.requestSubmit();
      }
    });
  }

  /** Charts `expr`; `$rate` and `$window` expand as in the other charts. */
  run(expr, win) {
    if (this.input.value.trim() !== expr) this.input.value = expr;
    this.expr = expr;
    if (this.panel) this.panel.remove();
    this.panel = null;
    if (!expr) return Promise.resolve();
    this.panel = new Panel(this.charts, {
      id: "query",
      title: expr,
      subtitle: "",
      unit: "",
      queries: [{ expr }],
    });
    return this.panel.refresh(win);
  }

  refresh(win) {
    return this.panel ? this.panel.refresh(win) : Promise.resolve();
  }

  rebuild() {
    if (this.panel) this.panel.rebuild();
  }
}
