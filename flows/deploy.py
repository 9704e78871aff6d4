"""Register seqmask flows as scheduled Prefect deployments on a work pool.

    python -m flows.deploy --flow speech --pool seqmask --preset small --cron "0 3 * * *" --dask-address tcp://dask-scheduler:8786

The config is resolved now (preset and overrides), so every scheduled run runs
exactly the config that was checked here. A Prefect worker of that pool
(``prefect worker start --pool seqmask --type process``) then runs them; see
docker-compose.yml.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists

from flows.registry import FLOWS
from seqmask.config import load_config, to_dict
from seqmask.paths import PROJECT_ROOT


def ensure_work_pool(name: str, pool_type: str = "process") -> None:
    """Create the work pool if it does not exist yet."""
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=name, type=pool_type))
        except ObjectAlreadyExists:
            pass


def deploy(
    flow_name: str, *, pool: str, preset: str, cron: str | None, overrides: Sequence[str], extra: dict[str, Any] | None = None
) -> str:
    """Create or update the deployment ``<flow>/<preset>`` with the resolved config; returns its id."""
    module, function = FLOWS[flow_name].entrypoint.split(":")
    source_flow = flow.from_source(source=str(PROJECT_ROOT), entrypoint=f"{module.replace('.', '/')}.py:{function}")
    deployment_id = source_flow.deploy(
        name=preset,
        work_pool_name=pool,
        cron=cron,
        parameters={"config": to_dict(load_config(preset, list(overrides))), **(extra or {})},
        build=False,
        push=False,
        print_next_steps=False,
    )
    return str(deployment_id)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flow", default="speech-prep", choices=sorted(name for name in FLOWS if name != "study"))
    parser.add_argument("--pool", default="seqmask")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--cron", help="schedule, e.g. '0 3 * * *' (default: run on demand only)")
    parser.add_argument("--dask-address", help="scheduler the flow's stages map on")
    args = parser.parse_args(argv)
    overrides = [f"orchestration.dask_address={args.dask_address}"] if args.dask_address else []
    ensure_work_pool(args.pool)
    print(f"deployment {args.flow}/{args.preset}: {deploy(args.flow, pool=args.pool, preset=args.preset, cron=args.cron, overrides=overrides)}")


if __name__ == "__main__":
    main()
