"""Deployments register on a real Prefect API with their schedule and parameters."""

from __future__ import annotations

from prefect.client.orchestration import get_client

from flows.deploy import deploy, ensure_work_pool
from seqmask.config import load_config, to_dict


def test_scheduled_deployment_is_registered(prefect_api):
    ensure_work_pool("seqmask-test")
    ensure_work_pool("seqmask-test")  # idempotent
    deployment_id = deploy("speech-prep", pool="seqmask-test", preset="tiny", cron="0 3 * * *", overrides=["speech_prep.seed=1"])
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment(deployment_id)
    assert deployment.work_pool_name == "seqmask-test"
    assert deployment.parameters == {"config": to_dict(load_config("tiny", ["speech_prep.seed=1"]))}  # resolved when deployed
    assert deployment.entrypoint.endswith("flows/speech.py:speech_prep")
    assert [s.schedule.cron for s in deployment.schedules] == ["0 3 * * *"]
