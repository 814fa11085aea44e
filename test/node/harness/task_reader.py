"""A task container's code on the real node: asks the real flytekit for each requested secret, as
task code in a Flyte pod does, and reports to the termination log (the container status the test
reads) only SHA-256 digests of the values — never a value.

argv[1]: JSON {"requests": [{"group", "key", "group_version"}], "env": [names], "fileEnv": [names]}
  env:     env vars that hold a value (a secret's env_var with ENV_VAR)
  fileEnv: env vars that hold a file path (a secret's env_var with FILE)
"""
import hashlib
import json
import os
import sys

import flytekit
from flytekit.core.context_manager import ExecutionState, FlyteContextManager


def digest(value):
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


spec = json.loads(sys.argv[1])
results = []
# A deployed task runs in TASK_EXECUTION mode: no local fallback to un-prefixed env names.
ctx = FlyteContextManager.current_context()
state = ctx.execution_state.with_params(mode=ExecutionState.Mode.TASK_EXECUTION)
with FlyteContextManager.with_context(ctx.with_execution_state(state)):
    secrets = flytekit.current_context().secrets
    for r in spec["requests"]:
        entry = {"request": r}
        try:
            entry["sha256"] = digest(secrets.get(r.get("group"), r.get("key"), group_version=r.get("group_version")))
        except ValueError as err:
            entry["error"] = str(err)[:300]
        results.append(entry)


def file_digest(path):
    try:
        with open(path) as f:
            return digest(f.read().strip())
    except OSError as err:
        return "unreadable: " + err.strerror


report = {
    "flytekit": flytekit.__version__,
    "uid": os.getuid(),
    "gid": os.getgid(),
    "groups": sorted(os.getgroups()),
    "secrets": results,
    "env": {n: digest(os.environ[n].strip()) if n in os.environ else None for n in spec.get("env", [])},
    "fileEnv": {n: file_digest(os.environ[n]) if n in os.environ else None for n in spec.get("fileEnv", [])},
}
with open("/dev/termination-log", "w") as out:
    json.dump(report, out)
