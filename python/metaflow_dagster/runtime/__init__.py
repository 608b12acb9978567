"""The runtime every generated definitions file embeds, verbatim.

A generated file needs only `dagster` and `metaflow` at run time, so the compiler copies
these modules into it, concatenated in PARTS order (each module's marked import block is
merged into the generated file's imports; its `runtime parts` block, the imports between
these modules, is dropped). Ops hand each other small strings (Metaflow input paths,
`run/step/task`), never data. Importing the runtime must stay cheap: the multiprocess
executor imports the generated file once per op, so Metaflow is imported lazily, inside
the functions that need it.
"""

# Read by the compiler (src/emit/runtime.ts): the order the modules are embedded in.
PARTS = (
    "model",
    "datastore",
    "cards",
    "interpreter",
    "warm",
    "launcher",
    "running",
    "process",
    "executor",
    "exit_hooks",
    "tasks",
    "ops",
    "automation",
)
