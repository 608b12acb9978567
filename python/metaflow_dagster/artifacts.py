"""Which artifacts each step assigns, read from its source (for the flow's assets).

Metaflow knows a task's artifacts only once it ran; a Dagster asset graph is declared
before any run. So `create` reads each step function's source, as Metaflow's own graph
parser reads the flow's: `self.x = ...`, `self.x += ...`, `self.a, self.b = ...` and
`setattr(self, "x", ...)` assign `x`; a call of `self.merge_artifacts(...)` merges
what the join's inputs hold (its literal include/exclude lists narrow it). Names
starting with `_` are Metaflow's own (or private).
The compiler follows these through the graph to the end step (src/plan/assets.ts).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any


def step_artifacts(flow: Any, step_name: str) -> dict[str, Any]:
    """`{"assigns": [names], "merges": {"include", "exclude"} or None}` for one step."""
    tree = _function_ast(flow, step_name)
    if tree is None:
        return {"assigns": [], "merges": None}
    names: set[str] = set()
    merges = None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(_self_attributes(target))
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            names.update(_self_attributes(node.target))
        elif isinstance(node, ast.Call):
            if _is_self_call(node, "merge_artifacts"):
                merges = _merge_lists(node)
            names.update(_setattr_name(node))
    public = sorted(n for n in names if not n.startswith("_"))
    return {"assigns": public, "merges": merges}


def _merge_lists(call: ast.Call) -> dict[str, Any]:
    """merge_artifacts' include and exclude lists, where the source gives them as
    literals; otherwise the widest reading (include all, exclude none)."""
    lists: dict[str, list[str] | None] = {"include": None, "exclude": None}
    for keyword in call.keywords:
        if keyword.arg in lists:
            lists[keyword.arg] = _literal_names(keyword.value)
    return {"include": lists["include"], "exclude": lists["exclude"] or []}


def _literal_names(node: ast.AST) -> list[str] | None:
    if not isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return None
    names = [e.value for e in node.elts if isinstance(e, ast.Constant)]
    if len(names) != len(node.elts) or not all(isinstance(n, str) for n in names):
        return None
    return sorted(names)


def _function_ast(flow: Any, step_name: str) -> ast.AST | None:
    """The step function's AST, or None when its source cannot be read (a step made
    at run time, a flow loaded from bytecode): the step then assigns nothing known."""
    func = getattr(type(flow), step_name, None)
    func = inspect.unwrap(func) if callable(func) else None
    try:
        source = inspect.getsource(func)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return None
    try:
        return ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None


def _self_attributes(target: ast.AST) -> list[str]:
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for elt in target.elts for name in _self_attributes(elt)]
    if isinstance(target, ast.Starred):
        return _self_attributes(target.value)
    if (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == "self"
    ):
        return [target.attr]
    return []


def _is_self_call(node: ast.Call, method: str) -> bool:
    func = node.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == method
        and isinstance(func.value, ast.Name)
        and func.value.id == "self"
    )


def _setattr_name(node: ast.Call) -> list[str]:
    """`setattr(self, "x", value)` with a literal name."""
    if not (isinstance(node.func, ast.Name) and node.func.id == "setattr"):
        return []
    if len(node.args) < 2 or not isinstance(node.args[0], ast.Name):
        return []
    name = node.args[1]
    if node.args[0].id == "self" and isinstance(name, ast.Constant):
        return [str(name.value)] if isinstance(name.value, str) else []
    return []
