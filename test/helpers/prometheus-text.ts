/**
 * A strict reader of the Prometheus text exposition format (0.0.4), so a clone without `promtool`
 * still checks the format: HELP and TYPE before a family's samples and once each, valid names and
 * label syntax, numeric values, histograms with ascending `le`, cumulative buckets, `+Inf` equal to
 * `_count`, and counters that are not negative. Throws naming the first line at fault.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/;

export function parsePrometheusText(text: string): { types: Map<string, string>; samples: Sample[] } {
  if (!text.endsWith("\n")) throw new Error("the exposition does not end with a newline");
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  text.slice(0, -1).split("\n").forEach((line, index) => {
    const fail = (why: string): never => {
      throw new Error(`line ${index + 1} (${line}): ${why}`);
    };
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
      const [, kind, name, rest] = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line) ?? fail("malformed comment");
      if (!NAME.test(name as string)) fail("bad metric name");
      if (kind === "HELP") {
        if (helped.has(name as string)) fail("a second HELP");
        helped.add(name as string);
      } else {
        if (types.has(name as string)) fail("a second TYPE");
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest as string)) fail("unknown type");
        if (samples.some((sample) => family(sample.name, types) === name)) fail("TYPE after the family's samples");
        types.set(name as string, rest as string);
      }
      return;
    }
    if (line.startsWith("#")) return;
    const [, name, , labelText, valueText] = SAMPLE.exec(line) ?? fail("malformed sample");
    const labels: Record<string, string> = {};
    let rest = labelText ?? "";
    while (rest !== "") {
      const match = LABEL.exec(rest) ?? fail("malformed labels");
      const key = match[1] as string;
      if (key in labels) fail(`label ${key} twice`);
      labels[key] = (match[2] as string).replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));
      rest = rest.slice(match[0].length);
    }
    const value = valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : Number(valueText);
    if (valueText !== "NaN" && Number.isNaN(value)) fail("value is not a number");
    const key = `${name as string}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) fail("a duplicate series");
    seen.add(key);
    const owner = family(name as string, types);
    if (owner === undefined) fail("a sample before its family's TYPE");
    if (types.get(owner as string) === "counter" && value < 0) fail("a negative counter");
    samples.push({ name: name as string, labels, value });
  });
  checkHistograms(types, samples);
  return { types, samples };
}

function family(name: string, types: ReadonlyMap<string, string>): string | undefined {
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, "");
  return types.get(base) === "histogram" ? base : undefined;
}

function checkHistograms(types: ReadonlyMap<string, string>, samples: readonly Sample[]): void {
  for (const [name, type] of types) {
    if (type !== "histogram") continue;
    const series = new Map<string, Sample[]>();
    for (const sample of samples.filter((s) => s.name === `${name}_bucket`)) {
      const { le, ...rest } = sample.labels;
      if (le === undefined) throw new Error(`${name}: a bucket without le`);
      const key = JSON.stringify(Object.entries(rest).sort());
      series.set(key, [...(series.get(key) ?? []), sample]);
    }
    for (const [key, buckets] of series) {
      const bounds = buckets.map((bucket) => (bucket.labels.le === "+Inf" ? Infinity : Number(bucket.labels.le)));
      if (bounds.at(-1) !== Infinity) throw new Error(`${name}${key}: no +Inf bucket last`);
      for (let i = 1; i < buckets.length; i++) {
        if (!((bounds[i] as number) > (bounds[i - 1] as number))) throw new Error(`${name}${key}: le not ascending`);
        if ((buckets[i] as Sample).value < (buckets[i - 1] as Sample).value) throw new Error(`${name}${key}: buckets not cumulative`);
      }
      const count = samples.find((s) => s.name === `${name}_count` && JSON.stringify(Object.entries(s.labels).sort()) === key);
      if (count === undefined || count.value !== buckets.at(-1)?.value) throw new Error(`${name}${key}: _count is not the +Inf bucket`);
      if (!samples.some((s) => s.name === `${name}_sum` && JSON.stringify(Object.entries(s.labels).sort()) === key)) throw new Error(`${name}${key}: no _sum`);
    }
  }
}
