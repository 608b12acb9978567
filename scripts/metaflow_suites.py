"""Metaflow's own test suites (test/core, test/ux) through the `dagster` scheduler.

    .venv/bin/python scripts/metaflow_suites.py core [--reduced] [--tests a,b]
                                                     [--graphs x,y]
    .venv/bin/python scripts/metaflow_suites.py ux [--reduced] [-k EXPR]

The suites are in ../shared/metaflow-tests (unchanged, never written to). They are
copied to a scratch directory under /tmp, the project's adaptations
(ci/metaflow-suites/, each one justified in its README.md) are applied there, and
Metaflow's own runner runs them:

* core: `test/core/run_tests.py --contexts python3-dagster` with the project's context
  (ci/metaflow-suites/contexts.json, modelled on Metaflow's `python3-argo-workflows`:
  `"executors": ["scheduler"]`, `"scheduler": "dagster"`), so every test flow on
  every graph is compiled with `dagster create`, launched with `dagster trigger`,
  followed with `dagster status`, and checked by Metaflow's CLI and metadata checkers.
* ux: pytest on `test/ux/core` with the project's backend (ci/metaflow-suites/
  ux_test_config.yaml: `scheduler_type: dagster`), so the Deployer tests go through
  `Deployer(flow).dagster().create()` / `.trigger()`.

Prints pass/fail counts and a table of every combination; exits non-zero when an
applicable combination fails (or never reported). --reduced picks the CI subset
deterministically (core: one graph per test; ux: ci/metaflow-suites/ux_reduced.txt).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADAPT = ROOT / "ci" / "metaflow-suites"
SUITES = Path(
    os.environ.get("METAFLOW_SUITES_DIR", ROOT.parent / "shared" / "metaflow-tests")
)
CONTEXT = "python3-dagster"
SCRATCH_MARK = "@SCRATCH@"

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# run_tests.py's log lines: "### test 'T' graph 'G' in context 'C': <msg> ###"
LINE = re.compile(
    r"### test '([^']+)' graph '([^']+)'(?: in context '[^']+')?: (.*) ###"
)


def log(msg: str) -> None:
    print(f"[metaflow-suites] {msg}", flush=True)


# --- scratch copy ----------------------------------------------------------------


def make_scratch(keep: bool) -> Path:
    scratch = Path(tempfile.mkdtemp(prefix="metaflow-suites-", dir="/tmp"))
    shutil.copytree(SUITES / "test", scratch / "test", symlinks=True)
    for sub in ("tmp", "dagster-home"):
        (scratch / sub).mkdir()
    # The copy is ours to patch: the shared folder is read-only in CI.
    for path in (scratch / "test").rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)
    (scratch / "test").chmod(0o755)
    log(f"scratch directory {scratch}" + (" (kept)" if keep else ""))
    return scratch


def apply_patch(scratch: Path, patch: Path) -> None:
    subprocess.run(
        ["git", "apply", "--verbose", "-p1", str(patch)],
        cwd=scratch,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def base_env(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    # `python3` in the contexts and Metaflow's helper processes: this venv's.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    env.setdefault("METAFLOW_USER", "tester")
    # run_tests.py passes USER on to every test (tox's `passenv = USER`).
    env.setdefault("USER", env["METAFLOW_USER"])
    env["TMPDIR"] = str(scratch / "tmp")
    env["METAFLOW_DEFAULT_METADATA"] = "local"
    env["METAFLOW_DEFAULT_DATASTORE"] = "local"
    for name in (
        "DAGSTER_HOME",
        "DAGSTER_URL",
        "PYTHONPATH",
        "METAFLOW_DATASTORE_SYSROOT_LOCAL",
        "METAFLOW_CARD_LOCALROOT",
    ):
        env.pop(name, None)
    return env


# --- core ------------------------------------------------------------------------


def load_context() -> dict:
    with open(ADAPT / "contexts.json", encoding="utf-8") as f:
        contexts = json.load(f)
    return next(c for c in contexts["contexts"] if c["name"] == CONTEXT)


def core_plan(core: Path, context: dict, tests: set[str], graphs: set[str]):
    """Every (test, graph) combination run_tests.py would consider, classified."""
    sys.path.insert(0, str(core))
    sys.path.insert(0, str(core / "tests"))
    from metaflow_test import MetaflowTest
    from metaflow_test.formatter import FlowFormatter

    all_graphs = []
    for name in sorted(os.listdir(core / "graphs")):
        if name.endswith(".json") and not name.startswith("."):
            with open(core / "graphs" / name, encoding="utf-8") as f:
                all_graphs.append(json.load(f))
    all_tests = []
    for name in sorted(os.listdir(core / "tests")):
        if name.endswith(".py") and not name.startswith("."):
            mod = importlib.import_module(name[:-3])
            for attr in sorted(dir(mod)):
                obj = getattr(mod, attr)
                if (
                    attr != "MetaflowTest"
                    and isinstance(obj, type)
                    and issubclass(obj, MetaflowTest)
                    and obj.__module__ == mod.__name__
                ):
                    all_tests.append(obj())
    disabled = set(context.get("disabled_tests", []))
    runnable: list[tuple[str, str]] = []
    not_applicable: dict[str, str] = {}
    for test in sorted(all_tests, key=lambda t: type(t).__name__):
        name = type(test).__name__
        if tests and name.lower() not in tests:
            continue
        if name in disabled:
            not_applicable[name] = context["disabled_reasons"][name]
            continue
        if getattr(test, "RESUME", False):
            not_applicable[name] = (
                "resume test: run_tests.py's scheduler executor skips resume tests "
                "(Argo and Step Functions have no resume), reporting them as passed"
            )
            continue
        for graph in all_graphs:
            if graphs and graph["name"].lower() not in graphs:
                continue
            if FlowFormatter(graph, test).valid:
                runnable.append((name, graph["name"]))
    return runnable, not_applicable


def reduce_plan(runnable: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One graph per test: the valid graph used least so far (ties: by name), so the
    subset covers as many graphs as it can; the same input gives the same subset."""
    by_test: dict[str, list[str]] = {}
    for test, graph in runnable:
        by_test.setdefault(test, []).append(graph)
    used: dict[str, int] = {}
    chosen = []
    for test in sorted(by_test):
        graph = min(sorted(by_test[test]), key=lambda g: used.get(g, 0))
        used[graph] = used.get(graph, 0) + 1
        chosen.append((test, graph))
    return chosen


def run_core(args: argparse.Namespace) -> int:
    started = time.monotonic()
    args.keep = args.keep or args.debug
    scratch = make_scratch(args.keep)
    core = scratch / "test" / "core"
    apply_patch(scratch, ADAPT / "run_tests.patch")
    text = (ADAPT / "contexts.json").read_text(encoding="utf-8")
    (core / "contexts.json").write_text(
        text.replace(SCRATCH_MARK, str(scratch)), encoding="utf-8"
    )
    context = load_context()
    parse = lambda x: {t.strip().lower() for t in (x or "").split(",") if t.strip()}  # noqa: E731
    runnable, not_applicable = core_plan(
        core, context, parse(args.tests), parse(args.graphs)
    )
    plan = reduce_plan(runnable) if args.reduced else runnable
    log(
        f"{len(plan)} combinations to run"
        + (" (reduced: one graph per test)" if args.reduced else "")
        + f", {len(not_applicable)} tests not applicable"
    )
    if args.list:
        table(plan, {}, not_applicable, args.reduced)
        shutil.rmtree(scratch, ignore_errors=True)
        return 0
    # run_tests.py filters by a set of tests and a set of graphs: one invocation per
    # graph, with the tests planned on it.
    groups: dict[str, list[str]] = {}
    for test, graph in plan:
        groups.setdefault(graph, []).append(test)
    results: dict[tuple[str, str], dict] = {}
    env = base_env(scratch)
    log_path = scratch / "run_tests.log"
    with open(log_path, "w", encoding="utf-8") as out:
        for graph in sorted(groups):
            cmd = [sys.executable, "-u", "run_tests.py", "--contexts", CONTEXT]
            cmd += ["--graphs", graph, "--tests", ",".join(groups[graph])]
            if args.debug:
                cmd += ["--debug"]  # stops at the first failure, keeps its directory
            elif args.num_parallel > 1 and len(groups[graph]) > 1:
                cmd += ["--num-parallel", str(args.num_parallel)]
            follow(cmd, core, env, out, results, args.verbose)
    table(plan, results, not_applicable, args.reduced)
    failed = [k for k in plan if results.get(k, {}).get("result") != "pass"]
    elapsed = time.monotonic() - started
    log(
        f"core: {len(plan) - len(failed)} of {len(plan)} combinations passed, "
        f"{len(failed)} failed; {elapsed:.0f}s (log: {log_path})"
    )
    if failed:
        log("kept the scratch directory for the failures: " + str(scratch))
    elif not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failed else 0


def _stream(cmd, cwd, env) -> subprocess.Popen:
    """A runner whose output (stdout and stderr as one text stream) is read by line."""
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )


def follow(cmd, cwd, env, out, results, verbose) -> None:
    """Run one run_tests.py invocation, recording each combination's outcome."""
    proc = _stream(cmd, cwd, env)
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = ANSI.sub("", raw)
        out.write(line)
        out.flush()
        if verbose:
            sys.stdout.write(line)
        m = LINE.search(line)
        if not m:
            continue
        key, msg = (m.group(1), m.group(2)), m.group(3)
        now = time.monotonic()
        if msg.startswith("running"):
            results[key] = {"start": now}
        elif msg.startswith("success") or msg.startswith("failed"):
            entry = results.setdefault(key, {"start": now})
            entry["result"] = "pass" if msg.startswith("success") else "FAIL"
            entry["seconds"] = now - entry["start"]
            print(
                f"  {entry['result']:4} {key[0]} / {key[1]} ({entry['seconds']:.0f}s)"
            )
            sys.stdout.flush()
    proc.wait()


def table(plan, results, not_applicable, reduced) -> None:
    print()
    print(f"{'test':40} {'graph':34} result   time")
    for key in sorted(plan):
        entry = results.get(key, {})
        result = entry.get("result", "NO RESULT")
        secs = f"{entry['seconds']:.0f}s" if "seconds" in entry else ""
        print(f"{key[0]:40} {key[1]:34} {result:8} {secs}")
    if not_applicable:
        print()
        print("not applicable:")
        for name in sorted(not_applicable):
            print(f"  {name}: {not_applicable[name]}")
    print()


# --- main ------------------------------------------------------------------------


def _default_signals() -> None:
    """Let Metaflow's runner and its pool workers be interrupted and terminated.

    A process started in the background by a non-interactive shell (`cmd &`, as CI
    scripts do) inherits SIGINT and SIGQUIT ignored; Dagster's in-process execution
    then maps SIGTERM to SIGINT's handler (dagster._utils.interrupts), so a pytest
    worker that ran a job ignores SIGTERM too, and so does everything it starts.
    run_tests.py's multiprocessing.Pool ends its workers with SIGTERM: a worker that
    ignores it never exits and the pool waits forever (seen in CI)."""
    for name in ("SIGHUP", "SIGQUIT", "SIGTERM"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def main() -> int:
    _default_signals()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", choices=["core", "ux"])
    parser.add_argument("--reduced", action="store_true", help="the CI subset")
    parser.add_argument("--tests", default="", help="core: comma-separated tests")
    parser.add_argument("--graphs", default="", help="core: comma-separated graphs")
    parser.add_argument("-k", dest="keyword", default="", help="ux: pytest -k")
    parser.add_argument(
        "--num-parallel",
        type=int,
        default=2,
        help="tests run at once (run_tests.py --num-parallel; pytest -n for ux)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch dir")
    parser.add_argument("--list", action="store_true", help="print the plan only")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="core: run_tests.py --debug (implies --keep)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="runner output")
    args = parser.parse_args()
    if not (SUITES / "test").is_dir():
        print(f"No Metaflow test suites at {SUITES}.", file=sys.stderr)
        return 2
    if args.suite == "core":
        return run_core(args)
    return run_ux(args)


# --- ux --------------------------------------------------------------------------

# pytest -rA summary lines: "PASSED path::test[id]", "SKIPPED [1] path:line: reason".
UX_RESULT = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS) (\S+)(?: - (.*))?$")
UX_SKIP = re.compile(r"^SKIPPED \[\d+\] ([^:]+:\d+): (.*)$")


def run_ux(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        import omegaconf  # noqa: F401  (test/ux/conftest.py needs it)
    except ImportError:
        print(
            "test/ux needs omegaconf (its conftest.py loads ux_test_config.yaml with "
            "it), which this venv does not have.",
            file=sys.stderr,
        )
        return 2
    scratch = make_scratch(args.keep)
    ux = scratch / "test" / "ux"
    shutil.copy(ADAPT / "ux_test_config.yaml", ux / "ux_test_config.yaml")
    # test/ux/core/conftest.py points Metaflow at the devstack's profile
    # (<repo>/devtools/.devtools/config_local.json, written by `metaflow-dev`): ours.
    devtools = scratch / "devtools" / ".devtools"
    devtools.mkdir(parents=True)
    text = (ADAPT / "config_local.json").read_text(encoding="utf-8")
    (devtools / "config_local.json").write_text(
        text.replace(SCRATCH_MARK, str(scratch)), encoding="utf-8"
    )
    env = base_env(scratch)
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    env["DAGSTER_HOME"] = str(scratch / "dagster-home")
    env["DAGSTER_URL"] = "http://127.0.0.1:1"  # no webserver: background runs
    with open(ADAPT / "ux_reduced.txt", encoding="utf-8") as f:
        reduced = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA"]
    cmd += ["--only-backend", "dagster", "-o", "addopts="]
    if args.num_parallel > 1:
        cmd += ["-n", str(args.num_parallel)]
    if args.keyword:
        cmd += ["-k", args.keyword]
    cmd += [f"core/{t}" for t in reduced] if args.reduced else ["core"]
    log_path = scratch / "pytest.log"
    passed, failed, skipped = [], [], []
    with open(log_path, "w", encoding="utf-8") as out:
        proc = _stream(cmd, ux, env)
        assert proc.stdout is not None
        for raw in proc.stdout:
            out.write(raw)
            out.flush()
            if args.verbose:
                sys.stdout.write(raw)
            line = ANSI.sub("", raw).rstrip("\n")
            m = UX_RESULT.match(line)
            if m:
                (passed if m.group(1) == "PASSED" else failed).append(
                    (m.group(1), m.group(2), m.group(3) or "")
                )
                continue
            m = UX_SKIP.match(line)
            if m:
                skipped.append((m.group(1), m.group(2)))
        code = proc.wait()
    print()
    for status, test, why in sorted(passed + failed, key=lambda r: r[1]):
        print(f"{status:7} {test}" + (f" - {why}" if why else ""))
    if skipped:
        print()
        print("skipped by the suite itself (not applicable):")
        for where, why in sorted(skipped):
            print(f"  {where}: {why}")
    print()
    elapsed = time.monotonic() - started
    log(
        f"ux: {len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped; "
        f"{elapsed:.0f}s (pytest exit {code}; log: {log_path})"
    )
    bad = bool(failed) or code not in (0,) or not passed
    if bad:
        log("kept the scratch directory: " + str(scratch))
    elif not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
