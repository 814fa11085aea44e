"""The task step's reader: asks the real flytekit for secrets, as task code in a Flyte pod does.

argv[1]: JSON {"requests": [{"group", "key", "group_version"}], "env": [names]}
argv[2]: file to write the JSON result to (stdout stays free for flytekit's own output)
"""
import json
import os
import sys

import flytekit
from flytekit.core.context_manager import ExecutionState, FlyteContextManager

spec = json.loads(sys.argv[1])
results = []

# A deployed task runs in TASK_EXECUTION mode: flytekit then looks only where it looks in a pod
# (the local-execution fallback to un-prefixed env names is off).
ctx = FlyteContextManager.current_context()
state = ctx.execution_state.with_params(mode=ExecutionState.Mode.TASK_EXECUTION)
with FlyteContextManager.with_context(ctx.with_execution_state(state)):
    secrets = flytekit.current_context().secrets
    for r in spec["requests"]:
        group, key, version = r.get("group"), r.get("key"), r.get("group_version")
        entry = {
            "request": r,
            "envVar": secrets.get_secrets_env_var(group, key, version),
            "file": secrets.get_secrets_file(group, key, version),
        }
        try:
            entry["value"] = secrets.get(group, key, group_version=version)
        except ValueError as err:
            entry["error"] = str(err)
        results.append(entry)

with open(sys.argv[2], "w") as out:
    json.dump(
        {
            "flytekitVersion": flytekit.__version__,
            "secrets": results,
            "env": {name: os.environ.get(name) for name in spec.get("env", [])},
        },
        out,
    )
