// Number formatting by unit: bytes (IEC), seconds, percent, rates and plain counts (SI).

const IEC = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
const SI = ["", "k", "M", "G", "T", "P", "E"];
const SMALL = [
  [1e-9, "n"],
  [1e-6, "µ"],
  [1e-3, "m"],
];

/** Up to three significant digits, no trailing zeros ("1.5", "12", "0.25"). */
export function num(v) {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  let s;
  if (a >= 100) s = v.toFixed(0);
  else if (a >= 10) s = v.toFixed(1);
  else if (a >= 1) s = v.toFixed(2);
  else s = v.toPrecision(3);
  if (s.includes(".") && !s.includes("e")) s = s.replace(/\.?0+$/, "");
  return s;
}

function scaled(v, base, names, unit) {
  const a = Math.abs(v);
  let i = 0;
  while (a >= base ** (i + 1) && i < names.length - 1) i++;
  return `${num(v / base ** i)} ${names[i]}${unit}`.trim();
}

function si(v, unit) {
  const a = Math.abs(v);
  // Milli and micro help units (ms, mW); a plain count below 1 reads better as 0.75.
  if (a !== 0 && a < 1 && unit) {
    for (const [f, p] of SMALL) {
      if (a < f * 1000) return `${num(v / f)} ${p}${unit}`.trim();
    }
  }
  return scaled(v, 1000, SI, unit);
}

function seconds(v) {
  const a = Math.abs(v);
  if (a === 0) return "0 s";
  if (a < 1) return si(v, "s");
  if (a < 120) return `${num(v)} s`;
  if (a < 7200) return `${num(v / 60)} min`;
  if (a < 172800) return `${num(v / 3600)} h`;
  return `${num(v / 86400)} d`;
}

/** Formats `v` in `unit`; `null`/`undefined`/NaN become an em dash. */
export function fmt(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  switch (unit) {
    case "bytes":
      return scaled(v, 1024, IEC, "");
    case "bytes/s":
      return `${scaled(v, 1024, IEC, "")}/s`;
    case "seconds":
      return seconds(v);
    case "percent":
      return `${num(v * 100)}%`;
    case "cores":
      return `${num(v)} cores`;
    case "celsius":
      return `${num(v)} °C`;
    case "watts":
      return si(v, "W");
    case "hertz":
      return si(v, "Hz");
    case "joules":
      return si(v, "J");
    case "/s":
      return `${si(v, "")}/s`;
    case "s/s":
      return `${num(v)} s/s`;
    default:
      return si(v, "");
  }
}

/** The unit a family's name or metadata implies, and the unit of its rate. */
export function unitOf(name, metaUnit) {
  const u = (metaUnit || "").toLowerCase();
  const base = name.replace(/_total$/, "");
  const has = (s) => u === s || base.endsWith(`_${s}`);
  if (has("bytes")) return { value: "bytes", rate: "bytes/s" };
  if (has("seconds")) return { value: "seconds", rate: "s/s" };
  if (has("ratio") || has("utilization") || u === "1" || u === "percent")
    return { value: "percent", rate: "/s" };
  if (has("celsius")) return { value: "celsius", rate: "/s" };
  if (has("watts")) return { value: "watts", rate: "/s" };
  if (has("hertz")) return { value: "hertz", rate: "/s" };
  if (has("joules")) return { value: "joules", rate: "watts" };
  return { value: "", rate: "/s" };
}

/** A duration in seconds as PromQL writes it ("90s", "5m", "1h"). */
export function promDuration(secs) {
  const s = Math.max(1, Math.round(secs));
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}
