// Drives Debian's Chromium through the dashboard for tests/browser.rs and writes what the
// page shows (read from window.__tallyho, not from pixels) to $TALLYHO_REPORT as JSON.
// The Rust test makes the assertions; this script only acts and reads, and fails on a
// step that does not happen in time.

import { chromium } from "playwright-core";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const base = process.env.TALLYHO_URL;
const user = process.env.TALLYHO_USER;
const pass = process.env.TALLYHO_PASS;
const shots = process.env.TALLYHO_SHOTS;
const reportPath = process.env.TALLYHO_REPORT;
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const report = { console: [], pageErrors: [], failedRequests: [], steps: {} };

async function cpu() {
  const res = await fetch(`${base}/__test/cpu`);
  return Number(await res.text());
}

function watch(page, tag) {
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") {
      report.console.push({ tag, type: m.type(), text: m.text(), url: m.location().url || "" });
    }
  });
  page.on("pageerror", (e) => report.pageErrors.push({ tag, text: String(e) }));
  page.on("response", (r) => {
    if (r.status() >= 400) report.failedRequests.push({ tag, status: r.status(), url: r.url() });
  });
}

/** Waits until chart `id` was updated after `since` (ms since the epoch) and returns it. */
async function chartAfter(page, id, since) {
  await page.waitForFunction(
    ([id, since]) => {
      const c = window.__tallyho && window.__tallyho.charts[id];
      return c && c.updated > since;
    },
    [id, since],
    { timeout: 15000 },
  );
  return page.evaluate((id) => window.__tallyho.charts[id], id);
}

async function overview(page) {
  const c0 = await cpu();
  const t0 = Date.now();
  await page.goto(`${base}/`, { waitUntil: "load" });
  await page.waitForFunction(() => {
    const s = window.__tallyho;
    // The call-outs load beside the charts, not before them: wait for both.
    if (!s || !s.ready || !s.callouts) return false;
    const ids = [...document.querySelectorAll("#overview-charts [data-chart]")].map((e) => e.dataset.chart);
    return ids.length > 0 && ids.every((id) => s.charts[id] && s.charts[id].updated > 0);
  }, null, { timeout: 15000 });
  const loadMs = Date.now() - t0;
  const cpuLoad = (await cpu()) - c0;
  const s = await page.evaluate(() => ({
    charts: window.__tallyho.charts,
    callouts: window.__tallyho.callouts,
    alerts: window.__tallyho.alerts,
    loadedMs: window.__tallyho.loadedMs,
    drawnMs: window.__tallyho.drawnMs,
    batches: window.__tallyho.batches,
    chartIds: [...document.querySelectorAll("#overview-charts [data-chart]")].map((e) => e.dataset.chart),
    calloutTexts: [...document.querySelectorAll("#callouts li")].map((e) => e.textContent),
    alertsHidden: document.querySelector("#alerts").hidden,
    status: document.querySelector("#status").textContent,
    canvases: document.querySelectorAll("#overview-charts canvas").length,
    // Where the load's time went: navigation phases and each request, in ms from the
    // navigation's start.
    timing: (() => {
      const [n] = performance.getEntriesByType("navigation");
      const round = (x) => Math.round(x);
      return {
        responseEnd: n && round(n.responseEnd),
        domContentLoaded: n && round(n.domContentLoadedEventEnd),
        scriptStarted: round(window.__tallyho.started),
        lastResponse: round(Math.max(0, ...performance.getEntriesByType("resource").map((r) => r.responseEnd))),
        resources: performance.getEntriesByType("resource").map((r) => ({
          name: r.name.replace(location.origin, "").slice(0, 80),
          start: round(r.startTime),
          end: round(r.responseEnd),
        })),
      };
    })(),
  }));
  await page.screenshot({ path: join(shots, "dashboard-host.png") });
  // Live: the next refresh brings new data without a reload.
  const before = s.charts["host-cpu"].updated;
  const live = await chartAfter(page, "host-cpu", before);
  // Dark theme: the toggle switches and the charts are drawn again with their data.
  await page.click("#theme");
  const dark = await page.evaluate(() => ({
    theme: document.documentElement.dataset.theme,
    bg: getComputedStyle(document.body).backgroundColor,
    canvases: document.querySelectorAll("#overview-charts canvas").length,
  }));
  await page.screenshot({ path: join(shots, "dashboard-dark.png") });
  await page.click("#theme");
  const light = await page.evaluate(() => document.documentElement.dataset.theme);
  report.steps.overview = { ...s, loadMs, cpuLoad, liveUpdated: live.updated > before, dark, light };
}

async function searchAndPick(page, text, family) {
  await page.fill("#family-search", text);
  const listed = await page.evaluate(() => window.__tallyho.families.matching);
  const since = Date.now();
  await page.click(`button.family[data-family="${family}"]`);
  const chart = await chartAfter(page, "family-main", since);
  return { listed, chart };
}

async function families(page) {
  await page.goto(`${base}/#/families`);
  await page.waitForFunction(() => window.__tallyho && window.__tallyho.families && window.__tallyho.families.total > 0, null, { timeout: 15000 });
  const total = await page.evaluate(() => window.__tallyho.families.total);
  const counter = await searchAndPick(page, "jobs", "jobs_total");
  const byLabel = await searchAndPick(page, "queue=b", "jobs_total");
  const c0 = await cpu();
  const many = await searchAndPick(page, "many", "many_series");
  // Refreshing the 1,000-series family: wait for three refreshes and count the CPU.
  let t = many.chart.updated;
  const r0 = Date.now();
  for (let i = 0; i < 3; i++) t = (await chartAfter(page, "family-main", t)).updated;
  const manyRefresh = { cpu: (await cpu()) - c0, seconds: (Date.now() - r0) / 1000 };
  const hist = await searchAndPick(page, "request_duration", "request_duration_seconds");
  await page.waitForFunction(() => window.__tallyho.charts["family-buckets"], null, { timeout: 15000 });
  const buckets = await page.evaluate(() => window.__tallyho.charts["family-buckets"]);
  const count = await page.evaluate(() => window.__tallyho.charts["family-count"]);
  await page.screenshot({ path: join(shots, "dashboard-family.png") });
  report.steps.families = { total, counter, byLabel, many, manyRefresh, hist, buckets, count };
}

async function promql(page) {
  await page.goto(`${base}/#/query`);
  await page.fill("#promql", "sum(rate(jobs_total[1m]))");
  let since = Date.now();
  await page.click("form.promql button[type=submit]");
  const good = await chartAfter(page, "query", since);
  const bad = "sum(rate(jobs_total[1m])";
  await page.fill("#promql", bad);
  since = Date.now();
  await page.press("#promql", "Enter");
  const wrong = await chartAfter(page, "query", since);
  const shown = await page.textContent('[data-chart="query"] .err');
  const visible = await page.isVisible('[data-chart="query"] .err');
  // What the API itself answers for the same range query.
  const now = Math.floor(Date.now() / 1000);
  const qs = new URLSearchParams({ query: bad, start: String(now - 300), end: String(now), step: "1" });
  const auth = { Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}` };
  const api = await (await fetch(`${base}/api/v1/query_range?${qs}`, { headers: auth })).json();
  report.steps.promql = { good, wrong, shown, visible, apiError: api.error };
}

async function withoutCredentials(browser) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  watch(page, "anonymous");
  const res = await page.goto(`${base}/`);
  // The page's API calls then meet a Basic challenge, which a real browser answers with
  // its login prompt; ask the API directly to see the refusal.
  const api = await fetch(`${base}/api/v1/metadata`);
  report.steps.anonymous = {
    pageStatus: res.status(),
    apiStatus: api.status,
    challenge: api.headers.get("www-authenticate"),
    apiBody: await api.text(),
  };
  await ctx.close();
}

const profile = mkdtempSync(join(tmpdir(), "tallyho-chromium-"));
let ctx = null;
try {
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    // Playwright passes the fresh profile as --user-data-dir itself.
    args: FLAGS,
    viewport: { width: 1440, height: 900 },
    colorScheme: "light",
    httpCredentials: { username: user, password: pass },
  });
  const page = ctx.pages()[0] || (await ctx.newPage());
  watch(page, "main");
  await overview(page);
  await families(page);
  await promql(page);
  // A second browser with its own fresh profile and no credentials.
  const anon = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: FLAGS });
  try {
    await withoutCredentials(anon);
  } finally {
    await anon.close();
  }
} catch (e) {
  report.failure = String(e && e.stack ? e.stack : e);
} finally {
  writeFileSync(reportPath, JSON.stringify(report, null, 1));
  if (ctx) await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
if (report.failure) {
  console.error(report.failure);
  process.exit(1);
}
