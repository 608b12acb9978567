import { describe, expect, it } from "vitest";
import { compile } from "../src/compile.js";
import { realBundle } from "./support/runtime.js";
import { WARMUP_IR } from "../src/warmup.js";

describe("the CLI's warm-up flow", () => {
  // The CLI compiles it before reading its input; were it invalid, the CLI would crash.
  it("compiles", () => {
    const source = compile(WARMUP_IR, realBundle());
    expect(source).toContain("def WarmupFlow() -> None:");
  });
});
