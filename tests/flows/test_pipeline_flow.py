"""The end-to-end ``pipeline`` flow: speech, text and motion in one Prefect flow run on a real API and Dask cluster,
tiny preset."""

from __future__ import annotations

import asyncio

import pytest

from seqmask.app.root import load_experiment
from seqmask.config import to_dict
from seqmask.runlog import latest_runs
from seqmask.store import ArtifactStore

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_one_flow_run_runs_and_reports_all_three_jobs(store_home, dask_address) -> None:
    from prefect import get_client

    from flows.pipeline import pipeline

    result = pipeline(config=to_dict(load_experiment("tiny", [f"orchestration.dask_address={dask_address}"])))
    records = {record["flow"]: record for record in latest_runs(store_home / "runs", 10)}
    assert set(records) == {"speech", "text", "motion"}
    assert all(record["state"] == "completed" for record in records.values())
    [flow_run_id] = {record["orchestrator_run_id"] for record in records.values()}  # one flow run
    assert "speech-report" in records["speech"]["stages"] and "text-report" in records["text"]["stages"]
    assert (ArtifactStore().ref(result["motion-report"]["key"]).path / "report.md").is_file()

    async def artifact_keys() -> set[str]:
        async with get_client() as client:
            return {
                artifact.key for artifact in await client.read_artifacts() if str(artifact.flow_run_id) == flow_run_id
            }

    published = asyncio.run(artifact_keys())
    assert {
        f"{job}-{kind}" for job in ("speech", "text", "motion") for kind in ("summary", "report", "table", "plots")
    } <= published
