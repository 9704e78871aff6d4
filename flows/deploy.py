"""``seqmask deploy``: the scheduled deployments of one YAML file (``configs/deployments/default.yaml``) on the
``cpu`` and ``gpu`` work pools of a Prefect server.

    seqmask deploy [--file configs/deployments/default.yaml] [--dask-address tcp://dask-scheduler:8786]

Each entry names a flow, a preset, config overrides and a cron schedule. The config is
resolved now, so every scheduled run runs exactly the config checked here; every entry is
checked and resolved before the first is registered, so a bad file registers nothing. A flow
with a stage that wants a GPU (``Stage.gpu``: training, sampling) goes to the ``gpu``
pool, any other to ``cpu``, unless the entry names its pool. Workers of those pools
run them: ``prefect worker start --pool cpu --type process`` (docker-compose.yml).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from seqmask.app.root import ExperimentConfig, load_experiment
from seqmask.config import to_dict
from seqmask.paths import PROJECT_ROOT
from seqmask.schema import ConfigError
from seqmask.stage import Plan

DEFAULT_FILE = PROJECT_ROOT / "configs" / "deployments" / "default.yaml"
POOLS = ("cpu", "gpu")
ENTRY_TYPES: dict[str, tuple[type, bool]] = {
    "flow": (str, False),
    "name": (str, False),
    "preset": (str, False),
    "timezone": (str, False),
    "cron": (str, True),
    "pool": (str, True),
    "overrides": (dict, True),
}
"""Each key of an entry: the type of its value, and whether it may be null (``cron``: on demand; ``pool``: by the
stages)."""
ENTRY_KEYS = set(ENTRY_TYPES)


@dataclass(frozen=True)
class DeploymentSpec:
    """One entry of the deployments file."""

    flow: str
    """A flow of ``seqmask run`` (seqmask/app/root.py)."""
    cron: str | None = None
    """Schedule (five-field cron); None: run on demand only."""
    preset: str = "small"
    name: str = ""
    """Deployment name (default: the preset); Prefect shows ``<flow>/<name>``."""
    timezone: str = "UTC"
    pool: str | None = None
    """``cpu`` or ``gpu``; None: ``gpu`` when a stage of the flow wants one."""
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """Config overrides ``{dotted key: value}``, values as YAML gives them (as ``seqmask run --set KEY=VALUE`` parses
    VALUE: ``null`` is None)."""


@dataclass(frozen=True)
class Deployment:
    """An entry with its config resolved and its pool chosen: what is registered."""

    spec: DeploymentSpec
    config: ExperimentConfig
    pool: str


def read_deployments(path: Path) -> list[DeploymentSpec]:
    """The entries of a deployments file, each checked (keys, types, flow, pool, schedule, names unique); errors name
    the file and entry."""
    return [spec for _, spec in _read_entries(path)]


def resolve_deployments(path: Path, *, dask_address: str | None = None) -> list[Deployment]:
    """Every entry of the file, checked, with its config resolved and its pool chosen; nothing is registered."""
    return [_resolve(spec, where, dask_address) for where, spec in _read_entries(path)]


def _read_entries(path: Path) -> list[tuple[str, DeploymentSpec]]:
    """``(where, spec)`` of every entry, each checked; ``where`` (``FILE: entry N (flow/name)``) starts its errors."""
    from seqmask.config import read_yaml_file

    data = read_yaml_file(path, "deployments file") or {}
    entries = data.get("deployments") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: expected a `deployments:` list of entries with flow, preset and cron")
    read: list[tuple[str, DeploymentSpec]] = []
    for number, entry in enumerate(entries, start=1):
        where, spec = _read_entry(entry, f"{path}: entry {number}")
        for earlier, (_, other) in enumerate(read, start=1):
            if (other.flow, other.name) == (spec.flow, spec.name):
                raise ConfigError(f"{where}: the same deployment as entry {earlier}: give one of them another `name`")
        read.append((where, spec))
    return read


def _read_entry(entry: Any, where: str) -> tuple[str, DeploymentSpec]:
    """One entry, checked (every key known and of its type, the flow, the pool, the schedule), with ``where`` naming
    its deployment."""
    if not isinstance(entry, dict):
        raise ConfigError(
            f"{where}: expected a mapping of keys among {sorted(ENTRY_KEYS)}, found {type(entry).__name__} {entry!r}"
        )
    if unknown := sorted(set(entry) - ENTRY_KEYS, key=str):
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (keys: {', '.join(sorted(ENTRY_KEYS))})")
    if "flow" not in entry:
        raise ConfigError(f"{where}: no `flow` (one of {', '.join(_deployable_flows())})")
    for key, value in entry.items():
        _check_type(key, value, where)
    spec = DeploymentSpec(**{**entry, "overrides": entry.get("overrides") or {}})
    spec = spec if spec.name else replace(spec, name=spec.preset)
    where = f"{where} ({spec.flow}/{spec.name})"
    _check_values(spec, where)
    return where, spec


def _check_type(key: str, value: Any, where: str) -> None:
    expected, nullable = ENTRY_TYPES[key]
    if isinstance(value, expected) or (nullable and value is None):
        return
    wanted = {str: "a string", dict: "a mapping of config KEY: VALUE"}[expected] + (" or null" if nullable else "")
    raise ConfigError(f"{where}: {key}: expected {wanted}, found {type(value).__name__} {value!r}")


def _check_values(spec: DeploymentSpec, where: str) -> None:
    """The flow is deployable, the pool known, the schedule valid, every override key a dotted key."""
    from prefect.client.schemas.schedules import CronSchedule

    if spec.flow not in _deployable_flows():
        raise ConfigError(f"{where}: unknown flow {spec.flow!r} (flows: {', '.join(_deployable_flows())})")
    if spec.pool not in (None, *POOLS):
        raise ConfigError(f"{where}: pool {spec.pool!r} is not one of {POOLS}")
    if spec.cron is not None:
        try:
            CronSchedule(cron=spec.cron, timezone=spec.timezone)
        except ValueError as err:
            raise ConfigError(f"{where}: cron {spec.cron!r} / timezone {spec.timezone!r}: {err}") from err
    if bad := [key for key in spec.overrides if not isinstance(key, str) or not key]:
        raise ConfigError(
            f"{where}: overrides: expected dotted config keys (e.g. speech.pretrain.train.steps), found {bad[0]!r}"
        )


def _deployable_flows() -> list[str]:
    """The flows a deployment may name: every flow of ``seqmask run`` but ``speech-study``, whose study plan a
    deployment does not pass."""
    from seqmask.app.root import FLOWS

    return sorted(set(FLOWS) - {"speech-study"})


def _resolve(spec: DeploymentSpec, where: str, dask_address: str | None) -> Deployment:
    """The entry's config (its preset and overrides, and the Dask address) and its pool; errors start with ``where``."""
    from seqmask.app.root import FLOWS, load

    overrides = {**spec.overrides, **({"orchestration.dask_address": dask_address} if dask_address else {})}
    try:
        config = load_experiment(spec.preset, overrides)
        return Deployment(spec, config, spec.pool or pool_for(load(FLOWS[spec.flow].plan)(config)))
    except ValueError as err:  # ConfigError among them
        raise ConfigError(f"{where}: {err}") from err


def pool_for(plan: Plan) -> str:
    """``gpu`` when an enabled stage of the plan wants a GPU, else ``cpu``."""
    wants_gpu = any(stage.gpu and stage.enabled(config) for pipeline, config in plan for stage in pipeline.stages)
    return "gpu" if wants_gpu else "cpu"


def ensure_work_pool(name: str, pool_type: str = "process") -> None:
    """Create the work pool if it does not exist yet."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=name, type=pool_type))
        except ObjectAlreadyExists:
            pass


def register(deployment: Deployment) -> str:
    """Create or update the deployment on the server, with its resolved config; its id."""
    from prefect import flow
    from prefect.client.schemas.schedules import CronSchedule

    from seqmask.app.root import FLOWS

    spec = deployment.spec
    ensure_work_pool(deployment.pool)
    module, function = FLOWS[spec.flow].entrypoint.split(":")
    source_flow = flow.from_source(source=str(PROJECT_ROOT), entrypoint=f"{module.replace('.', '/')}.py:{function}")
    deployment_id = source_flow.deploy(
        name=spec.name,
        work_pool_name=deployment.pool,
        schedules=[CronSchedule(cron=spec.cron, timezone=spec.timezone)] if spec.cron else None,
        parameters={"config": to_dict(deployment.config)},
        tags=["seqmask", spec.flow],
        build=False,
        push=False,
        print_next_steps=False,
    )
    return str(deployment_id)


def deploy_all(path: Path, *, dask_address: str | None = None) -> list[dict[str, Any]]:
    """Every deployment of the file on the server ``PREFECT_API_URL`` names, once every entry is checked and its
    config resolved (a bad entry registers none); a row per deployment."""
    from prefect.settings import PREFECT_API_URL

    deployments = resolve_deployments(path, dask_address=dask_address)
    url = PREFECT_API_URL.value()
    if not url:
        raise ConfigError(
            "seqmask deploy needs a Prefect server: start one (`seqmask server start`) and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api (and PREFECT_API_AUTH_STRING when it has one)"
        )
    rows = []
    with _unauthorized_as_config_error(url):
        for deployment in deployments:
            spec = deployment.spec
            rows.append(
                {
                    "deployment": f"{spec.flow}/{spec.name}",
                    "pool": deployment.pool,
                    "cron": spec.cron or "on demand",
                    "id": register(deployment),
                }
            )
    return rows


@contextlib.contextmanager
def _unauthorized_as_config_error(url: str) -> Iterator[None]:
    """A 401 from the server at ``url`` becomes a ``ConfigError`` saying which API auth string it wants."""
    import httpx
    from prefect.settings import PREFECT_API_AUTH_STRING

    try:
        yield
    except httpx.HTTPStatusError as err:
        if err.response.status_code != 401:
            raise
        found = (
            "PREFECT_API_AUTH_STRING is set, but the server refused it"
            if PREFECT_API_AUTH_STRING.value()
            else "PREFECT_API_AUTH_STRING is not set"
        )
        raise ConfigError(
            f"the Prefect server at {url} wants an API auth string (401 Unauthorized): {found}; set "
            "PREFECT_API_AUTH_STRING to the server's PREFECT_SERVER_API_AUTH_STRING (user:password)"
        ) from err


def print_rows(rows: Sequence[dict[str, Any]]) -> None:
    print("| deployment | pool | schedule (UTC unless set) | id |\n|:---|:---|:---|:---|")
    for row in rows:
        print(f"| {row['deployment']} | {row['pool']} | `{row['cron']}` | {row['id']} |")
