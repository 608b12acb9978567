"""The runtime every generated definitions file embeds, verbatim.

A generated file needs only `dagster` and `metaflow` at run time, so it carries these
modules. At build time scripts/bundle_runtime.py splits each with Python's `ast` into
its imports and its body (_compiler/runtime_bundle.json); the compiler embeds the parts
a job uses (those defining a name its code refers to, and what they require), bodies
verbatim in PARTS order, under one merged import block. The imports between these
modules are plain relative imports, moot once the parts are concatenated. Ops hand each
other small strings (Metaflow input paths, `run/step/task`), never data. Importing the
runtime must stay cheap: the multiprocess executor imports the generated file once per
op, so Metaflow is imported lazily, inside the functions that need it.
"""

# Read by scripts/bundle_runtime.py: the order the modules are embedded in (a module
# after those it imports).
PARTS = (
    "dagster_adapter",
    "model",
    "keys",
    "errors",
    "stores",
    "datastore",
    "cards",
    "assets",
    "interpreter",
    "warm",
    "launcher",
    "running",
    "limits",
    "process",
    "fast_launch",
    "executor",
    "exit_hooks",
    "tasks",
    "derived",
    "ops",
    "outputs",
    "automation",
)
