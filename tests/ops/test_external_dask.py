"""``seqmask run speech-prep --dask-address`` on an external cluster (``dask scheduler`` and two ``dask worker``
processes): the prep maps run on its workers, and a worker SIGKILLed mid-map fails nothing and leaves no duplicate or
partial artifact. Real processes, a real Prefect API, tiny preset; each run has its own store."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dask_processes import external_dask_cluster  # noqa: F401
from distributed import Client, get_task_stream
from distributed.utils import key_split

from seqmask.data.manifest import AudioRecord
from seqmask.files import DIGESTS_FILE, read_jsonl
from seqmask.runlog import latest_runs
from seqmask.store import ArtifactStore

pytestmark = pytest.mark.usefixtures("prefect_api")

MAP_TASKS = frozenset({"prepare_shard_task", "synthesize_chunk"})
"""Key prefixes of the tasks the speech-prep stages map (shards of every corpus, espeak-ng utterances)."""
STAGES = ("speech-fsdd", "speech-ljspeech", "speech-espeak-synth", "speech-espeak", "speech-splits")
RUN_TIMEOUT_SECONDS = 120


def start_prep(address: str, home: Path, prefect_api: str) -> subprocess.Popen:
    """``seqmask run speech-prep --preset tiny --dask-address ADDRESS`` with its store at ``home``; output in
    ``home.log``."""
    env = {**os.environ, "SEQMASK_HOME": str(home), "PREFECT_API_URL": prefect_api}
    with open(home.with_suffix(".log"), "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "seqmask.cli", "run", "speech-prep", "--preset", "tiny", "--dask-address", address],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def finish(run: subprocess.Popen, home: Path) -> None:
    """Wait for the run; it must exit 0 (the log's tail otherwise)."""
    code = run.wait(timeout=RUN_TIMEOUT_SECONDS)
    assert code == 0, home.with_suffix(".log").read_text(errors="replace")[-3000:]


def map_workers(records: list[dict]) -> dict[str, set[str]]:
    """Map task keys by the worker that computed them, from the scheduler's task stream."""
    workers = collections.defaultdict(set)
    for record in records:
        if key_split(record["key"]) in MAP_TASKS:
            workers[record["worker"]].add(record["key"])
    return workers


def published(home: Path) -> dict[str, list[str]]:
    """The keys of a store's published artifacts, by stage."""
    by_stage = collections.defaultdict(list)
    for item in ArtifactStore(home).list():
        by_stage[item["stage"]].append(item["key"])
    return dict(by_stage)


def file_digests(home: Path) -> dict[str, dict[str, str]]:
    """The sha256 of each file of each stage's artifact but its manifests (they name audio files by absolute path)."""
    store = ArtifactStore(home)
    found = {}
    for stage, [key] in published(home).items():
        digests = json.loads((store.ref(key).path / DIGESTS_FILE).read_text(encoding="utf-8"))
        found[stage] = {path: digest for path, digest in digests.items() if not path.endswith(".jsonl")}
    return found


def records(home: Path) -> dict[str, list[AudioRecord]]:
    """The records of each manifest of the store's ``splits`` artifact by split, audio files by name only."""
    [key] = published(home)["speech-splits"]
    manifests = ArtifactStore(home).ref(key).path / "manifests"
    return {
        path.stem: sorted(
            (dataclasses.replace(r, audio=Path(r.audio).name) for r in read_jsonl(path, AudioRecord)),
            key=lambda r: r.id,
        )
        for path in manifests.glob("*.jsonl")
    }


def stage_attempts(flow_run_id: str) -> dict[str, int]:
    """How many times Prefect ran each stage task of a flow run (2 after a retry)."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read():
        async with get_client() as prefect:
            return await prefect.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))

    return {task_run.name: task_run.run_count for task_run in asyncio.run(read())}


def catch_mid_map(client: Client, run: subprocess.Popen) -> tuple[str, set[str]]:
    """Wait until a worker runs a map task while some map result is already in memory: that worker's address, and
    the map keys it runs or alone holds (what killing it loses)."""
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline and run.poll() is None:
        running = {
            worker: {key for key in keys if key_split(key) in MAP_TASKS} for worker, keys in client.processing().items()
        }
        held = {
            key: set(workers) for key, workers in client.who_has().items() if key_split(key) in MAP_TASKS and workers
        }
        busy = [worker for worker, keys in running.items() if keys]
        if busy and held:
            return busy[0], running[busy[0]] | {key for key, workers in held.items() if workers == {busy[0]}}
        time.sleep(0.02)
    pytest.fail(f"no worker was caught mid-map (run exit status {run.poll()})")


@pytest.fixture(scope="module")
def client(external_dask_cluster):  # noqa: F811
    """A client of the external cluster, for the test's own view of the scheduler."""
    with Client(external_dask_cluster.address, set_as_default=False) as client:
        yield client


@pytest.fixture(scope="module")
def clean_run(external_dask_cluster, client, tmp_path_factory, prefect_api):  # noqa: F811
    """A run without incident: its store and the scheduler's task stream of it."""
    home = tmp_path_factory.mktemp("clean") / "store"
    with get_task_stream(client=client) as stream:
        finish(start_prep(external_dask_cluster.address, home, prefect_api), home)
    return home, stream.data


def test_prep_maps_on_both_workers_of_the_external_cluster(clean_run, client):
    home, stream = clean_run
    assert set(map_workers(stream)) == set(client.scheduler_info()["workers"])  # empty if the map had run elsewhere
    [run] = latest_runs(home / "runs", 1)
    assert run["state"] == "completed" and {
        name: stage["state"] for name, stage in run["stages"].items()
    } == dict.fromkeys(STAGES, "computed")


# Runs last in this module: the cluster keeps one worker afterwards.
def test_a_worker_killed_mid_map_fails_nothing_and_leaves_no_duplicate_or_partial_artifact(
    clean_run,
    external_dask_cluster,  # noqa: F811
    client,
    tmp_path,
    prefect_api,  # noqa: F811
):
    home = tmp_path / "store"
    with get_task_stream(client=client) as stream:
        run = start_prep(external_dask_cluster.address, home, prefect_api)
        victim, lost = catch_mid_map(client, run)
        external_dask_cluster.kill(client.scheduler_info()["workers"][victim]["name"])
        finish(run, home)
    rerun = {key for worker, keys in map_workers(stream.data).items() if worker != victim for key in keys}
    assert lost & rerun, f"none of the killed worker's map tasks {sorted(lost)} was rerun elsewhere"

    store = ArtifactStore(home)
    assert all(problems == [] for problems in store.verify_all().values())
    assert {stage: len(keys) for stage, keys in published(home).items()} == dict.fromkeys(STAGES, 1)
    assert file_digests(home) == file_digests(
        clean_run[0]
    )  # shards and audio byte for byte those of the run without the kill
    assert records(home) == records(clean_run[0])
    leftovers = [path for folder in (store.tmp, store.scratch, store.corrupt) for path in folder.iterdir()]
    partial = [path for path in store.objects.rglob("*") if ".tmp" in path.name]  # a write the kill cut short
    assert leftovers == [] and partial == []
    [record] = latest_runs(home / "runs", 1)
    assert record["state"] == "completed"
    assert stage_attempts(record["orchestrator_run_id"]) == dict.fromkeys(
        STAGES, 1
    )  # Dask reran the lost tasks, not Prefect the stage
