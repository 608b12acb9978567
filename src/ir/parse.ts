import { flowIRSchema, IR_VERSION, type FlowIR } from "./schema.js";
import { CompileError } from "../base/problems.js";

/** Parse untrusted JSON into the IR, or explain (by JSON path) why it is not one. */
export function parseFlowIR(input: unknown): FlowIR {
  if (typeof input === "object" && input !== null && "irVersion" in input) {
    const version = (input as { irVersion: unknown }).irVersion;
    if (version !== IR_VERSION) {
      throw new CompileError([
        {
          message: `IR version ${String(version)} is not supported by this compiler (expects ${IR_VERSION}); reinstall metaflow-dagster so both halves match`,
        },
      ]);
    }
  }
  const parsed = flowIRSchema.safeParse(input);
  if (!parsed.success) {
    throw new CompileError(
      parsed.error.issues.map((issue) => ({
        message: `malformed flow IR at ${issue.path.join(".") || "<root>"}: ${issue.message}`,
      })),
    );
  }
  return parsed.data;
}
