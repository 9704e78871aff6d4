"""The runner reuses verified artifacts, keys on config, code, inputs and sources, and forces on request."""

from __future__ import annotations

import json
import os
import types
from dataclasses import dataclass

import pytest

from seqmask.runlog import RunLog, latest_runs
from seqmask.stage import (
    RUNTIME_PACKAGES,
    Pipeline,
    Runner,
    Stage,
    StageFailed,
    dry_run,
    package_versions,
    run_pipeline,
    run_plan,
    stage_name,
    stage_of,
    stage_packages,
)
from seqmask.store import ArtifactStore

CALLS: list[str] = []


@dataclass(frozen=True)
class Params:
    words: int
    source_dir: str


def build_words(ctx):
    CALLS.append(ctx.stage)
    text = " ".join(["word"] * ctx.config.words)
    (ctx.out / "words.txt").write_text(text)
    (ctx.out / "summary.json").write_text(json.dumps({"words": ctx.config.words}))


def build_count(ctx):
    CALLS.append(ctx.stage)
    words = (ctx.input_path("words") / "words.txt").read_text().split()
    lengths = ctx.executor.map(len, words, desc="count")
    (ctx.out / "count.txt").write_text(str(sum(lengths)))


def build_broken(ctx):
    raise ValueError("broken on purpose")


WORDS = Stage("words", 1, build_words, config_of=lambda c: c, sources=lambda c: [c.source_dir])
COUNT = Stage("count", 1, build_count, config_of=lambda c: {}, inputs={"words": "words"})
PIPE = Pipeline("demo", (WORDS, COUNT))


@pytest.fixture
def setup(tmp_path):
    CALLS.clear()
    source = tmp_path / "raw"
    source.mkdir()
    (source / "a.txt").write_text("raw")
    return ArtifactStore(tmp_path / "store"), Params(words=3, source_dir=str(source))


def test_second_run_reuses_everything(setup):
    store, params = setup
    first = run_pipeline(PIPE, params, Runner(store).run)
    second = run_pipeline(PIPE, params, Runner(store).run)
    assert CALLS == ["words", "count"]
    assert [o.reused for o in second.values()] == [True, True]
    assert (second["count"].ref.path / "count.txt").read_text() == "12"
    assert first["words"].summary == {"words": 3}


def test_config_change_reruns_stage_and_downstream(setup):
    store, params = setup
    run_pipeline(PIPE, params, Runner(store).run)
    run_pipeline(PIPE, Params(words=4, source_dir=params.source_dir), Runner(store).run)
    assert CALLS == ["words", "count", "words", "count"]


def test_source_file_change_invalidates(setup):
    store, params = setup
    run_pipeline(PIPE, params, Runner(store).run)
    (store.root.parent / "raw" / "b.txt").write_text("new raw file")
    run_pipeline(PIPE, params, Runner(store).run)
    assert CALLS.count("words") == 2


def test_force_recomputes_from_a_stage(setup):
    store, params = setup
    run_pipeline(PIPE, params, Runner(store).run)
    outcomes = run_pipeline(PIPE, params, Runner(store, force=PIPE.downstream_of("count")).run)
    assert CALLS == ["words", "count", "count"]
    assert outcomes["words"].reused and not outcomes["count"].reused


def test_corrupt_input_artifact_is_rebuilt_not_served(setup):
    store, params = setup
    first = run_pipeline(PIPE, params, Runner(store).run)
    (first["words"].ref.path / "words.txt").write_text("tampered")
    second = run_pipeline(PIPE, params, Runner(store).run)
    assert not second["words"].reused
    assert (second["words"].ref.path / "words.txt").read_text() == "word word word"
    assert second["words"].ref.digest == first["words"].ref.digest  # deterministic rebuild
    assert second["count"].reused


def test_failure_names_stage_and_is_logged(setup):
    store, params = setup
    pipe = Pipeline(
        "demo", (WORDS, Stage("broken", 1, build_broken, config_of=lambda c: {}, inputs={"words": "words"}))
    )
    log = RunLog(store.root / "runs", flow="demo", preset="test", argv=["x"])
    with pytest.raises(StageFailed, match="stage 'broken' failed: ValueError: broken on purpose") as info:
        run_pipeline(pipe, params, Runner(store, run_log=log).run)
    assert info.value.stage == "broken"
    log.finish("failed")
    [record] = latest_runs(store.root / "runs", 5)
    assert record["stages"]["words"]["state"] == "computed"
    assert record["stages"]["broken"]["state"] == "failed"
    assert "broken on purpose" in record["stages"]["broken"]["error"]


def test_a_stage_that_ends_after_its_run_was_stopped_stays_interrupted(setup):
    store, params = setup
    log = RunLog(store.root / "runs", flow="demo", preset="test", argv=["x"])
    log.stage_started("words", "k" * 64)
    log.finish("failed")  # SIGTERM: the flow stops while a stage thread still works
    outcomes = run_pipeline(Pipeline("demo", (WORDS,)), params, Runner(store).run)
    log.stage_finished("words", outcomes["words"].ref.key, reused=False, seconds=1.0)  # that thread ends later
    log.stage_started("count", "c" * 64)
    [record] = latest_runs(store.root / "runs", 5)
    assert record["state"] == "failed" and list(record["stages"]) == ["words"]
    assert record["stages"]["words"]["state"] == "failed" and "interrupted" in record["stages"]["words"]["error"]


def test_missing_source_is_a_stage_failure(setup):
    store, _ = setup
    with pytest.raises(StageFailed, match="does not exist"):
        run_pipeline(PIPE, Params(words=1, source_dir="/nonexistent/raw"), Runner(store).run)


def test_pipeline_rejects_inputs_from_later_stages():
    with pytest.raises(ValueError, match="reads \\['words'\\] before they run"):
        Pipeline("bad", (COUNT, WORDS))
    with pytest.raises(ValueError, match="no stage 'nope'"):
        PIPE.downstream_of("nope")


def test_lineage_records_inputs_config_and_packages(setup):
    store, params = setup
    outcomes = run_pipeline(PIPE, params, Runner(store).run)
    lineage = store.lineage(outcomes["count"].ref.key)
    assert lineage["inputs"]["words"]["digest"] == outcomes["words"].ref.digest
    assert (
        lineage["packages"] == {**package_versions(RUNTIME_PACKAGES), **stage_packages(COUNT)} and lineage["code_hash"]
    )
    assert {"python", "prefect", "pytest"} <= set(lineage["packages"])  # the runtime's, and what this module imports
    assert store.lineage(outcomes["words"].ref.key)["config"] == {"words": 3, "source_dir": params.source_dir}


def test_dry_run_shows_keys_and_what_would_be_reused_and_changes_nothing(setup):
    store, params = setup
    runner = Runner(store)
    before = dry_run([(PIPE, params)], runner)
    assert [(row.stage, row.action) for row in before] == [("words", "compute"), ("count", "compute after words")]
    assert before[0].key == runner.key(WORDS, params, {}) and before[1].key is None
    assert CALLS == [] and store.list() == []
    outcomes = run_pipeline(PIPE, params, runner.run)
    after = dry_run([(PIPE, params)], runner)
    assert [(row.stage, row.action, row.key) for row in after] == [
        (name, "reuse", outcomes[name].ref.key) for name in ("words", "count")
    ]
    forced = dry_run([(PIPE, params)], runner, from_stage="count")
    assert [row.action for row in forced] == ["reuse", "compute"]


def test_a_later_pipeline_reads_an_earlier_ones_stage(setup):
    store, params = setup
    reader = Pipeline(
        "reader",
        (Stage("recount", 1, build_count, config_of=lambda c: {}, inputs={"words": "the-words"}),),
        external={"the-words": ("demo", "words")},
    )
    runner = Runner(store)
    done = run_plan([(PIPE, params), (reader, params)], lambda p, c, given: run_pipeline(p, c, runner.run, given=given))
    assert done["reader"]["recount"].ref.path.joinpath("count.txt").read_text() == "12"
    assert [row.action for row in dry_run([(PIPE, params), (reader, params)], runner)] == ["reuse"] * 3


def build_pid(ctx):
    (ctx.out / "pid.txt").write_text(str(os.getpid()))


def test_a_worker_stage_builds_in_a_dask_worker_and_publishes_here(setup, dask_address):
    from distributed import Client

    from seqmask.executor import Executor

    store, params = setup
    stage = Stage("alone", 1, build_pid, config_of=lambda c: {}, worker=True)
    with Client(dask_address, set_as_default=False) as client:
        outcome = Runner(store, executor=Executor(client, show_bars=False)).run(stage, params, {})
    assert int((outcome.ref.path / "pid.txt").read_text()) != os.getpid()  # built by a worker process
    assert store.verify(outcome.ref.key) == []  # and published atomically by the runner, as any stage
    plain = Runner(store, force={"alone"}).run(stage, params, {})  # no cluster: built here
    assert int((plain.ref.path / "pid.txt").read_text()) == os.getpid()


def _stage_module(roles: tuple[str, ...], writes: tuple[str, ...]) -> types.ModuleType:
    """A stage module as ``stage_of`` reads one: ``seqmask.demo.stages.count_words``."""
    module = types.ModuleType("seqmask.demo.stages.count_words")
    module.VERSION, module.ROLES, module.WRITES, module.build = 3, roles, writes, build_count
    return module


def test_stage_of_names_the_stage_after_its_module_and_checks_its_roles():
    module = _stage_module(("words", "evaluate"), ("count.txt",))
    made = stage_of(
        module, "s0", config_of=lambda c: {}, inputs={"words": "words", "evaluate-a-s0": "x", "evaluate-b-s1": "y"}
    )
    assert (made.name, made.version, made.writes, made.build) == ("demo-count-words-s0", 3, ("count.txt",), build_count)
    assert stage_name(module) == "demo-count-words" and made.module == build_count.__module__
    with pytest.raises(
        ValueError,
        match=r"stage 'demo-count-words': roles \['scores'\] are not among the roles .* reads: \['words', 'evaluate'\]",
    ):
        stage_of(module, config_of=lambda c: {}, inputs={"words": "words", "scores": "scores"})
    with pytest.raises(ValueError, match="expected a stage module seqmask.PIPELINE.stages.NAME"):
        stage_name(types.ModuleType("tests.count"))


def test_a_build_that_leaves_out_a_file_its_module_writes_fails_naming_it(setup):
    store, params = setup
    module = _stage_module(("words",), ("count.txt", "histogram.png"))
    counting = stage_of(module, config_of=lambda c: {}, inputs={"words": "words"})
    with pytest.raises(StageFailed, match=r"build wrote no histogram.png \(its WRITES\), found \['count.txt'\]"):
        run_pipeline(Pipeline("demo", (WORDS, counting)), params, Runner(store).run)
    assert [item["stage"] for item in store.list()] == ["words"]  # nothing half-made was published
