"""Bundle the runtime package (python/metaflow_dagster/runtime/) once, at build time.

Every generated definitions file embeds the runtime: its modules concatenated in the
package's PARTS order, their imports hoisted into one block on top. Python's own `ast`
tells each module's imports from its body here, so the compiler (TypeScript) never
parses Python. Two outputs, in python/metaflow_dagster/_compiler/:

- runtime_bundle.json, read by the compiler:
  {"parts": [{"name", "imports": [{"module", "name", "alias"}], "body", "defines",
  "requires"}], "names": [...]}. `body` is the module's exact text after its imports
  (and docstring); `requires` the other parts it needs (the compiler embeds a
  part with every part it requires: src/plan/runtime.ts).
- runtime_bundle.py: every part, as a generated file embeds them, with one merged and
  sorted import block: an importable module, so tests can check the bundle runs and is
  ruff-clean, the way a generated file must be.

Standard library only (the wheel build runs it with the build's Python, >= 3.10).
Usage: python scripts/bundle_runtime.py [--runtime DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIME_DIR = os.path.join(ROOT, "python", "metaflow_dagster", "runtime")
OUT_DIR = os.path.join(ROOT, "python", "metaflow_dagster", "_compiler")

# A part may declare parts it needs that no name in its source shows (a name looked up
# at run time): `__requires__ = ("launcher",)`, right after its imports.
REQUIRES = "__requires__"
LINE_LENGTH = 88  # pyproject.toml's [tool.ruff] line-length


class BundleError(Exception):
    """The runtime package cannot be bundled (the message says where and why)."""


def read_parts_order(runtime_dir: str) -> list[str]:
    """PARTS from the package's __init__.py: the one place the order is written."""
    path = os.path.join(runtime_dir, "__init__.py")
    tree = _parse(path)[1]
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "PARTS" for t in stmt.targets
        ):
            try:
                parts = ast.literal_eval(stmt.value)
            except ValueError as exc:
                raise BundleError(f"{path}: PARTS is not a literal") from exc
            if (
                not isinstance(parts, tuple | list)
                or not parts
                or not all(isinstance(p, str) and p.isidentifier() for p in parts)
            ):
                raise BundleError(f"{path}: PARTS must be a non-empty tuple of names")
            if len(set(parts)) != len(parts):
                raise BundleError(f"{path}: PARTS names a module twice")
            return list(parts)
    raise BundleError(f"{path}: no top-level `PARTS = (...)`")


def _parse(path: str) -> tuple[str, ast.Module]:
    with open(path, encoding="utf-8") as f:
        source = f.read()
    try:
        return source, ast.parse(source, filename=path)
    except SyntaxError as exc:
        raise BundleError(f"{path}: {exc}") from exc


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _import_records(stmt: ast.Import | ast.ImportFrom, where: str) -> list[dict]:
    if isinstance(stmt, ast.Import):
        return [{"module": a.name, "name": None, "alias": a.asname} for a in stmt.names]
    if stmt.module == "__future__":
        # A generated file's semantics would change with it (Dagster reads annotations).
        raise BundleError(f"{where}: `from __future__` imports cannot be embedded")
    if any(a.name == "*" for a in stmt.names):
        raise BundleError(f"{where}: star imports cannot be embedded")
    return [
        {"module": stmt.module, "name": a.name, "alias": a.asname} for a in stmt.names
    ]


def bound_name(record: Mapping[str, Any]) -> str:
    """The name an import binds: its alias, its name, or a module's first component."""
    return record["alias"] or record["name"] or record["module"].split(".")[0]


def _assigned(target: ast.expr) -> Iterator[str]:
    """Names an assignment target binds (`a`, `a, *b`; not `a[i]` nor `a.x`)."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _assigned(element)
    elif isinstance(target, ast.Starred):
        yield from _assigned(target.value)


def _top_level_names(stmts: Iterable[ast.stmt]) -> Iterator[str]:
    """Names bound at module level: definitions and assignments, also inside top-level
    if/try/with/for blocks, but not inside functions or classes."""
    for stmt in stmts:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield stmt.name
            continue  # its body binds local names, not module-level ones
        targets = list(stmt.targets) if isinstance(stmt, ast.Assign) else []
        if isinstance(stmt, ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor):
            targets.append(stmt.target)
        if isinstance(stmt, ast.With | ast.AsyncWith):
            targets += [i.optional_vars for i in stmt.items if i.optional_vars]
        for target in targets:
            yield from _assigned(target)
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            yield from (a.asname or a.name.split(".")[0] for a in stmt.names)
        for block in ("body", "orelse", "finalbody"):
            yield from _top_level_names(getattr(stmt, block, ()))
        for handler in getattr(stmt, "handlers", ()):
            yield from [handler.name] if handler.name else []
            yield from _top_level_names(handler.body)


def _referenced_names(tree: ast.AST) -> set[str]:
    """Every name the code reads anywhere (functions included: a part is needed when
    any of its code may run), or declares global, plus names inside string annotations
    (forward refs). Not names it only binds: `datastore_root: str | None = None` in a
    class body is a field, not a use of the function of that name."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            names.update(node.names)
        annotations: list[ast.expr | None] = []
        if isinstance(node, ast.arg | ast.AnnAssign):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
        for ann in annotations:
            if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
                try:
                    names |= _referenced_names(ast.parse(ann.value, mode="eval"))
                except SyntaxError:
                    pass  # not a forward reference: a string annotation of its own
    return names


def split_part(name: str, path: str, parts: Sequence[str]) -> dict[str, Any]:
    """One runtime module as a part: its imports, its verbatim body, the names it
    defines, and (in `_uses`/`_declared`, resolved by build_bundle) what it needs."""
    source, tree = _parse(path)
    # Text mode made every line end "\n", the only line break ast counts then (not
    # str.splitlines' form feed and others).
    lines = source.split("\n")
    stmts = list(tree.body)
    header_end = 0  # the last line (1-based) of docstring, imports and __requires__
    if stmts and _is_docstring(stmts[0]):
        header_end = stmts.pop(0).end_lineno or 0
    imports: list[dict] = []
    relative: set[str] = set()
    declared: list[str] = []
    while stmts and isinstance(stmts[0], ast.Import | ast.ImportFrom):
        stmt = stmts.pop(0)
        header_end = stmt.end_lineno or header_end
        where = f"{path}:{stmt.lineno}"
        if isinstance(stmt, ast.ImportFrom) and stmt.level > 0:
            # `from .model import X`: concatenation makes it moot; it says what the
            # part needs. `from . import model` names the part itself.
            if stmt.module:
                relative.add(stmt.module.split(".")[0])
            else:
                relative.update(a.name for a in stmt.names)
            continue
        for record in _import_records(stmt, where):
            if record not in imports:
                imports.append(record)
    if stmts and _declares_requires(stmts[0]):
        stmt = stmts.pop(0)
        assert isinstance(stmt, ast.Assign)
        header_end = stmt.end_lineno or header_end
        declared = _read_requires(stmt, f"{path}:{stmt.lineno}", parts)
    for stmt in stmts:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            # Imports are hoisted above every part: a statement before one would then
            # run after it, so imports must come first.
            raise BundleError(
                f"{path}:{stmt.lineno}: import after other top-level statements "
                "(only the docstring may precede a module's imports)"
            )
        if _declares_requires(stmt):
            raise BundleError(
                f"{path}:{stmt.lineno}: {REQUIRES} must follow the module's imports"
            )
    start = header_end
    while start < len(lines) and not lines[start].strip():
        start += 1
    body = "\n".join(lines[start:]).rstrip()
    body = body + "\n" if body else ""
    body_tree = ast.Module(body=stmts, type_ignores=[])
    return {
        "name": name,
        "imports": imports,
        "body": body,
        "defines": sorted(set(_top_level_names(stmts)) - {REQUIRES}),
        "_relative": sorted(relative),
        "_declared": declared,
        "_uses": _referenced_names(body_tree),
    }


def _declares_requires(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == REQUIRES for t in stmt.targets
    )


def _read_requires(stmt: ast.Assign, where: str, parts: Sequence[str]) -> list[str]:
    try:
        value = ast.literal_eval(stmt.value)
    except ValueError as exc:
        raise BundleError(f"{where}: {REQUIRES} is not a literal") from exc
    if not isinstance(value, tuple) or not all(v in parts for v in value):
        raise BundleError(f"{where}: {REQUIRES} must be a tuple of names in PARTS")
    return list(value)


def build_bundle(runtime_dir: str = RUNTIME_DIR) -> dict[str, Any]:
    """The runtime_bundle.json document for the runtime package at runtime_dir."""
    order = read_parts_order(runtime_dir)
    parts = []
    for name in order:
        path = os.path.join(runtime_dir, f"{name}.py")
        if not os.path.exists(path):
            raise BundleError(f"PARTS names {name!r} but {path} does not exist")
        parts.append(split_part(name, path, order))
    # Concatenated, a later definition (or import) would silently replace an earlier.
    owner: dict[str, str] = {}
    for part in parts:
        for name in part["defines"]:
            if name in owner:
                raise BundleError(
                    f"runtime parts {owner[name]!r} and {part['name']!r} both define "
                    f"{name!r} at top level"
                )
            owner[name] = part["name"]
    imported: dict[str, tuple[str, str | None]] = {}
    for part in parts:
        for record in part["imports"]:
            bound = bound_name(record)
            source = (record["module"] if record["name"] else bound, record["name"])
            if bound in owner:
                raise BundleError(
                    f"runtime part {part['name']!r} imports {bound!r}, which part "
                    f"{owner[bound]!r} defines"
                )
            if imported.setdefault(bound, source) != source:
                raise BundleError(
                    f"runtime part {part['name']!r} imports {bound!r} from "
                    f"{source[0]!r}, another part from {imported[bound][0]!r}"
                )
    for part in parts:
        for needed in part["_relative"]:
            if needed not in order:
                raise BundleError(
                    f"runtime part {part['name']!r} imports .{needed}, not in PARTS"
                )
        uses = {owner[n] for n in part.pop("_uses") if n in owner}
        needs = uses | set(part.pop("_relative")) | set(part.pop("_declared"))
        needs.discard(part["name"])
        part["requires"] = [p for p in order if p in needs]
    names = set(owner) | set(imported)
    return {"parts": parts, "names": sorted(names)}


# ---------------------------------------------------------------------------------
# runtime_bundle.py: one import block sorted as ruff's isort rules (I001) want it


def _natural(text: str) -> list[tuple[int, int]]:
    """Natural, case-insensitive order (ruff's isort uses the `natord` crate): a run
    of digits compares as one number, every other character by code point."""
    key: list[tuple[int, int]] = []
    digits = ""
    for char in text.lower() + "\0":
        if char.isdigit():
            digits += char
            continue
        if digits:
            key.append((ord("0"), int(digits)))
            digits = ""
        if char != "\0":
            key.append((ord(char), 0))
    return key


def _member_key(name: str) -> tuple[int, list[tuple[int, int]], str]:
    # ruff's order-by-type: CONSTANTS, then Classes, then the rest.
    if len(name) > 1 and name == name.upper():
        rank = 0
    else:
        rank = 1 if name[:1].isupper() else 2
    return rank, _natural(name), name


def _section(module: str) -> int:
    root = module.split(".")[0]
    return 0 if root in sys.stdlib_module_names else 1


def _from_line(module: str, members: Sequence[str]) -> str:
    line = f"from {module} import {', '.join(members)}"
    if len(line) <= LINE_LENGTH:
        return line
    inner = "".join(f"    {m},\n" for m in members)
    return f"from {module} import (\n{inner})"


def render_imports(records: Iterable[Mapping[str, Any]]) -> str:
    """Import records as one block: standard library, then third party; in each,
    `import x` lines, then `from x import ...` (an aliased member on a line of its
    own, as isort's default combine-as-imports=false puts it)."""
    sections: list[list[str]] = [[], []]
    plain: set[tuple[str, str | None]] = set()
    members: dict[str, set[str]] = {}
    for r in records:
        if r["name"] is None:
            plain.add((r["module"], r["alias"]))
        else:
            member = r["name"] + (f" as {r['alias']}" if r["alias"] else "")
            members.setdefault(r["module"], set()).add(member)
    for module, alias in sorted(
        plain, key=lambda p: (_natural(p[0]), p[0], p[1] or "")
    ):
        text = f"import {module}" + (f" as {alias}" if alias else "")
        sections[_section(module)].append(text)
    for module in sorted(members, key=lambda m: (_natural(m), m)):
        names = sorted((m for m in members[module] if " as " not in m), key=_member_key)
        aliased = sorted((m for m in members[module] if " as " in m), key=_member_key)
        # Each aliased member on a line of its own, the lines in first-member order.
        groups = ([names] if names else []) + [[m] for m in aliased]
        groups.sort(key=lambda g: _member_key(g[0]))
        sections[_section(module)].extend(_from_line(module, g) for g in groups)
    return "\n\n".join("\n".join(s) for s in sections if s) + "\n"


def render_module(bundle: Mapping[str, Any]) -> str:
    """runtime_bundle.py: every part in PARTS order under one import block, as a
    generated file embeds them."""
    records = [r for part in bundle["parts"] for r in part["imports"]]
    header = (
        '"""The runtime package bundled as generated files embed it (made by\n'
        "scripts/bundle_runtime.py from python/metaflow_dagster/runtime/; do not "
        'edit)."""\n'
    )
    bodies = [part["body"] for part in bundle["parts"] if part["body"]]
    # isort (I001) wants two blank lines after the imports before a def or class,
    # one before anything else.
    first = ast.parse(bodies[0]).body[:1] if bodies else []
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    gap = "\n\n" if first and isinstance(first[0], defs) else "\n"
    return header + "\n" + render_imports(records) + gap + "\n\n".join(bodies)


def write_outputs(bundle: Mapping[str, Any], out_dir: str) -> list[str]:
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, text in (
        ("runtime_bundle.json", json.dumps(bundle, indent=1) + "\n"),
        ("runtime_bundle.py", render_module(bundle)),
    ):
        path = os.path.join(out_dir, name)
        # Written whole, then renamed: a compile running meanwhile never reads half.
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", default=RUNTIME_DIR, help="the runtime package")
    parser.add_argument("--out", default=OUT_DIR, help="where the bundle goes")
    args = parser.parse_args(argv)
    try:
        write_outputs(build_bundle(args.runtime), args.out)
    except BundleError as exc:
        print(f"bundle_runtime: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
