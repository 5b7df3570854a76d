// The family search: words match names, `label=value` (or !=, =~, !~) match series labels.

const MATCHER = /^([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*)$/;

function unquote(v) {
  const t = v.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t[t.length - 1] === t[0]) {
    return t.slice(1, -1);
  }
  return t;
}

/**
 * Parses the search box: `{words: [...], matchers: [{name, op, value, re}], error}`. A bad
 * regular expression is reported, not thrown.
 */
export function parseSearch(text) {
  const words = [];
  const matchers = [];
  let error = null;
  for (const token of text.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) || []) {
    const m = MATCHER.exec(token);
    if (!m) {
      words.push(token.toLowerCase());
      continue;
    }
    const [, name, op, raw] = m;
    const value = unquote(raw);
    let re = null;
    if (op === "=~" || op === "!~") {
      try {
        re = new RegExp(`^(?:${value})$`);
      } catch (e) {
        error = `bad regular expression for ${name}: ${e.message}`;
        continue;
      }
    }
    matchers.push({ name, op, value, re });
  }
  return { words, matchers, error };
}

/** Whether the label set `labels` satisfies every matcher (a missing label is ""). */
export function labelsMatch(labels, matchers) {
  return matchers.every(({ name, op, value, re }) => {
    const v = labels[name] ?? "";
    switch (op) {
      case "=":
        return v === value;
      case "!=":
        return v !== value;
      case "=~":
        return re.test(v);
      default:
        return !re.test(v);
    }
  });
}

/** The PromQL selector for `name` with the search's matchers. */
export function selector(name, matchers) {
  if (!matchers.length) return name;
  const inner = matchers.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(",");
  return `${name}{${inner}}`;
}

/** The family a series belongs to: histograms own `_bucket`, `_sum` and `_count`. */
export function familyOf(seriesName, meta) {
  if (meta[seriesName]) return seriesName;
  const m = /^(.*)_(bucket|sum|count)$/.exec(seriesName);
  if (m && meta[m[1]]) return m[1];
  return seriesName;
}
