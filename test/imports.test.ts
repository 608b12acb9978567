// The generated module's single import block: the runtime's imports merged with the
// generated code's, sorted the way ruff's isort rules (I001) want, checked against ruff.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { collectImports, renderImports } from "../src/emit/imports.js";
import type { PyImport } from "../src/ir/runtime.js";
import { REPO_ROOT, runProcess, runPythonJson } from "./support/python.js";
import { realBundle } from "./support/runtime.js";

const RUNTIME_IMPORTS: PyImport[] = realBundle().parts.flatMap((p) => p.imports);

/** The bindings of one-line import statements (a test's shorthand for records). */
function records(...lines: string[]): PyImport[] {
  return lines.flatMap((line): PyImport[] => {
    const plain = /^import\s+(.+)$/.exec(line);
    if (plain?.[1] !== undefined) {
      return plain[1].split(",").map((part) => {
        const [module = "", alias] = part.trim().split(/\s+as\s+/);
        return { module, name: null, alias: alias ?? null };
      });
    }
    const from = /^from\s+(\S+)\s+import\s+(.+)$/.exec(line);
    if (from?.[1] === undefined || from[2] === undefined) throw new Error(`not an import: ${line}`);
    const module = from[1];
    return from[2].split(",").map((part) => {
      const [name = "", alias] = part.trim().split(/\s+as\s+/);
      return { module, name, alias: alias ?? null };
    });
  });
}

function render(...lines: string[]): string[] {
  return renderImports(collectImports(records(...lines)));
}

function members(n: number): string[] {
  return Array.from({ length: n }, (_v, i) => `Name${String(i).padStart(2, "0")}`);
}

/** `from dagster import Name00, ..., Name06, ZedXXX` exactly `width` columns wide. */
function fromImportOfWidth(width: number): string {
  const head = `from dagster import ${members(7).join(", ")}, Zed`;
  return head + "X".repeat(width - head.length);
}

function ruffExecutable(): string {
  const fromEnv = process.env["RUFF"];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return join(REPO_ROOT, ".venv", "bin", "ruff");
}

describe("collectImports", () => {
  it("gathers bindings into plain imports and from-imports, aliases kept", () => {
    const imports = collectImports(records("import os", "import json, sys as system", "from typing import IO, Any as A"));
    expect([...imports.plain]).toEqual(["os", "json", "sys as system"]);
    expect([...imports.from.entries()].map(([m, names]) => [m, [...names]])).toEqual([["typing", ["IO", "Any as A"]]]);
  });

  it("binds a name given twice once", () => {
    const merged = collectImports([...RUNTIME_IMPORTS, ...records("from dagster import In, op", "import os")]);
    expect(merged.from.get("dagster")?.has("In")).toBe(true);
    expect(merged.from.get("dagster")?.has("DynamicOutput")).toBe(true);
    expect([...merged.plain].filter((m) => m === "os")).toHaveLength(1);
  });

  it("puts an aliased member on a line of its own, as isort does", () => {
    expect(render("from x import b, a as c, d")).toEqual(["from x import a as c", "from x import b, d"]);
    expect(render("from x import a, c as e")).toEqual(["from x import a", "from x import c as e"]);
  });
});

describe("renderImports", () => {
  it("puts __future__, then the standard library, then third parties, a blank line apart", () => {
    expect(render("import dagster", "import os", "from __future__ import annotations", "import json")).toEqual([
      "from __future__ import annotations",
      "",
      "import json",
      "import os",
      "",
      "import dagster",
    ]);
  });

  it("writes plain imports before from-imports within a section", () => {
    expect(render("from collections import deque", "import sys", "from abc import ABC", "import os")).toEqual([
      "import os",
      "import sys",
      "from abc import ABC",
      "from collections import deque",
    ]);
  });

  it("orders modules case-insensitively, a package before its submodules", () => {
    expect(
      render("from collections.abc import Iterator", "from collections import deque", "import os.path", "import os"),
    ).toEqual(["import os", "import os.path", "from collections import deque", "from collections.abc import Iterator"]);
    expect(render("import pandas", "import PIL", "import dagster")).toEqual([
      "import dagster",
      "import pandas",
      "import PIL",
    ]);
  });

  it("orders members by type: CONSTANTS, then Classes, then functions", () => {
    expect(render("from typing import cast, Any, TYPE_CHECKING, IO, AnyStr")).toEqual([
      "from typing import IO, TYPE_CHECKING, Any, AnyStr, cast",
    ]);
    expect(render("from dagster import op, Out, job, In, Definitions, DynamicOut")).toEqual([
      "from dagster import Definitions, DynamicOut, In, Out, job, op",
    ]);
  });

  it("wraps a from-import longer than 88 columns, one member a line", () => {
    const fits = fromImportOfWidth(88);
    expect(fits.length).toBe(88);
    expect(render(fits)).toEqual([fits]);
    const wrapped = render(fromImportOfWidth(89));
    expect(wrapped[0]).toBe("from dagster import (");
    expect(wrapped.slice(1, -1)).toEqual([...members(7).map((m) => `    ${m},`), `    Zed${"X".repeat(10)},`]);
    expect(wrapped[wrapped.length - 1]).toBe(")");
  });

  it("renders nothing for no imports", () => {
    expect(renderImports(collectImports([]))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// Against real ruff: each block must be what `ruff check --select I` and `ruff format`
// leave unchanged. One ruff run per check over all blocks.

const GENERATED_VARIANTS = [
  ["Definitions", "In", "Out", "job", "op"],
  ["Definitions", "In", "Out", "job", "op", "DynamicOut"],
  ["Definitions", "In", "Out", "job", "op", "RetryPolicy"],
  ["Definitions", "In", "Out", "job", "op", "DynamicOut", "RetryPolicy", "Config"],
];

function agreeing(): Record<string, string[]> {
  const blocks: Record<string, string[]> = {};
  GENERATED_VARIANTS.forEach((names, i) => {
    const own = [`from dagster import ${names.join(", ")}`];
    if (names.includes("Config")) own.push("from pydantic import Field");
    blocks[`generated_${i}`] = renderImports(collectImports([...RUNTIME_IMPORTS, ...records(...own)]));
  });
  blocks["sections"] = render(
    "from __future__ import annotations",
    "import dagster",
    "from typing import cast, Any, TYPE_CHECKING, IO, AnyStr",
    "import os.path",
    "import os",
    "from collections.abc import Iterator",
    "from collections import deque",
    "import pandas",
    "import PIL",
    "from metaflow import FlowSpec, step, Parameter, JSONType",
  );
  blocks["aliases"] = render("from x import b, a as c, d", "import sys as system", "from x import e as f", "import os");
  blocks["width_88"] = render(fromImportOfWidth(88));
  blocks["width_89"] = render(fromImportOfWidth(89));
  blocks["width_long"] = render(`from dagster import ${members(14).join(", ")}`);
  return blocks;
}

// Orders where this helper is known to disagree with ruff (see the BUG tests).
const DISAGREEING: Record<string, string[]> = {
  case_insensitive: render("from dagster import IOManager, In, OpExecutionContext, Out, op"),
  natural_numbers: render("from x import op10, op2, Op1, OP3"),
  lower_vs_upper: render("from y import a_B, a_a, A_b"),
};

describe("renderImports against ruff", () => {
  const dir = mkdtempSync(join(tmpdir(), "mfdagster-imports-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function ruffDisagreements(blocks: Record<string, string[]>): string {
    const paths = Object.entries(blocks).map(([name, block]) => {
      const path = join(dir, `${name}.py`);
      writeFileSync(path, block.join("\n") + "\n", "utf-8");
      return path;
    });
    const ruff = ruffExecutable();
    const check = runProcess(ruff, ["check", "--isolated", "--no-cache", "--select", "I", "--diff", ...paths]);
    const format = runProcess(ruff, ["format", "--isolated", "--no-cache", "--check", "--diff", ...paths]);
    const problems: string[] = [];
    if (check.status !== 0) problems.push(`ruff check --select I:\n${check.stdout}${check.stderr}`);
    if (format.status !== 0) problems.push(`ruff format --check:\n${format.stdout}${format.stderr}`);
    return problems.join("\n");
  }

  it("sorts and wraps the generated module's imports exactly as ruff does", () => {
    const blocks = agreeing();
    expect(blocks["width_88"]).toHaveLength(1);
    expect(blocks["width_89"]?.[0]).toBe("from dagster import (");
    expect(ruffDisagreements(blocks)).toBe("");
  });

  it("orders members like ruff: case-insensitively and with natural numbers", () => {
    // BUG (latent; no generated file imports such names today): memberOrder in
    // src/emit/imports.ts compares names case-sensitively and character by character,
    // while ruff's isort (case-sensitive = false) compares them case-insensitively and
    // orders digit runs numerically: ruff wants `In, IOManager`, `op2, op10`, `a_a, a_B`.
    expect(ruffDisagreements(DISAGREEING)).toBe("");
  });

  it("knows every standard-library module as standard library", () => {
    // BUG (latent): STDLIB_ROOTS in src/emit/imports.ts lists only the modules the
    // runtime imports today; a runtime that imports, say, `heapq` would get it sorted
    // with the third parties and fail ruff's I001 in every generated file.
    const stdlib = z
      .array(z.string())
      .parse(runPythonJson("import json, sys; json.dump(sorted(sys.stdlib_module_names), sys.stdout)", null))
      .filter((m) => !m.startsWith("_") && m !== "antigravity" && m !== "this");
    const misplaced = stdlib.filter((mod) => {
      const out = render(`import ${mod}`, "import dagster");
      return out.join("\n") !== `import ${mod}\n\nimport dagster`;
    });
    expect(misplaced).toEqual([]);
  });
});
