"""Register seqmask flows as scheduled Prefect deployments on a work pool.

    python -m flows.deploy --pool seqmask --cron "0 3 * * *" --dask-address tcp://dask-scheduler:8786

A Prefect worker of that pool (``prefect worker start --pool seqmask --type process``)
then runs them; see docker-compose.yml.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from prefect import flow
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectAlreadyExists

from seqmask.cli import FLOWS

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def ensure_work_pool(name: str, pool_type: str = "process") -> None:
    """Create the work pool if it does not exist yet."""
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=name, type=pool_type))
        except ObjectAlreadyExists:
            pass


def deploy(flow_name: str, *, pool: str, preset: str, cron: str | None, overrides: Sequence[str]) -> str:
    """Create or update the deployment ``<flow>/<preset>``; returns its id."""
    module, function = FLOWS[flow_name].split(":")
    source_flow = flow.from_source(source=str(PROJECT_ROOT), entrypoint=f"{module.replace('.', '/')}.py:{function}")
    deployment_id = source_flow.deploy(
        name=preset,
        work_pool_name=pool,
        cron=cron,
        parameters={"preset": preset, "overrides": list(overrides)},
        build=False,
        push=False,
        print_next_steps=False,
    )
    return str(deployment_id)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flow", default="speech-prep", choices=sorted(FLOWS))
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
