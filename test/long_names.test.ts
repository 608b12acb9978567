// Long step names: op, helper-op and switch output names are path components under
// Dagster's filesystem IO manager (255 bytes at most), so the planner shortens long ones
// to a prefix and a stable hash, injectively, and keeps short ones as they are.
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { FlowIR } from "../src/ir/index.js";
import { planModule } from "../src/plan/module.js";
import { CompileError } from "../src/validate/index.js";
import type { ModulePlan } from "../src/plan/types.js";
import { DAGSTER_NAME, dagsterJobName, fitDagsterName, MAX_DAGSTER_NAME } from "../src/base/dagster_names.js";
import { flowIR, linearIR } from "./support/ir.js";
import { realBundle } from "./support/runtime.js";

function plan(ir: FlowIR): ModulePlan {
  return planModule(ir, realBundle());
}

// Two 238-character step names sharing a 236-character prefix (Metaflow allows
// `[a-z0-9_]`; the trailing `_` makes pyIdent encode them, and `_` doubles: 361 bytes).
const PREFIX = `s${"_x".repeat(117)}_`;
const LONG_A = `${PREFIX}a_`;
const LONG_B = `${PREFIX}b_`;

function twoLong(): FlowIR {
  return flowIR({
    start: [LONG_A, LONG_B],
    [LONG_A]: ["join"],
    [LONG_B]: ["join"],
    join: ["end"],
    end: [],
  });
}

function opOf(p: ModulePlan, step: string): string {
  const op = p.ops.find((o) => o.step === step && o.kind !== "splits" && o.kind !== "regroup");
  if (op === undefined) throw new Error(`no op for ${step}`);
  return op.fn;
}

function sha10(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex").slice(0, 10);
}

describe("dagsterJobName", () => {
  it("keeps an ASCII class name and turns @project's dots into underscores", () => {
    expect(dagsterJobName("MyFlow")).toBe("MyFlow");
    expect(dagsterJobName("proj.user.alice.MyFlow")).toBe("proj_user_alice_MyFlow");
  });

  it("keeps two non-ASCII names that sanitise alike apart, by a hash of the whole name", () => {
    const a = dagsterJobName("Flüsse_Ωmega");
    const b = dagsterJobName("Flösse_Ωmega");
    expect(a).toMatch(/^Fl_sse__mega_[0-9a-f]{10}$/);
    expect(b).toMatch(/^Fl_sse__mega_[0-9a-f]{10}$/);
    expect(a).not.toBe(b);
    // One `_` per code point, not per UTF-16 unit: an astral character is one.
    expect(dagsterJobName("A🚀")).toMatch(/^A__[0-9a-f]{10}$/);
  });

  it("always gives a Dagster name", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme" }), (name) => DAGSTER_NAME.test(dagsterJobName(name)) || name === ""));
  });
});

describe("fitDagsterName", () => {
  it("keeps names shorter than the limit", () => {
    for (const name of ["op_start", "a", "x".repeat(MAX_DAGSTER_NAME - 1)]) {
      expect(fitDagsterName(name)).toBe(name);
    }
  });

  it("shortens the rest to exactly the limit: a prefix, `_`, 10 hex digits of SHA-256", () => {
    const name = `op_${"y".repeat(300)}`;
    const fit = fitDagsterName(name);
    expect(fit).toHaveLength(MAX_DAGSTER_NAME);
    expect(fit).toBe(`${name.slice(0, MAX_DAGSTER_NAME - 11)}_${sha10(name)}`);
    // A name of exactly the limit is shortened too, so kept and shortened names differ
    // in length and cannot meet.
    const exact = "z".repeat(MAX_DAGSTER_NAME);
    expect(fitDagsterName(exact)).not.toBe(exact);
    expect(fitDagsterName(exact)).toHaveLength(MAX_DAGSTER_NAME);
  });

  it("is stable across calls and tells apart names sharing a long prefix", () => {
    const a = `op_${"q".repeat(400)}a`;
    const b = `op_${"q".repeat(400)}b`;
    expect(fitDagsterName(a)).toBe(fitDagsterName(a));
    expect(fitDagsterName(a)).not.toBe(fitDagsterName(b));
  });

  it("refuses what is not a Dagster name", () => {
    expect(() => fitDagsterName("Flüsse")).toThrow(/not a Dagster name/);
  });
});

describe("long step names", () => {
  it("give two distinct op names within the limit, both valid Dagster names", () => {
    expect(LONG_A).toHaveLength(238);
    expect(LONG_A.slice(0, 236)).toBe(LONG_B.slice(0, 236));
    const p = plan(twoLong());
    const a = opOf(p, LONG_A);
    const b = opOf(p, LONG_B);
    expect(a).not.toBe(b);
    for (const fn of p.ops.map((o) => o.fn)) {
      expect(Buffer.byteLength(fn, "utf8")).toBeLessThanOrEqual(MAX_DAGSTER_NAME);
      expect(fn).toMatch(DAGSTER_NAME);
    }
    expect(new Set(p.ops.map((o) => o.fn)).size).toBe(p.ops.length);
    // The body calls the same (shortened) ops the plan defines.
    const called = p.job.body.flatMap((n) => (n.kind === "call" ? [n.fn] : []));
    expect(called).toContain(a);
    expect(called).toContain(b);
  });

  it("give the same op names on every compile", () => {
    const first = plan(twoLong()).ops.map((o) => o.fn);
    const second = plan(twoLong()).ops.map((o) => o.fn);
    expect(second).toEqual(first);
  });

  it("leave short names unchanged", () => {
    const p = plan(linearIR(["middle_step"]));
    expect(p.ops.map((o) => o.fn)).toEqual(["op_start", "op_middle_step", "op_end"]);
  });

  it("shorten helper ops of nested foreaches and regrouped joins", () => {
    const outer = `o${"_x".repeat(120)}`;
    const join = `j${"_x".repeat(120)}`;
    const p = plan(
      flowIR({
        start: { next: [outer], foreach: "xs" },
        [outer]: { next: ["inner"], foreach: "ys" },
        inner: [join],
        [join]: { next: ["outer_join"], join: true },
        outer_join: { next: ["end"], join: true },
        end: [],
      }),
    );
    const kinds = p.ops.map((o) => o.kind);
    expect(kinds).toContain("splits");
    expect(kinds).toContain("regroup");
    for (const op of p.ops) {
      expect(op.fn.length).toBeLessThanOrEqual(MAX_DAGSTER_NAME);
      expect(op.fn).toMatch(DAGSTER_NAME);
    }
    expect(new Set(p.ops.map((o) => o.fn)).size).toBe(p.ops.length);
  });

  it("shorten switch output names, distinct per switch, the same in the op and the FLOW facts", () => {
    const p = plan(
      flowIR({
        start: { next: [LONG_A, LONG_B], switch: "way" },
        [LONG_A]: ["end"],
        [LONG_B]: ["end"],
        end: [],
      }),
    );
    const op = p.ops.find((o) => o.kind === "switch");
    if (op === undefined) throw new Error("no switch op");
    const outputs = op.branches.map(([name]) => name);
    expect(new Set(outputs).size).toBe(2);
    for (const name of outputs) {
      expect(name.length).toBeLessThanOrEqual(MAX_DAGSTER_NAME);
      expect(name).toMatch(DAGSTER_NAME);
    }
    const facts = p.flow.steps.find((f) => f.name === "start");
    expect(facts?.branches).toEqual(op.branches);
  });

  it("refuses two steps whose shortened op names meet (a hash collision), never merging them", () => {
    // Found by a birthday search: `op_<x>` of these two names agree on the first
    // 10 hex digits of SHA-256 (ec2a90972c), and on the first 189 characters.
    const x = `s${"x".repeat(240)}lo8l`;
    const y = `s${"x".repeat(240)}thkj`;
    expect(fitDagsterName(`op_${x}`)).toBe(fitDagsterName(`op_${y}`));
    const ir = flowIR({ start: [x, y], [x]: ["join"], [y]: ["join"], join: ["end"], end: [] });
    expect(() => plan(ir)).toThrow(CompileError);
    expect(() => plan(ir)).toThrow(`the ops of steps '${x}' and '${y}' would both be named`);
  });
});
