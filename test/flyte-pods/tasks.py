"""Flyte tasks whose pods become goldens (test/goldens/flyte-*). Compiled by real flytekit
(`pyflyte package`), then turned into pods by FlytePropeller's own Go code (generator/).

One task per shape the webhook must handle: each mount type, group_version, env_var, a pod
template with a sidecar (the task's own, and a cluster PodTemplate named by the task), resources,
several secrets at once, and a task with no secrets.
"""
from flytekit import PodTemplate, Resources, Secret, task
from kubernetes.client import V1Container, V1PodSpec, V1ResourceRequirements

FILE = Secret.MountType.FILE
ENV_VAR = Secret.MountType.ENV_VAR


@task(secret_requests=[Secret(group="db-creds", key="password", mount_requirement=FILE)])
def file_secret() -> None: ...


@task(secret_requests=[Secret(group="api", key="token", mount_requirement=ENV_VAR)])
def env_var_secret() -> None: ...


@task(secret_requests=[Secret(group="db-creds", key="username")])
def any_secret() -> None: ...


@task(secret_requests=[Secret(group="db-creds", group_version="v2", key="password", mount_requirement=FILE)])
def group_version_secret() -> None: ...


@task(
    secret_requests=[
        Secret(group="api", key="token", mount_requirement=ENV_VAR, env_var="API_TOKEN"),
        Secret(group="db-creds", key="password", mount_requirement=FILE, env_var="DB_PASSWORD_FILE"),
    ]
)
def custom_env_var() -> None: ...


@task(
    requests=Resources(cpu="500m", mem="512Mi"),
    limits=Resources(cpu="2", mem="2Gi"),
    secret_requests=[Secret(group="db-creds", key="password", mount_requirement=FILE)],
)
def resources() -> None: ...


@task(
    secret_requests=[
        Secret(group="db-creds", key="password", mount_requirement=FILE),
        Secret(group="api", key="token", mount_requirement=ENV_VAR),
    ],
    pod_template=PodTemplate(
        primary_container_name="primary",
        labels={"team": "data"},
        annotations={"example.com/owner": "data-platform"},
        pod_spec=V1PodSpec(
            containers=[
                V1Container(name="primary"),
                V1Container(
                    name="proxy",
                    image="registry.example.com/proxy:1.2",
                    args=["--listen", ":15000"],
                    resources=V1ResourceRequirements(requests={"cpu": "100m", "memory": "64Mi"}, limits={"cpu": "200m", "memory": "64Mi"}),
                ),
            ],
        ),
    ),
)
def sidecar_pod_template() -> None: ...


@task(
    secret_requests=[
        Secret(group="db-creds", key="password", mount_requirement=FILE),
        Secret(group="db-creds", key="username", mount_requirement=ENV_VAR),
        Secret(group="api", key="token"),
    ]
)
def several_secrets() -> None: ...


@task
def no_secrets() -> None: ...


@task(
    # cluster-pod-template.json, merged by MergeWithBasePodTemplate. (Flyte takes only the "default" and
    # "primary" containers of such a template, as templates for the task's own; a sidecar there is dropped.)
    pod_template_name="flyte-task-logs",
    secret_requests=[Secret(group="db-creds", key="password", mount_requirement=FILE)],
)
def cluster_pod_template() -> None: ...
