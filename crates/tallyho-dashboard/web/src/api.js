// The same-origin Prometheus HTTP API and /health. Errors carry the API's own text.

export class ApiError extends Error {
  constructor(message, status, type) {
    super(message);
    this.status = status;
    this.type = type || "";
  }
}

const listeners = new Set();
/** Calls `fn(status)` whenever a request is refused for lack of credentials. */
export function onAuthFailure(fn) {
  listeners.add(fn);
}

async function getJSON(path, params, preloaded = false) {
  const qs = params ? `?${params.toString()}` : "";
  // A request the page preloads (index.html) is asked for exactly as the preload did, so
  // that the browser hands over the response already on its way.
  const init = preloaded
    ? { credentials: "same-origin" }
    : { credentials: "same-origin", cache: "no-store" };
  let res;
  try {
    res = await fetch(path + qs, init);
  } catch (e) {
    throw new ApiError(`the agent did not answer (${e.message})`, 0, "network");
  }
  if (res.status === 401 || res.status === 403) {
    for (const fn of listeners) fn(res.status);
  }
  let body = null;
  const text = await res.text();
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(
      text.trim() || `${res.status} ${res.statusText}`,
      res.status,
      "http",
    );
  }
  if (!res.ok || (body && body.status === "error")) {
    const msg = body && body.error ? body.error : `${res.status} ${res.statusText}`;
    throw new ApiError(msg, res.status, body && body.errorType);
  }
  return body;
}

async function api(path, params, preloaded = false) {
  const body = await getJSON(`/api/v1/${path}`, params, preloaded);
  return body.data;
}

/** `query_range`: a list of `{metric, values: [[t, "v"], ...]}`. */
export async function queryRange(query, start, end, step) {
  const p = new URLSearchParams({
    query,
    start: start.toFixed(3),
    end: end.toFixed(3),
    step: String(step),
  });
  const data = await api("query_range", p);
  if (data.resultType !== "matrix") {
    throw new ApiError(`expected a matrix, got ${data.resultType}`, 200, "client");
  }
  return data.result;
}

/** An instant query: `{resultType, result}`. */
export async function query(q, time) {
  const p = new URLSearchParams({ query: q });
  if (time !== undefined) p.set("time", time.toFixed(3));
  return api("query", p);
}

let metadataPreload = true;

/**
 * `{family name: [{type, help, unit}]}` for every family of the registry. The first call
 * takes the response index.html preloaded; later ones ask again.
 */
export function metadata() {
  const preloaded = metadataPreload;
  metadataPreload = false;
  return api("metadata", undefined, preloaded);
}

/** Label sets of the series matching `match` over [start, end]. */
export function series(match, start, end) {
  const p = new URLSearchParams();
  p.append("match[]", match);
  p.set("start", start.toFixed(3));
  p.set("end", end.toFixed(3));
  return api("series", p);
}

/** `/health` as JSON. */
export function health() {
  return getJSON("/health");
}

/**
 * `/api/v1/alerts`, or `null` when this agent has no alerting (404 or 405): the panel then
 * stays hidden.
 */
export async function alerts() {
  try {
    return await api("alerts");
  } catch (e) {
    if (e.status === 404 || e.status === 405) return null;
    throw e;
  }
}

/** The label a batch tags each part's series with; taken off again before they are returned. */
const PART = "__tallyho_part";

/**
 * `exprs` as one PromQL expression: each part tagged with its index by `label_replace`
 * and all of them joined by `or`. The tags keep every part's series apart, so `or` drops
 * none of them.
 */
export function batchExpr(exprs) {
  return exprs.map((e, i) => `label_replace(${e}, "${PART}", "${i}", "__name__", ".*")`).join(" or ");
}

/** Splits a batch's result into one list per part, the tag taken off. */
export function splitBatch(result, parts) {
  const out = Array.from({ length: parts }, () => []);
  for (const r of result) {
    const { [PART]: tag, ...metric } = r.metric;
    const i = Number(tag);
    if (!Number.isInteger(i) || i < 0 || i >= parts) {
      throw new ApiError(`a batched series came back without its part (${PART}=${tag})`, 200, "client");
    }
    out[i].push({ ...r, metric });
  }
  return out;
}

/**
 * Several range queries over the same window in one request (the page's first draw would
 * otherwise queue its charts on the browser's six connections): a list of results, one
 * per expression. When the batch fails, the caller asks the parts one by one, so that an
 * error names the expression that caused it.
 */
export async function queryRangeBatch(exprs, start, end, step) {
  if (!exprs.length) return [];
  return splitBatch(await queryRange(batchExpr(exprs), start, end, step), exprs.length);
}

/** Several instant vector queries in one request; see `queryRangeBatch`. */
export async function queryBatch(exprs, time) {
  if (!exprs.length) return [];
  const data = await query(batchExpr(exprs), time);
  if (data.resultType !== "vector") {
    throw new ApiError(`expected a vector, got ${data.resultType}`, 200, "client");
  }
  return splitBatch(data.result, exprs.length);
}
