// Flow decorators and deploy options: cron conversion, trigger mappings, tags, the
// compile-time policy and what the emitted module contains for them.
import { describe, expect, it } from "vitest";
import { compile } from "../src/compile.js";
import type { FlowIR } from "../src/ir/index.js";
import { toDagsterCron } from "../src/base/cron.js";
import { jobTags, opTags } from "../src/plan/tags.js";
import { resolveEventMappings } from "../src/ir/index.js";
import { CompileError, validate, type Problem } from "../src/validate/index.js";
import { deco, linearIR, param, stepOf, valued } from "./support/ir.js";
import { realBundle } from "./support/runtime.js";

const RUNTIME = realBundle();

function problems(ir: FlowIR): readonly Problem[] {
  try {
    validate(ir);
    return [];
  } catch (error) {
    if (error instanceof CompileError) return error.problems;
    throw error;
  }
}

const cron = (expression: string): string | null => {
  const result = toDagsterCron(expression);
  return result.ok ? result.cron : null;
};

const schedule = (expression: string, timezone: string | null = null): Partial<FlowIR["automation"]> => ({
  schedule: { expression, timezone, attributes: {} },
});

describe("toDagsterCron", () => {
  it("converts what Metaflow's @schedule resolves to", () => {
    expect(cron("0 * * * ? *")).toBe("0 * * * *"); // hourly
    expect(cron("0 0 * * ? *")).toBe("0 0 * * *"); // daily
    expect(cron("0 0 ? * SUN *")).toBe("0 0 * * 0"); // weekly
  });

  it("turns EventBridge day-of-week 1-7 (SUN-SAT) and names into 0-6", () => {
    expect(cron("30 8 ? * MON-FRI *")).toBe("30 8 * * 1-5");
    expect(cron("0 6 ? * 2,6 *")).toBe("0 6 * * 1,5");
    expect(cron("0 6 ? * 1,7 *")).toBe("0 6 * * 0,6");
    expect(cron("0 6 ? * 2/2 *")).toBe("0 6 * * 1/2");
    expect(cron("0/15 8-18 ? * sat *")).toBe("0/15 8-18 * * 6");
    expect(cron("0 12 1 JAN,JUL ? *")).toBe("0 12 1 1,7 *");
  });

  it("keeps classic 5-field crons as written and accepts macros", () => {
    expect(cron("*/20 9-17 * * 1-5")).toBe("*/20 9-17 * * 1-5");
    expect(cron("0 0 * * SUN")).toBe("0 0 * * SUN");
    expect(cron("0  0  1  *  *")).toBe("0 0 1 * *");
    expect(cron("@weekly")).toBe("0 0 * * 0");
  });

  it("refuses what a 5-field Dagster cron cannot mean", () => {
    for (const bad of [
      "0 0 L * ? *",
      "0 0 ? * 2#1 *",
      "0 0 15W * ? *",
      "0 0 ? * 6L *",
      "0 0 1 * 2 *",
      "0 0 * * ? 2030",
      "0 0 31 2 ? *",
      "0 0 30 FEB *",
      "60 * * * *",
      "0 24 * * *",
      "0 0 0 * *",
      "0 0 * 13 *",
      "0 0 * * 8",
      "5-1 * * * *",
      "*/0 * * * *",
      "? * * * *",
      "0 0 * * ? * *",
      "daily",
      "",
    ]) {
      expect(toDagsterCron(bad).ok, bad).toBe(false);
    }
  });
});

describe("compile-time policy for flow decorators", () => {
  it("refuses a bad cron or time zone, naming @schedule", () => {
    const got = problems(linearIR([], { automation: schedule("0 0 L * ? *", "Nowhere/Town") }));
    expect(got.map((p) => p.decorator)).toEqual(["schedule", "schedule"]);
    expect(got[0]?.message).toContain("L, W and # are Quartz/EventBridge extensions");
    expect(got[1]?.message).toContain("'Nowhere/Town' is not an IANA time zone");
  });

  it("refuses a required parameter without a default on a scheduled flow only", () => {
    const parameters = [param("size", { required: true, hasDefault: false, default: null })];
    expect(problems(linearIR([], { parameters }))).toEqual([]);
    const got = problems(linearIR([], { parameters, automation: schedule("0 * * * ? *") }));
    expect(got).toEqual([
      {
        decorator: "schedule",
        message:
          "parameter 'size' is required and has no default, so a scheduled run could not start; give it a default",
      },
    ]);
  });

  it("refuses trigger mappings to unknown parameters and Argo-only options", () => {
    const automation: Partial<FlowIR["automation"]> = {
      events: {
        events: [{ name: "bad name!", parameters: { nope: "f" } }],
        options: { reset_at: {} },
      },
      onFinish: { flows: [{ flow: "A", project: null, branch: null, projectFlowName: "A" }], options: { x: 1 } },
    };
    const got = problems(linearIR([], { parameters: [param("size")], automation }));
    expect(got.map((p) => p.decorator)).toEqual(["trigger", "trigger", "trigger", "trigger_on_finish"]);
  });
});

describe("trigger mappings", () => {
  it("resolves parameter names case-insensitively; one bare event maps every parameter", () => {
    const parameters = [param("Size"), param("label")];
    const explicit = linearIR([], {
      parameters,
      automation: { events: { events: [{ name: "e", parameters: { size: "rows" } }], options: {} } },
    });
    expect(resolveEventMappings(explicit).events).toEqual([{ name: "e", parameters: [["Size", "rows"]] }]);
    const bare = linearIR([], {
      parameters,
      automation: { events: { events: [{ name: "e", parameters: {} }], options: {} } },
    });
    expect(resolveEventMappings(bare).events[0]?.parameters).toEqual([
      ["Size", "size"],
      ["label", "label"],
    ]);
  });
});

describe("tags", () => {
  it("shows @resources and @timeout on the op", () => {
    const ir = linearIR(["a"]);
    const a = stepOf(ir, "a");
    a.decorators.push(deco("resources", { cpu: 2, memory: 4096, gpu: null, disk: null }));
    a.timeoutSeconds = 65;
    expect(opTags(a)).toEqual({
      "metaflow/resources.cpu": "2",
      "metaflow/resources.memory": "4096",
      "metaflow/timeout": "65",
    });
    expect(opTags(stepOf(ir, "start"))).toBeNull();
  });

  it("sets dagster/max_runtime and the @project branch on the job", () => {
    const ir = linearIR([], {
      deploy: {
        workflowTimeout: 3600,
        project: { name: "p", branch: "test.a", flowName: "p.test.a.F", production: false, userBranch: false },
      },
    });
    expect(jobTags(ir)).toEqual({
      "dagster/max_runtime": "3600",
      "metaflow/project": "p",
      "metaflow/branch": "test.a",
    });
  });
});

describe("emitted schedules, sensors and facts", () => {
  it("adds the schedule and sensors to Definitions and the facts to FLOW", () => {
    const ir = linearIR(["a"], {
      name: "MyFlow",
      parameters: [param("size", { type: "int", default: 1 })],
      deploy: {
        projectFlowName: "p.prod.MyFlow",
        workflowTimeout: 60,
        configs: { cfg: { json: '{"lr": 1.0}', plain: false } },
      },
      automation: {
        ...schedule("0 0 ? * SUN *", "Europe/Paris"),
        events: { events: [{ name: "ready", parameters: { size: "rows" } }], options: {} },
        onFinish: { flows: [{ flow: "Up", project: "p", branch: "prod", projectFlowName: "p.prod.Up" }], options: {} },
      },
    });
    stepOf(ir, "a").timeoutSeconds = 30;
    valued(ir);
    const out = compile(ir, RUNTIME);
    expect(out).toContain('cron_schedule="0 0 * * 0"');
    expect(out).toContain('execution_timezone="Europe/Paris"');
    expect(out).toContain('name="p_prod_MyFlow_schedule"');
    expect(out).toContain("def MyFlow_on_finish(context: SensorEvaluationContext) -> SensorResult:");
    expect(out).toContain("return upstream_finished(context, FLOW)");
    expect(out).toContain('return events_arrived(context, FLOW, "op_start")');
    expect(out).toContain('trigger_on_finish=("p_prod_Up",)');
    expect(out).toContain('trigger_events={"ready": {"size": "rows"}}');
    expect(out).toContain("workflow_timeout=60,");
    expect(out).toContain(`configs={"cfg": ('{"lr": 1.0}', False)},`);
    expect(out).toContain('StepInfo("a", timeout=30)');
    expect(out).toContain('"dagster/max_runtime": "60"');
    expect(out).toMatch(
      /defs = Definitions\(\n {4}jobs=\[MyFlow\],\n {4}assets=flow_assets\(FLOW\),\n {4}schedules=\[MyFlow_schedule\],\n {4}sensors=\[MyFlow_on_finish, MyFlow_on_events\],\n\)/,
    );
  });

  it("tells the runtime which steps have a @card (in source or from --with)", () => {
    const ir = linearIR(["a", "b"]);
    stepOf(ir, "a").decorators.push(deco("card", { type: "default", id: null }));
    stepOf(ir, "b").decorators.push({ ...deco("card", { type: "blank", id: "x" }), staticallyDefined: false });
    stepOf(ir, "b").timeoutSeconds = 30;
    valued(ir);
    const out = compile(ir, RUNTIME);
    expect(out).toContain('StepInfo("a", cards=True)');
    expect(out).toContain('StepInfo("b", timeout=30, cards=True)');
    expect(out).toContain('StepInfo("start")');
    expect(out).not.toMatch(/StepInfo\("(start|end)"[^)]*cards/);
  });

  it("emits no schedule or sensor for a plain flow", () => {
    const out = compile(linearIR([], { name: "Plain" }), RUNTIME);
    expect(out).toContain("defs = Definitions(jobs=[Plain], assets=flow_assets(FLOW))");
    expect(out).not.toContain("ScheduleDefinition");
    expect(out).not.toContain("@sensor");
  });
});

describe("run-level runtime facts: exit hooks, split and log limits", () => {
  const hooks = [
    { onSuccess: ["notify", "mod.tidy"], onError: ["page"], options: {} },
    { onSuccess: ["second"], onError: [], options: {} },
  ];

  it("bakes the hooks into FLOW in declaration order and wraps the thread executor", () => {
    const out = compile(linearIR(["a"], { name: "Hooked", exitHooks: hooks }), RUNTIME);
    expect(out).toContain('exit_hooks_on_success=("notify", "mod.tidy", "second"),');
    expect(out).toContain('exit_hooks_on_error=("page",),');
    expect(out).toContain("executor_def=with_exit_hooks(FLOW, thread_executor(FLOW, max_concurrent=16)),");
  });

  it("wraps the multiprocess executor too; a flow with no hooks keeps the plain executor", () => {
    const executor = { kind: "multiprocess" as const, maxWorkers: 4, fastLaunch: false };
    const out = compile(linearIR([], { exitHooks: [{ onSuccess: [], onError: ["page"], options: {} }], deploy: { executor } }), RUNTIME);
    expect(out).toMatch(/executor_def=with_exit_hooks\(\s*FLOW,\s*multiprocess_executor\.configured\(\{"max_concurrent": 4\}\),?\s*\),/);
    expect(out).not.toContain("exit_hooks_on_success=");
    const plain = compile(linearIR([]), RUNTIME);
    expect(plain).toContain("executor_def=thread_executor(FLOW, max_concurrent=16),");
    expect(plain).not.toMatch(/exit_hooks_on_\w+=/);
  });

  it("passes --max-num-splits and a non-default --max-log-size (in bytes) to FLOW", () => {
    const plain = compile(linearIR([]), RUNTIME);
    expect(plain).not.toContain("max_num_splits=");
    expect(plain).not.toContain("max_log_bytes=");
    const out = compile(linearIR([], { deploy: { maxNumSplits: 100, maxLogSize: 2 } }), RUNTIME);
    expect(out).toContain("max_num_splits=100,");
    expect(out).toContain(`max_log_bytes=${2 * 1024 * 1024},`);
  });
});
