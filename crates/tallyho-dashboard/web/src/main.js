// The page: views chosen by the URL's hash, the time window, live refresh, the theme.

import { metadata, onAuthFailure } from "./api.js";
import { state } from "./chart.js";
import { Callouts } from "./callouts.js";
import { FamiliesView } from "./families.js";
import { hostPanels } from "./overview.js";
import { Panel, refreshPanels, windowFor } from "./panel.js";
import { QueryView } from "./promql.js";

const WINDOWS = { "5m": 300, "1h": 3600, "6h": 21600, "24h": 86400 };
const $ = (sel) => document.querySelector(sel);

const app = {
  view: "overview",
  windowKey: "5m",
  overview: [],
  families: null,
  query: null,
  callouts: null,
  timer: null,
  busy: false,
  loadedFamilies: false,
};

function win() {
  return windowFor(WINDOWS[app.windowKey]);
}

/** Refreshes every `window / 60`, between 5 s and 60 s: often enough to look live. */
function refreshEvery() {
  return Math.min(60, Math.max(5, WINDOWS[app.windowKey] / 60)) * 1000;
}

async function refresh() {
  if (app.busy || document.hidden) return;
  app.busy = true;
  const w = win();
  try {
    const jobs = [app.callouts.refresh(w.end)];
    if (app.view === "overview") jobs.push(refreshPanels(app.overview, w));
    if (app.view === "families") jobs.push(app.families.refresh(w));
    if (app.view === "query") jobs.push(app.query.refresh(w));
    await Promise.all(jobs);
  } finally {
    app.busy = false;
    const s = state();
    s.refreshes += 1;
    s.lastRefresh = Date.now();
    $("#updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  }
}

function schedule() {
  clearInterval(app.timer);
  app.timer = setInterval(refresh, refreshEvery());
}

function parseHash() {
  const h = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
  if (h.startsWith("families")) return { view: "families", arg: h.slice("families/".length) };
  if (h.startsWith("query")) return { view: "query", arg: h.slice("query/".length) };
  return { view: "overview", arg: "" };
}

async function route() {
  const { view, arg } = parseHash();
  app.view = view;
  for (const v of ["overview", "families", "query"]) {
    $(`#view-${v}`).hidden = v !== view;
    $(`#tab-${v}`).setAttribute("aria-selected", String(v === view));
  }
  state().view = view;
  const w = win();
  if (view === "families") {
    if (!app.loadedFamilies) {
      app.loadedFamilies = true;
      await app.families.load(w);
    }
    if (arg && arg !== app.families.picked) await app.families.pick(arg, w);
    else await app.families.refresh(w);
  } else if (view === "query") {
    if (arg && arg !== app.query.expr) await app.query.run(arg, w);
    else if (arg) await app.query.refresh(w);
  } else {
    await refreshPanels(app.overview, w);
  }
  const s = state();
  // From the script's start to the first view drawn.
  if (s.loadedMs === undefined) {
    s.loadedMs = performance.now() - s.started;
    // From the navigation's start (the page-load measure of the Navigation Timing API).
    s.drawnMs = performance.now();
  }
  s.ready = true;
}

function setTheme(choice) {
  const dark = choice === "dark" || (choice === "auto" && matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
  const btn = $("#theme");
  btn.textContent = { auto: "Theme: auto", dark: "Theme: dark", light: "Theme: light" }[choice];
  try {
    localStorage.setItem("tallyho-theme", choice);
  } catch {
    // Private windows may refuse storage; the choice then lasts for this page only.
  }
  app.theme = choice;
  for (const p of app.overview) p.rebuild();
  app.families?.rebuild();
  app.query?.rebuild();
}

function storedTheme() {
  try {
    return localStorage.getItem("tallyho-theme") || "auto";
  } catch {
    return "auto";
  }
}

async function start() {
  const s = state();
  s.started = performance.now();
  setTheme(storedTheme());
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => setTheme(app.theme));
  $("#theme").addEventListener("click", () => {
    setTheme({ auto: "dark", dark: "light", light: "auto" }[app.theme]);
  });
  for (const btn of document.querySelectorAll("[data-window]")) {
    btn.addEventListener("click", () => {
      app.windowKey = btn.dataset.window;
      for (const b of document.querySelectorAll("[data-window]")) {
        b.setAttribute("aria-pressed", String(b === btn));
      }
      schedule();
      refresh();
    });
  }
  onAuthFailure(() => {
    $("#auth").hidden = false;
  });
  app.callouts = new Callouts($("#callouts"), $("#alerts"), $("#status"));
  app.families = new FamiliesView($("#view-families"), (name) => {
    const next = `#/families/${encodeURIComponent(name)}`;
    if (location.hash === next) app.families.pick(name, win());
    else location.hash = next;
  });
  app.query = new QueryView($("#view-query"));
  app.query.onRun = (expr) => {
    const next = `#/query/${encodeURIComponent(expr)}`;
    if (location.hash === next) app.query.run(expr, win());
    else location.hash = next;
  };
  let names = new Set();
  try {
    names = new Set(Object.keys(await metadata()));
  } catch (e) {
    $("#overview-note").textContent = `Could not read the registry's families: ${e.message}`;
  }
  const panels = hostPanels(names);
  if (!panels.length && names.size) {
    $("#overview-note").textContent = "This registry has no host metrics: see Families for what it has.";
  }
  app.overview = panels.map((def) => new Panel($("#overview-charts"), def));
  window.addEventListener("hashchange", () => route());
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
  });
  await Promise.all([route(), app.callouts.refresh(win().end)]);
  schedule();
}

window.addEventListener("error", (e) => state().errors.push(String(e.message)));
start().catch((e) => {
  state().errors.push(String(e && e.message));
  $("#overview-note").textContent = `The dashboard failed to start: ${e && e.message}`;
});
