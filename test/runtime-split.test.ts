// splitRuntime: the embedded runtime's marked import block, its body, and the top-level
// names generated code must not shadow — on the real runtime package and on small sources.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { IMPORTS_BEGIN, IMPORTS_END, PARTS_BEGIN, PARTS_END, splitRuntime } from "../src/emit/runtime.js";
import { readRuntime, runtimePartNames } from "../src/emit/runtime_files.js";
import { REPO_ROOT, runPythonJson } from "./support/python.js";

const SOURCES = readRuntime(join(REPO_ROOT, "python", "metaflow_dagster", "runtime"));

// Top-level names as Python binds them (the ground truth for `names`).
const TOP_LEVEL_NAMES = String.raw`
import ast, json, sys
def bound(nodes, out):
    for node in nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                out.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name):
                        out.add(sub.id)
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            for field in ("body", "orelse", "finalbody"):
                bound(getattr(node, field, []), out)
            for handler in getattr(node, "handlers", []):
                bound(handler.body, out)
    return out
json.dump(sorted(bound(ast.parse(sys.stdin.read()).body, set())), sys.stdout)
`;

function pythonNames(source: string): string[] {
  return z.array(z.string()).parse(runPythonJson(TOP_LEVEL_NAMES.replace("sys.stdin.read()", "json.load(sys.stdin)"), source));
}

function fake(imports: string[], body: string[]): string {
  return ['"""Doc."""', "", IMPORTS_BEGIN, ...imports, IMPORTS_END, "", ...body, ""].join("\n");
}

describe("splitRuntime on the runtime package", () => {
  const parts = splitRuntime(SOURCES);

  it("takes each module's lines between the markers as its import block", () => {
    const expected = SOURCES.flatMap((source) => {
      const lines = source.split("\n");
      const begin = lines.indexOf(IMPORTS_BEGIN);
      const end = lines.indexOf(IMPORTS_END);
      expect(begin).toBeGreaterThan(0);
      expect(end).toBeGreaterThan(begin);
      return lines.slice(begin + 1, end);
    });
    expect(parts.imports).toEqual(expected);
    expect(parts.imports.some((l) => l.startsWith("from dagster import"))).toBe(true);
    expect(parts.imports.some((l) => l.startsWith("from __future__"))).toBe(false);
  });

  it("concatenates the bodies in PARTS order, without the imports between modules", () => {
    const body = parts.body.join("\n");
    expect(parts.body[0]).not.toBe("");
    expect(parts.body[parts.body.length - 1]).not.toBe("");
    for (const marker of [IMPORTS_BEGIN, IMPORTS_END, PARTS_BEGIN, PARTS_END, "# isort: split"]) {
      expect(body.includes(marker), marker).toBe(false);
    }
    expect(parts.body.some((l) => /^(import|from) \S+/.test(l))).toBe(false);
    // Each module's body appears whole and in order: the last line of one module's
    // code comes before the first of the next one's.
    let at = -1;
    for (const source of SOURCES) {
      const own = splitRuntime([source]).body.join("\n");
      const found = body.indexOf(own);
      expect(found).toBeGreaterThan(at);
      at = found + own.length;
    }
  });

  it("names exactly the top-level names Python binds in the embedded runtime", () => {
    const embedded = [...parts.imports, "", ...parts.body, ""].join("\n");
    expect([...parts.names].sort()).toEqual(pythonNames(embedded));
    for (const name of ["run_step", "fan_out", "FlowInfo", "StepInfo", "json", "Iterator", "DynamicOutput", "OpExecutionContext"]) {
      expect(parts.names.has(name), name).toBe(true);
    }
  });

  it("reads CRLF sources like LF ones", () => {
    const crlf = splitRuntime(SOURCES.map((s) => s.replace(/\n/g, "\r\n")));
    expect(crlf.imports).toEqual(parts.imports);
    expect(crlf.body).toEqual(parts.body);
    expect(crlf.names).toEqual(parts.names);
  });

  it("reads the module order from the package's PARTS", () => {
    expect(runtimePartNames('"""Doc."""\n\nPARTS = ("a", "b_2")\n')).toEqual(["a", "b_2"]);
    expect(() => runtimePartNames("PARTS = []\n")).toThrow(/no `PARTS = \(...\)` line/);
    expect(() => runtimePartNames("PARTS = ()\n")).toThrow(/PARTS is empty/);
  });
});

describe("splitRuntime on small sources", () => {
  it("finds names bound by defs, classes, assignments and every import form", () => {
    const source = fake(
      [
        "import os",
        "import os.path",
        "import xml.etree.ElementTree as ET",
        "import a, b as bee",
        "from typing import IO, Any",
        "from dagster import (",
        "    DynamicOutput,",
        "    Failure as DagsterFailure,",
        ")",
      ],
      [
        "CONSTANT = 1",
        "annotated: int = 2",
        "Alias: type[int] = int",
        "",
        "",
        "def helper(x: int = 3) -> int:",
        "    local = x",
        "    return local",
        "",
        "",
        "async def fetch() -> None:",
        "    pass",
        "",
        "",
        "class Thing:",
        "    attribute = 1",
      ],
    );
    const parts = splitRuntime([source]);
    expect([...parts.names].sort()).toEqual(pythonNames(source));
    expect(parts.names.has("local")).toBe(false);
    expect(parts.names.has("attribute")).toBe(false);
    expect(parts.body[0]).toBe("CONSTANT = 1");
    expect(parts.imports).toHaveLength(9);
  });

  it("refuses a source without the markers, or with them out of order", () => {
    expect(() => splitRuntime(["import os\n"])).toThrow(/lacks the '# \[embedded imports: begin\]' \/ '# \[embedded imports: end\]' markers/);
    expect(() => splitRuntime([`${IMPORTS_BEGIN}\nimport os\n`])).toThrow(/lacks the/);
    expect(() => splitRuntime([`import os\n${IMPORTS_END}\n`])).toThrow(/lacks the/);
    expect(() => splitRuntime([`${IMPORTS_END}\nimport os\n${IMPORTS_BEGIN}\n`])).toThrow(/lacks the/);
    // Markers must be whole lines, not indented or trailing.
    expect(() => splitRuntime([`  ${IMPORTS_BEGIN}\nimport os\n${IMPORTS_END}\n`])).toThrow(/lacks the/);
  });

  it("refuses __future__ imports in the embedded block", () => {
    const source = fake(["from __future__ import annotations", "import os"], ["X = 1"]);
    expect(() => splitRuntime([source])).toThrow(/must not contain __future__ imports/);
  });

  it("drops the block of imports between runtime modules, and refuses stray ones", () => {
    const source = ['"""Doc."""', IMPORTS_BEGIN, "import os", IMPORTS_END, "# isort: split", PARTS_BEGIN, "from .model import X", PARTS_END, "", "", "Y = X"].join("\n");
    const parts = splitRuntime([source]);
    expect(parts.imports).toEqual(["import os"]);
    expect(parts.body).toEqual(["Y = X"]);
    const unclosed = [IMPORTS_BEGIN, IMPORTS_END, PARTS_BEGIN, "from .model import X", "", "Y = X"].join("\n");
    expect(() => splitRuntime([unclosed])).toThrow(/opens '# \[runtime parts: begin\]' but never closes it/);
    const stray = [IMPORTS_BEGIN, "from .model import X", IMPORTS_END, "Y = X"].join("\n");
    expect(() => splitRuntime([stray])).toThrow(/relative import outside/);
    expect(() => splitRuntime([])).toThrow(/no runtime sources/);
  });

  it("refuses two modules that define the same top-level name", () => {
    const twice = [fake([], ["def helper() -> None:", "    pass"]), fake(["import os"], ["X = 1", "helper = 2"])];
    expect(() => splitRuntime(twice)).toThrow(/runtime parts 0 and 1 both define 'helper' at top level/);
  });

  it("joins several modules with two blank lines and merges their names", () => {
    const parts = splitRuntime([fake(["import os"], ["A = 1"]), fake(["import os", "import sys"], ["B = 2"])]);
    expect(parts.imports).toEqual(["import os", "import os", "import sys"]);
    expect(parts.body).toEqual(["A = 1", "", "", "B = 2"]);
    expect([...parts.names].sort()).toEqual(["A", "B", "os", "sys"]);
  });

  it("accepts an empty import block and an empty body", () => {
    const parts = splitRuntime([`${IMPORTS_BEGIN}\n${IMPORTS_END}\n\n\n`]);
    expect(parts.imports).toEqual([]);
    expect(parts.body).toEqual([]);
    expect(parts.names.size).toBe(0);
  });
});
