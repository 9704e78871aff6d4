"""``seqmask deploy`` on a real Prefect server on Postgres, run by real ``prefect worker`` processes.

A deployments file is checked entry by entry; its deployments land on the ``cpu`` or ``gpu`` pool by their stages,
with their cron schedules and resolved configs; a ``prefect worker start --pool cpu`` runs speech-prep; a worker of
the ``gpu`` pool killed (with every process under it) while motion trains leaves a store that the next run of the
deployment resumes: finished stages reused, the killed training continued from its checkpoint.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from postgres_cluster import postgres, postgres_prefect_server  # noqa: F401
from processes import prefect_free_env, signal_tree, with_default_sigint

from flows.deploy import DEFAULT_FILE, deploy_all, pool_for, read_deployments, resolve_deployments
from seqmask.app.root import load_experiment
from seqmask.files import read_build_record
from seqmask.motion.pipeline import motion_plan
from seqmask.runlog import latest_runs
from seqmask.schema import ConfigError
from seqmask.speech.pipeline import speech_prep_plan

BIN = Path(sys.executable).parent
MOTION_STEPS = 400
DEPLOYMENTS = f"""
deployments:
  - flow: speech-prep
    preset: tiny
    cron: "0 3 * * *"
  - flow: motion
    name: tiny-long
    preset: tiny
    overrides: {{motion.diffusion.train.steps: {MOTION_STEPS}, motion.diffusion.train.checkpoint_every: 20}}
  - flow: pipeline
    preset: tiny
    cron: "30 4 * * 6"
    timezone: Europe/Paris
"""


def test_a_deployments_file_is_checked_entry_by_entry(tmp_path) -> None:
    path = tmp_path / "deployments.yaml"
    for text, message in [
        ("deployments: []", "expected a `deployments:` list"),
        ("deployments: [{flow: nope}]", r"entry 1 \(nope/small\): unknown flow 'nope'"),
        ("deployments: [{flow: speech, cron: 'every day'}]", r"entry 1 \(speech/small\): cron 'every day'"),
        ("deployments: [{flow: text, pool: tpu}]", "pool 'tpu' is not one of"),
        ("deployments: [{flow: text, when: daily}]", r"entry 1: unknown key 'when' \(keys: cron, flow, "),
        (
            "deployments: [{preset: tiny}]",
            "entry 1: no `flow` \\(one of motion, motion-compare, motion-prep, pipeline, speech, speech-compare, ",
        ),
        ("deployments: [speech]", "entry 1: expected a mapping of keys among .*, found str 'speech'"),
        (
            "deployments: [{flow: text}, {flow: text, preset: small}]",
            r"entry 2 \(text/small\): the same deployment as entry 1",
        ),
        (
            "deployments: [{flow: text, overrides: {null: 1}}]",
            r"entry 1 \(text/small\): overrides: expected dotted config keys .*found None",
        ),
        (
            "deployments:\n  - flow: text\n    cron: '0 1 * * *\n",
            r"deployments file .*: not valid YAML: line 4, column 1: found unexpected end",
        ),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=message) as info:
            read_deployments(path)
        assert str(info.value).startswith(f"{path}: ") or str(info.value).startswith(f"deployments file {path}: ")
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_deployments(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{flow: [speech, text]}", "entry 1: flow: expected a string, found list ['speech', 'text']"),
        (
            "{flow: text, overrides: [text.base.train.steps=10]}",
            "entry 1: overrides: expected a mapping of config KEY: VALUE or null,"
            " found list ['text.base.train.steps=10']",
        ),
        ("{flow: text, preset: [tiny]}", "entry 1: preset: expected a string, found list ['tiny']"),
        ("{flow: text, cron: 5}", "entry 1: cron: expected a string or null, found int 5"),
        ("{flow: text, name: null}", "entry 1: name: expected a string, found NoneType None"),
    ],
)
def test_a_field_of_the_wrong_type_is_named(tmp_path, entry, message) -> None:
    path = tmp_path / "deployments.yaml"
    path.write_text(f"deployments: [{entry}]")
    with pytest.raises(ConfigError) as info:
        read_deployments(path)
    assert str(info.value) == f"{path}: {message}"


def test_a_null_override_is_yaml_null_as_with_set(tmp_path) -> None:
    path = tmp_path / "deployments.yaml"
    path.write_text(
        "deployments: [{flow: speech-prep, preset: tiny, overrides: {speech.data.labelled_per_speaker: null}}]"
    )
    [deployment] = resolve_deployments(path)
    assert deployment.config.speech.data.labelled_per_speaker is None
    assert load_experiment("tiny", ["speech.data.labelled_per_speaker=null"]) == deployment.config
    path.write_text("deployments: [{flow: speech-prep, preset: tiny, overrides: {speech.pretrain.train.steps: null}}]")
    with pytest.raises(ConfigError) as info:  # a field that takes no null says so, naming the file, entry and key
        resolve_deployments(path)
    assert re.match(
        rf"{re.escape(str(path))}: entry 1 \(speech-prep/tiny\): override speech.pretrain.train.steps: .*found None",
        str(info.value),
    )


BAD_SECOND_ENTRY = """
deployments:
  - flow: speech-prep
    name: first-of-two
    preset: tiny
  - flow: motion-prep
    name: second-of-two
    preset: tiny
    overrides: {{{overrides}}}
"""


def test_a_bad_entry_registers_no_entry_of_its_file(tmp_path, prefect_api) -> None:
    from prefect.client.orchestration import get_client

    path = tmp_path / "deployments.yaml"
    path.write_text(BAD_SECOND_ENTRY.format(overrides="motion_prep.no_such_key: 1"))
    with pytest.raises(ConfigError) as info:
        deploy_all(path)
    with get_client(sync_client=True) as client:
        names = {deployment.name for deployment in client.read_deployments()}
    assert not names & {"first-of-two", "second-of-two"}, names
    assert re.match(
        rf"{re.escape(str(path))}: entry 2 \(motion-prep/second-of-two\): override motion_prep.no_such_key: ",
        str(info.value),
    )
    path.write_text(BAD_SECOND_ENTRY.format(overrides="speech.data.labelled_per_speaker: null"))
    rows = deploy_all(path)
    with get_client(sync_client=True) as client:
        second = client.read_deployment_by_name("motion-prep/second-of-two")
    assert [row["deployment"] for row in rows] == ["speech-prep/first-of-two", "motion-prep/second-of-two"]
    assert second.parameters["config"]["speech"]["data"]["labelled_per_speaker"] is None  # registered as YAML null


def test_the_shipped_deployments_schedule_every_main_flow() -> None:
    specs = read_deployments(DEFAULT_FILE)
    assert {"speech", "text", "motion", "pipeline"} <= {spec.flow for spec in specs}
    assert all(spec.cron and spec.preset == "small" for spec in specs)


def test_flows_that_train_go_to_the_gpu_pool() -> None:
    config = load_experiment("tiny")
    assert pool_for(speech_prep_plan(config)) == "cpu"
    assert pool_for(motion_plan(config)) == "gpu"


@pytest.fixture(scope="module")
def server(postgres_prefect_server, tmp_path_factory) -> dict:  # noqa: F811 (the fixture imported above)
    """The Postgres-backed server with the test's deployments registered by ``seqmask deploy``; a store for workers."""
    tmp = tmp_path_factory.mktemp("deploy")
    (tmp / "deployments.yaml").write_text(DEPLOYMENTS)
    env = prefect_free_env(PREFECT_API_URL=postgres_prefect_server, SEQMASK_HOME=str(tmp / "store"))
    deployed = subprocess.run(
        [str(BIN / "seqmask"), "deploy", "--file", str(tmp / "deployments.yaml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert deployed.returncode == 0, deployed.stderr[-3000:]
    return {"url": postgres_prefect_server, "env": env, "store": tmp / "store", "tmp": tmp, "printed": deployed.stdout}


def api(server: dict, method: str, path: str, body: dict | None = None) -> dict | list:
    import httpx

    response = httpx.request(method, f"{server['url']}{path}", json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def deployment(server: dict, name: str) -> dict:
    return api(server, "GET", f"/deployments/name/{name}")


def test_deployments_carry_pool_schedule_and_resolved_config(server) -> None:
    assert "| speech-prep/tiny | cpu | `0 3 * * *` |" in server["printed"]
    prep, motion, pipeline = (
        deployment(server, name) for name in ("speech-prep/tiny", "motion/tiny-long", "pipeline/tiny")
    )
    assert (prep["work_pool_name"], motion["work_pool_name"], pipeline["work_pool_name"]) == ("cpu", "gpu", "gpu")
    assert [s["schedule"]["cron"] for s in prep["schedules"]] == ["0 3 * * *"]
    assert [s["schedule"]["timezone"] for s in pipeline["schedules"]] == ["Europe/Paris"]
    assert motion["schedules"] == []
    assert (
        motion["parameters"]["config"]["motion"]["diffusion"]["train"]["steps"] == MOTION_STEPS
    )  # resolved when deployed
    assert (
        prep["entrypoint"] == "flows/speech.py:speech_prep" and pipeline["entrypoint"] == "flows/pipeline.py:pipeline"
    )
    assert {pool["name"] for pool in api(server, "POST", "/work_pools/filter", {})} >= {"cpu", "gpu"}


@contextmanager
def worker(server: dict, pool: str) -> Iterator[subprocess.Popen]:
    """A real ``prefect worker start --pool POOL --type process``; on exit it and every process under it are stopped."""
    env = {**server["env"], "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "1"}
    with open(server["tmp"] / f"worker-{pool}.log", "a") as log:
        process = subprocess.Popen(
            with_default_sigint([str(BIN / "prefect"), "worker", "start", "--pool", pool, "--type", "process"]),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        signal_tree(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def start_run(server: dict, name: str) -> str:
    return api(server, "POST", f"/deployments/{deployment(server, name)['id']}/create_flow_run", {})["id"]


def final_state(server: dict, flow_run_id: str) -> str | None:
    """The flow run's state type once it is final, else None."""
    state = api(server, "GET", f"/flow_runs/{flow_run_id}")["state"]
    return state["type"] if state and state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None


def wait_final(server: dict, flow_run_id: str, timeout_s: float = 400) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (state := final_state(server, flow_run_id)) is not None:
            return state
        time.sleep(1)
    raise AssertionError(f"flow run {flow_run_id} did not finish within {timeout_s:.0f} s")


def run_record(store: Path, flow_run_id: str) -> dict:
    return next(run for run in latest_runs(store / "runs", 50) if run.get("orchestrator_run_id") == flow_run_id)


def test_a_cpu_worker_runs_a_deployment_on_the_postgres_server(server) -> None:
    with worker(server, "cpu"):
        flow_run = start_run(server, "speech-prep/tiny")
        assert wait_final(server, flow_run) == "COMPLETED", (server["tmp"] / "worker-cpu.log").read_text()[-3000:]
    record = run_record(server["store"], flow_run)
    assert record["state"] == "completed" and set(record["stages"]) == {
        "speech-fsdd",
        "speech-ljspeech",
        "speech-espeak-synth",
        "speech-espeak",
        "speech-splits",
    }
    assert all(stage["state"] == "computed" for stage in record["stages"].values())


def test_a_killed_worker_leaves_a_store_the_next_run_resumes(server) -> None:
    with worker(server, "gpu") as first:
        killed = start_run(server, "motion/tiny-long")
        deadline = time.monotonic() + 300
        while not denoiser_checkpointed(server["store"], killed):
            assert time.monotonic() < deadline and final_state(server, killed) is None, (
                "no denoiser checkpoint to interrupt"
            )
            time.sleep(0.2)
        signal_tree(first.pid, signal.SIGKILL)
    with worker(server, "gpu"):
        rerun = start_run(server, "motion/tiny-long")
        assert wait_final(server, rerun) == "COMPLETED", (server["tmp"] / "worker-gpu.log").read_text()[-3000:]
    record = run_record(server["store"], rerun)
    states = {name: stage["state"] for name, stage in record["stages"].items()}
    assert states["motion-prep"] == "reused"  # finished before the kill
    resumed = []
    for name, stage in record["stages"].items():
        if name.startswith("motion-train-") and stage["state"] == "computed":
            artifact = server["store"] / "objects" / stage["key"]
            assert json.loads((artifact / "summary.json").read_text())["steps"] == MOTION_STEPS
            resumed.append(read_build_record(artifact)["resumed_from_step"])
    print(
        f"worker killed; the next run reused {sorted(n for n, state in states.items() if state == 'reused')}, "
        f"denoisers resumed from steps {resumed}"
    )
    assert any(step > 0 for step in resumed), f"no training resumed from a checkpoint: {resumed}"


def denoiser_checkpointed(store: Path, flow_run_id: str) -> bool:
    """Whether a denoiser training of the flow run has written its resumable checkpoint."""
    try:
        stages = run_record(store, flow_run_id)["stages"]
    except StopIteration:  # the flow run has not started its stages yet
        return False
    return any(
        name.startswith("motion-train-")
        and stage["state"] == "running"
        and (store / "scratch" / stage["key"] / "last.pt").is_file()
        for name, stage in stages.items()
    )
