"""``seqmask deploy``: the scheduled deployments of one YAML file (``configs/deployments/default.yaml``) on the
``cpu`` and ``gpu`` work pools of a Prefect server.

    seqmask deploy [--file configs/deployments/default.yaml] [--dask-address tcp://dask-scheduler:8786]

Each entry names a flow, a preset, config overrides and a cron schedule. The config is
resolved now, so every scheduled run runs exactly the config checked here. A flow
with a stage that wants a GPU (``Stage.gpu``: training, sampling) goes to the ``gpu``
pool, any other to ``cpu``, unless the entry names its pool. Workers of those pools
run them: ``prefect worker start --pool cpu --type process`` (docker-compose.yml).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from seqmask.config import load_config, load_yaml, to_dict
from seqmask.paths import PROJECT_ROOT
from seqmask.schema import ConfigError
from seqmask.stage import Plan

DEFAULT_FILE = PROJECT_ROOT / "configs" / "deployments" / "default.yaml"
POOLS = ("cpu", "gpu")
ENTRY_KEYS = {"flow", "name", "preset", "cron", "timezone", "pool", "overrides"}


@dataclass(frozen=True)
class DeploymentSpec:
    """One entry of the deployments file."""

    flow: str
    """A flow of ``seqmask run`` (flows/registry.py)."""
    cron: str | None = None
    """Schedule (five-field cron); None: run on demand only."""
    preset: str = "small"
    name: str = ""
    """Deployment name (default: the preset); Prefect shows ``<flow>/<name>``."""
    timezone: str = "UTC"
    pool: str | None = None
    """``cpu`` or ``gpu``; None: ``gpu`` when a stage of the flow wants one."""
    overrides: tuple[str, ...] = field(default_factory=tuple)
    """``KEY=VALUE`` config overrides, as for ``seqmask run --set``."""


def read_deployments(path: Path) -> list[DeploymentSpec]:
    """The entries of a deployments file, each checked (flow, pool, schedule, keys); errors name the file and entry."""
    from prefect.client.schemas.schedules import CronSchedule

    from flows.registry import FLOWS

    if not path.is_file():
        raise FileNotFoundError(f"deployments file {path}: no such file")
    data = load_yaml(path.read_text(encoding="utf-8")) or {}
    entries = data.get("deployments") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: expected a `deployments:` list of entries with flow, preset and cron")
    specs = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: deployment {number}"
        if not isinstance(entry, dict) or set(entry) - ENTRY_KEYS or "flow" not in entry:
            raise ConfigError(f"{where}: expected keys among {sorted(ENTRY_KEYS)} with `flow`, found {entry!r}")
        if entry["flow"] not in FLOWS or entry["flow"] == "study":
            raise ConfigError(f"{where}: unknown flow {entry['flow']!r} (flows: {', '.join(sorted(set(FLOWS) - {'study'}))})")
        if entry.get("pool") not in (None, *POOLS):
            raise ConfigError(f"{where}: pool {entry['pool']!r} is not one of {POOLS}")
        if entry.get("cron") is not None:
            try:
                CronSchedule(cron=str(entry["cron"]), timezone=entry.get("timezone", "UTC"))
            except ValueError as err:
                raise ConfigError(f"{where}: cron {entry['cron']!r} / timezone: {err}") from err
        overrides = tuple(f"{key}={value}" for key, value in (entry.get("overrides") or {}).items())
        spec = DeploymentSpec(**{**entry, "overrides": overrides})
        specs.append(spec if spec.name else replace(spec, name=spec.preset))
    return specs


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


def deploy(spec: DeploymentSpec, *, dask_address: str | None = None) -> tuple[str, str]:
    """Create or update the deployment of ``spec`` with its resolved config; its pool and id."""
    from prefect import flow
    from prefect.client.schemas.schedules import CronSchedule

    from flows.registry import FLOWS, load

    overrides = [*spec.overrides, *([f"orchestration.dask_address={dask_address}"] if dask_address else [])]
    config = load_config(spec.preset, overrides)
    pool = spec.pool or pool_for(load(FLOWS[spec.flow].plan)(config))
    ensure_work_pool(pool)
    module, function = FLOWS[spec.flow].entrypoint.split(":")
    source_flow = flow.from_source(source=str(PROJECT_ROOT), entrypoint=f"{module.replace('.', '/')}.py:{function}")
    deployment_id = source_flow.deploy(
        name=spec.name,
        work_pool_name=pool,
        schedules=[CronSchedule(cron=spec.cron, timezone=spec.timezone)] if spec.cron else None,
        parameters={"config": to_dict(config)},
        tags=["seqmask", spec.flow],
        build=False,
        push=False,
        print_next_steps=False,
    )
    return pool, str(deployment_id)


def deploy_all(path: Path, *, dask_address: str | None = None) -> list[dict[str, Any]]:
    """Every deployment of the file (all checked before the first is registered) on the server ``PREFECT_API_URL``
    names; a row per deployment."""
    from prefect.settings import PREFECT_API_URL

    specs = read_deployments(path)
    if not PREFECT_API_URL.value():
        raise ConfigError("seqmask deploy needs a Prefect server: start one (`seqmask server start`) and set "
                          "PREFECT_API_URL=http://127.0.0.1:4200/api (and PREFECT_API_AUTH_STRING when it has one)")
    rows = []
    for spec in specs:
        pool, deployment_id = deploy(spec, dask_address=dask_address)
        rows.append({"deployment": f"{spec.flow}/{spec.name}", "pool": pool, "cron": spec.cron or "on demand", "id": deployment_id})
    return rows


def print_rows(rows: Sequence[dict[str, Any]]) -> None:
    print("| deployment | pool | schedule (UTC unless set) | id |\n|:---|:---|:---|:---|")
    for row in rows:
        print(f"| {row['deployment']} | {row['pool']} | `{row['cron']}` | {row['id']} |")
