// Cron expressions as Metaflow's @schedule resolves them (`.schedule`): hourly
// `0 * * * ? *`, daily `0 0 * * ? *`, weekly `0 0 ? * SUN *` (AWS EventBridge's 6-field
// form) or the user's `cron=` as written, which may be an AWS 6-field cron or a classic
// 5-field one. Dagster wants 5 fields. The checks refuse what cannot convert; the
// automation pass converts what they let through.

export type CronResult = { ok: true; cron: string } | { ok: false; reason: string };

interface FieldSpec {
  label: string;
  min: number;
  max: number;
  /** Names accepted for values, mapped to their numbers (classic cron numbering). */
  names?: readonly string[];
  namesFrom?: number;
  /** `?` ("no specific value") is allowed in this field. */
  question?: boolean;
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const MINUTE: FieldSpec = { label: "minute", min: 0, max: 59 };
const HOUR: FieldSpec = { label: "hour", min: 0, max: 23 };
const DOM: FieldSpec = { label: "day-of-month", min: 1, max: 31, question: true };
const MONTH: FieldSpec = { label: "month", min: 1, max: 12, names: MONTHS, namesFrom: 1 };
// Classic cron: 0-7, both 0 and 7 are Sunday.
const DOW: FieldSpec = { label: "day-of-week", min: 0, max: 7, names: DAYS, namesFrom: 0, question: true };
// AWS EventBridge: 1-7 = SUN-SAT.
const AWS_DOW: FieldSpec = { label: "day-of-week", min: 1, max: 7, names: DAYS, namesFrom: 1, question: true };

const MACROS: Record<string, string> = {
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
};

class CronError extends Error {}

/** One parsed item of a field: `*`, `?`, `a`, `a-b`, each with an optional `/step`. */
interface Item {
  kind: "any" | "none" | "value" | "range";
  from: number;
  to: number;
  step: number | null;
}

function parseValue(text: string, spec: FieldSpec): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n < spec.min || n > spec.max) {
      throw new CronError(`${spec.label} value ${text} is outside ${spec.min}-${spec.max}`);
    }
    return n;
  }
  const index = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  if (index >= 0) return index + (spec.namesFrom ?? 0);
  if (/[LW#]/i.test(text)) {
    throw new CronError(
      `the ${spec.label} field uses '${text}' (L, W and # are Quartz/EventBridge extensions Dagster's cron does not share)`,
    );
  }
  throw new CronError(`'${text}' is not a valid ${spec.label} value`);
}

function parseField(text: string, spec: FieldSpec): Item[] {
  if (text === "") throw new CronError(`the ${spec.label} field is empty`);
  return text.split(",").map((part): Item => {
    if (part === "?") {
      if (spec.question !== true) throw new CronError(`'?' is not allowed in the ${spec.label} field`);
      return { kind: "none", from: spec.min, to: spec.max, step: null };
    }
    const [base = "", stepText, ...extra] = part.split("/");
    if (extra.length > 0) throw new CronError(`'${part}' is not a valid ${spec.label} item`);
    let step: number | null = null;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) {
        throw new CronError(`'${part}' has an invalid step in the ${spec.label} field`);
      }
      step = Number(stepText);
    }
    if (base === "*") return { kind: "any", from: spec.min, to: spec.max, step };
    const bounds = base.split("-");
    if (bounds.length === 1) {
      const v = parseValue(base, spec);
      return { kind: "value", from: v, to: v, step };
    }
    if (bounds.length === 2) {
      const from = parseValue(bounds[0] ?? "", spec);
      const to = parseValue(bounds[1] ?? "", spec);
      if (from > to) throw new CronError(`the ${spec.label} range '${base}' runs backwards`);
      return { kind: "range", from, to, step };
    }
    throw new CronError(`'${part}' is not a valid ${spec.label} item`);
  });
}

function restricted(items: readonly Item[]): boolean {
  return !items.some((i) => (i.kind === "any" && i.step === null) || i.kind === "none");
}

/** Values an item list selects (steps applied). */
function values(items: readonly Item[], spec: FieldSpec): Set<number> {
  const out = new Set<number>();
  for (const item of items) {
    // `a/n` runs from a to the field's end.
    const to = item.kind === "value" && item.step !== null ? spec.max : item.to;
    for (let v = item.from; v <= to; v += item.step ?? 1) out.add(v);
  }
  return out;
}

/** Refuse day-of-month/month combinations that never happen (Dagster refuses them too). */
function checkDates(dom: readonly Item[], month: readonly Item[]): void {
  if (!restricted(dom)) return;
  const days = values(dom, DOM);
  const months = restricted(month) ? values(month, MONTH) : new Set(MONTHS.map((_, i) => i + 1));
  const longest = Math.max(...[...months].map((m) => DAYS_IN_MONTH[m - 1] ?? 31));
  if (Math.min(...days) > longest) {
    throw new CronError("its day-of-month never occurs in the selected months");
  }
}

function render(items: readonly Item[], shift: number, question: "keep" | "star"): string {
  return items
    .map((item) => {
      const step = item.step === null ? "" : `/${item.step}`;
      switch (item.kind) {
        case "any":
          return `*${step}`;
        case "none":
          return question === "keep" ? "?" : "*";
        case "value":
          return `${item.from - shift}${step}`;
        case "range":
          return `${item.from - shift}-${item.to - shift}${step}`;
      }
    })
    .join(",");
}

/**
 * A Metaflow schedule expression as a 5-field Dagster cron.
 * - 5 fields (classic cron): validated, kept as written.
 * - 6 fields (AWS EventBridge: minute hour day-of-month month day-of-week year): `?`
 *   becomes `*`, names become numbers, day-of-week 1-7 (SUN-SAT) becomes 0-6; the year
 *   must be `*`; day-of-month and day-of-week may not both be restricted (EventBridge
 *   refuses that, classic cron would OR them).
 * L, W and # are refused in both forms.
 */
export function toDagsterCron(expression: string): CronResult {
  const text = expression.trim();
  const macro = MACROS[text.toLowerCase()];
  if (macro !== undefined) return { ok: true, cron: macro };
  const fields = text.split(/\s+/);
  try {
    if (fields.length === 5) {
      const [mi = "", h = "", dom = "", mo = "", dow = ""] = fields;
      parseField(mi, MINUTE);
      parseField(h, HOUR);
      const domItems = parseField(dom, DOM);
      const monthItems = parseField(mo, MONTH);
      parseField(dow, DOW);
      checkDates(domItems, monthItems);
      return { ok: true, cron: fields.join(" ") };
    }
    if (fields.length === 6) {
      const [mi = "", h = "", dom = "", mo = "", dow = "", year = ""] = fields;
      const minute = parseField(mi, MINUTE);
      const hour = parseField(h, HOUR);
      const domItems = parseField(dom, DOM);
      const monthItems = parseField(mo, MONTH);
      const dowItems = parseField(dow, AWS_DOW);
      if (year !== "*" && year !== "?") {
        throw new CronError(`the year field '${year}' cannot be expressed in a 5-field cron; use '*'`);
      }
      if (restricted(domItems) && restricted(dowItems)) {
        throw new CronError(
          "both day-of-month and day-of-week are restricted; in the 6-field (EventBridge) form one of them must be '?'",
        );
      }
      checkDates(domItems, monthItems);
      const cron = [
        render(minute, 0, "star"),
        render(hour, 0, "star"),
        render(domItems, 0, "star"),
        render(monthItems, 0, "star"),
        render(dowItems, 1, "star"),
      ].join(" ");
      return { ok: true, cron };
    }
    return {
      ok: false,
      reason: `'${expression}' has ${fields.length} fields; expected 5 (cron) or 6 (EventBridge: minute hour day-of-month month day-of-week year)`,
    };
  } catch (error) {
    if (error instanceof CronError) return { ok: false, reason: `'${expression}': ${error.message}` };
    throw error;
  }
}

/** Whether this JavaScript runtime (ICU) knows the IANA time zone. */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
