"""The speech and compare flows (Ask2Mask) on a real Prefect API and Dask cluster, tiny preset."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from importlib import import_module

import pytest

from seqmask.app.root import load_experiment
from seqmask.cli import main
from seqmask.config import load_yaml, to_dict
from seqmask.experiment.comparison import GATES, REPORT
from seqmask.files import read_build_record
from seqmask.paths import resolve_path
from seqmask.runlog import latest_runs
from seqmask.schema import ConfigError
from seqmask.speech import artifacts, readers
from seqmask.speech.config import EncoderConfig
from seqmask.speech.model import build_pretrain_model
from seqmask.stage import stage_name
from seqmask.store import ArtifactStore
from seqmask.training.checkpoint import save_checkpoint

pytestmark = pytest.mark.usefixtures("prefect_api")


def run(flow_name, dask_address, *overrides, from_stage=None, **extra):
    import flows.speech

    config = load_experiment("tiny", [f"orchestration.dask_address={dask_address}", *overrides])
    return getattr(flows.speech, flow_name.replace("-", "_"))(config=to_dict(config), from_stage=from_stage, **extra)


def states(home):
    [record] = latest_runs(home / "runs", 1)
    return {name: stage["state"] for name, stage in record["stages"].items()}


@pytest.fixture(scope="module")
def speech_run(store_home, dask_address, prefect_api):
    return run("speech", dask_address)


def test_speech_flow_reports_wer_per_test_set(speech_run, store_home):
    import jiwer
    import matplotlib.image

    from seqmask.data.text import normalize_text
    from seqmask.eval.wer import WER
    from seqmask.experiment.tables import results_table

    store = ArtifactStore()
    assert set(states(store_home).values()) == {"computed"}
    report = store.ref(speech_run["speech-report"]["key"]).path
    runs = readers.read_runs(report)
    for variant in ("none-s0", "random-s0", "ask2mask-utt-s0"):
        evaluation = store.ref(speech_run[f"speech-evaluate-{variant}"]["key"]).path
        results = readers.read_wer(evaluation)
        assert set(results) == {
            "test_matched",
            "test_matched/fsdd",
            "test_mismatched",
            "test_mismatched/fsdd",
            "valid",
            "valid/fsdd",
            "all",
        }
        hyps = [json.loads(line) for line in (evaluation / artifacts.HYPOTHESES).read_text().splitlines()]
        tests = [h for h in hyps if h["group"].startswith("test")]
        assert (
            len(hyps) == results["all"]["utterances"] + results["valid"]["utterances"]
        )  # "all" pools the test sets only
        wer = jiwer.wer([normalize_text(h["ref"]) for h in tests], [normalize_text(h["hyp"]) for h in tests])
        assert results["all"]["wer"] == pytest.approx(wer)  # the pooled rate is the corpus-level rate of the hypotheses
        assert results in [run["results"] for run in runs]
    table = (report / REPORT).read_text()
    references = {}
    for corpus in ("fsdd", "espeak"):  # each reference beside the variants, on its own corpus's groups
        found = readers.read_wer(store.ref(speech_run[f"speech-evaluate-reference-{corpus}"]["key"]).path)
        assert {"valid", f"valid/{corpus}", f"test_matched/{corpus}"} <= set(found)
        references[f"reference {corpus}"] = {group: rates for group, rates in found.items() if "/" in group}
    expected = results_table({**{run["variant"]: run["results"] for run in runs}, **references}, WER)
    assert expected in table  # the report prints exactly these runs and references
    assert (
        expected.splitlines()[0]
        == "| group | utterances | ask2mask+utt | none | random | reference fsdd | reference espeak |"
    )
    gates = json.loads((report / GATES).read_text())
    assert [gate["holds"] for gate in gates] == [
        False,
        False,
        gates[2]["holds"],
    ] and "**not meaningful**" in table  # tiny learns nothing
    masks = matplotlib.image.imread(report / artifacts.MASKS_PLOT)
    assert masks.shape[:2] == (480, 1200)  # spectrogram, confidence and 2 masks
    assert matplotlib.image.imread(report / artifacts.LOSS_PLOT).shape[:2] == (525, 900)
    scores = store.ref(speech_run["speech-scores"]["key"]).path
    assert 0 < readers.read_summary(scores)["mean_confidence_espeak"] <= 1  # the pretraining audio only


def test_wer_table_and_plots_reach_prefect(speech_run):
    import asyncio
    import base64

    from prefect import get_client

    async def read():
        async with get_client() as client:
            return await client.read_artifacts()

    published = asyncio.run(read())
    tables = [a for a in published if a.key == "speech-table"]
    assert tables and "test_mismatched/fsdd" in str(tables[0].data)
    plots = next(a for a in published if a.key == "speech-plots")
    report = ArtifactStore().ref(speech_run["speech-report"]["key"]).path
    for name in (artifacts.LOSS_PLOT, artifacts.MASKS_PLOT):  # each shown inline, byte for byte
        assert f"**{name}**" in plots.data
        assert base64.b64encode((report / name).read_bytes()).decode() in plots.data


def test_speech_rerun_reuses_every_stage(speech_run, store_home, dask_address):
    assert run("speech", dask_address) == speech_run
    assert set(states(store_home).values()) == {"reused"}


def test_cli_eval_and_transcribe(speech_run, tmp_path, capsys):
    files = sorted(resolve_path("data/speech/fsdd").glob("*_theo_1.flac"))[:3]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"id": f.stem, "audio": str(f), "text": "x"}) + "\n" for f in files))
    key = speech_run["speech-finetune-random-s0"]["key"][:10]
    assert main(["eval", "--model", key, "--manifest", str(manifest), "--hypotheses", str(tmp_path / "h.tsv")]) == 0
    assert "| all | 3 |" in capsys.readouterr().out
    assert len((tmp_path / "h.tsv").read_text().splitlines()) == 3
    assert main(["transcribe", "--model", key, str(files[0])]) == 0
    assert str(files[0]) in capsys.readouterr().out
    assert main(["eval", "--model", "nonexistent-model", "--manifest", str(manifest)]) == 2


def test_compare_gives_mean_and_std_over_seeds(store_home, dask_address):
    result = run(
        "speech-compare",
        dask_address,
        "speech.comparison.variants=[none, random, ask2mask+utt]",
        "speech.comparison.seeds=[0, 1]",
    )
    report = ArtifactStore().ref(result["speech-report"]["key"]).path
    table = (report / REPORT).read_text()
    assert "±" in table and "rel. vs random" in table and "none" in table
    assert len(readers.read_runs(report)) == 6
    assert states(store_home)["speech-pretrain-random-s0"] == "reused"  # shared with the speech flow's run


def test_sentencepiece_units_fine_tune_and_evaluate(store_home, dask_address, speech_run):
    result = run("speech", dask_address, "speech.finetune.units=sentencepiece", "speech.comparison.main=[random]")
    store = ArtifactStore()
    pretrained = "speech-pretrain-random-s0"
    assert result[pretrained] == speech_run[pretrained]  # units only change fine-tuning
    vocab = store.lineage(result["speech-finetune-random-s0"]["key"])["config"]["finetune"]["units"]
    results = readers.read_wer(store.ref(result["speech-evaluate-random-s0"]["key"]).path)
    assert vocab == "sentencepiece" and results["all"]["utterances"] > 0 and results["all"]["cer"] >= 0


def test_continue_pretraining_from_a_local_checkpoint(store_home, dask_address, tmp_path, speech_run):
    checkpoint = tmp_path / "w2v.pt"
    save_checkpoint(checkpoint, build_pretrain_model(EncoderConfig(arch="tiny")), kind="wav2vec2", arch="tiny")
    result = run(
        "speech", dask_address, f"speech.pretrain.init_checkpoint={checkpoint}", "speech.comparison.main=[random]"
    )
    lineage = ArtifactStore().lineage(result["speech-pretrain-random-s0"]["key"])
    assert lineage["config"]["pretrain"]["init_checkpoint"] == str(checkpoint)
    with pytest.raises(
        ConfigError, match=r"speech\.pretrain\.init_checkpoint: expected an existing file .*missing\.pt"
    ):
        run(
            "speech",
            dask_address,
            f"speech.pretrain.init_checkpoint={tmp_path / 'missing.pt'}",
            "speech.comparison.main=[random]",
        )


def test_kill_during_pretraining_resumes_to_the_same_step_count(tmp_path, prefect_api, speech_run, kill_then_rerun):
    home = tmp_path / "store"
    env = {**os.environ, "SEQMASK_HOME": str(home), "PREFECT_API_URL": prefect_api}
    # the run's own LocalCluster: its workers die with it (a shared cluster would finish the orphaned training first)
    cmd = [
        sys.executable,
        "-m",
        "seqmask.cli",
        "run",
        "speech",
        "--preset",
        "tiny",
        "--set",
        "speech.comparison.main=[random]",
        "--set",
        "speech.pretrain.train.steps=60",
        "--set",
        "speech.pretrain.train.checkpoint_every=5",
    ]
    kill_then_rerun(
        cmd, env, lambda: next((p for p in (home / "scratch").glob("*/last.pt") if _is_pretrain_state(p)), None)
    )
    [record] = latest_runs(home / "runs", 1)
    pretrain = ArtifactStore(home).ref(record["stages"]["speech-pretrain-random-s0"]["key"]).path
    summary = readers.read_summary(pretrain)
    assert summary["steps"] == 60 and 5 <= read_build_record(pretrain)["resumed_from_step"] < 60
    steps = [json.loads(line)["step"] for line in readers.metrics_file(pretrain).read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 60


def _is_pretrain_state(path):
    import torch

    try:
        return torch.load(path, weights_only=True)["seqmask"]["identity"]["unit"]["variant"] == "random"
    except Exception:  # being written
        return False


def test_study_tabulates_points_on_valid_and_reuses_the_random_baseline(store_home, dask_address, speech_run, tmp_path):
    plan = load_yaml("seeds: [0]\npoints:\n  paper: {}\n  nonblank: {speech.scores.confidence: nonblank}\n")
    result = run("speech-study", dask_address, plan=plan)
    study = ArtifactStore().ref(result["speech-study"]["key"]).path
    table = (study / artifacts.STUDY_TABLE).read_text()
    assert "| paper | (preset) |" in table and "| nonblank | speech.scores.confidence=nonblank |" in table
    assert "ask2mask+utt rel. vs random" in table and "on `valid`" in table
    runs = json.loads((study / artifacts.STUDY_RESULTS).read_text())["runs"]
    assert {run["variant"] for run in runs["nonblank"]} == {"random", "ask2mask+utt"}
    assert all("valid" in run["results"] and "test_mismatched" in run["results"] for run in runs["paper"])
    nonblank_runs = [r for r in latest_runs(store_home / "runs", 10) if r["flow"] == "study-nonblank"]
    stages = nonblank_runs[0]["stages"]
    assert stages["speech-pretrain-random-s0"]["state"] == "reused"  # only Ask2Mask's inputs changed
    assert stages["speech-scores"]["state"] == "computed" and stages["speech-scorer"]["state"] == "reused"
    assert stages["speech-pretrain-ask2mask-utt-s0"]["state"] == "computed"


def test_study_cli_refuses_a_plan_on_a_test_split(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text("split: test_mismatched\npoints: {paper: {}}\n")
    assert main(["run", "speech-study", "--preset", "tiny", "--plan", str(plan)]) == 2
    assert "never a test split" in capsys.readouterr().err


def _dry_run(tree, home, edit=None):
    """``seqmask run speech --dry-run`` from a copy of the project, with ``edit`` (a module path) changed by a
    comment."""
    path = tree / edit if edit else None
    original = path.read_text() if path else None
    if path:
        path.write_text(original + "\n# an edit\n")
    try:
        out = subprocess.run(
            [sys.executable, "-m", "seqmask.cli", "run", "speech", "--preset", "tiny", "--dry-run"],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree), "SEQMASK_HOME": str(home)},
            capture_output=True,
            text=True,
        )
    finally:
        if path:
            path.write_text(original)
    assert out.returncode == 0, out.stderr[-3000:]
    # stage, the file that builds it, key, action
    rows = [line.split(maxsplit=3) for line in out.stdout.splitlines() if line.startswith("speech/")]
    modules = {path: import_module(path.removesuffix(".py").replace("/", ".")) for _, path, _, _ in rows}
    assert all(stage.startswith(f"speech/{stage_name(modules[path])}") for stage, path, _, _ in rows)
    return {stage.removeprefix("speech/"): (key, action) for stage, _, key, action in rows}


def test_dry_run_shows_what_a_code_edit_recomputes(speech_run, store_home, tmp_path):
    """Keys follow the import graph: an edit recomputes the stages that reach the module, and nothing else."""
    import shutil

    tree = tmp_path / "project"
    for package in ("seqmask", "flows"):
        shutil.copytree(resolve_path(package), tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    for shared in ("configs", "data"):
        (tree / shared).symlink_to(resolve_path(shared))
    unchanged = _dry_run(tree, store_home)
    assert {action for _, action in unchanged.values()} == {"reuse"}
    assert all(
        unchanged[name][0] == speech_run[name]["key"][:12] for name in speech_run
    )  # --dry-run keys are the run's keys

    def recomputed(edit):
        return {name for name, (_, action) in _dry_run(tree, store_home, edit).items() if action != "reuse"}

    assert recomputed("seqmask/eval/report.py") == {"speech-report"}
    features = recomputed("seqmask/speech/stages/features.py")
    prep = {f"speech-{name}" for name in ("fsdd", "ljspeech", "espeak-synth", "espeak", "splits", "labelled")}
    assert features == set(unchanged) - prep  # the rest waits for it
    guided = _dry_run(tree, store_home, "seqmask/masking/ask2mask.py")
    computed = {name for name, (_, action) in guided.items() if action == "compute"}
    assert computed == {"speech-scores", "speech-pretrain-random-s0"}
    assert guided["speech-scorer"][1] == guided["speech-features"][1] == "reuse"
    assert guided["speech-finetune-random-s0"][1] == "compute after speech-pretrain-random-s0"
    # its own code changed too, but it waits for its input
    assert guided["speech-pretrain-ask2mask-utt-s0"][1] == "compute after speech-scores"


def test_the_labelled_subset_is_seeded_disjoint_and_recorded(speech_run, tmp_path):
    """N labelled target utterances per speaker, drawn from train only, the same for the same seed, kept in the
    artifact."""
    from seqmask.executor import Executor
    from seqmask.speech.stages import labelled
    from seqmask.stage import StageContext

    store = ArtifactStore()
    labelled_path = store.ref(speech_run["speech-labelled"]["key"]).path
    kept = [json.loads(line) for line in (labelled_path / artifacts.LABELLED).read_text().splitlines()]
    splits = store.ref(speech_run["speech-splits"]["key"])
    train = {r.id: r for r in readers.records(splits.path, ("train",))}
    held_out = {r.id for r in readers.records(splits.path, ("valid", "test_matched", "test_mismatched"))}
    assert (
        all(item["id"] in train and train[item["id"]].source == "fsdd" for item in kept)
        and not {i["id"] for i in kept} & held_out
    )
    assert (
        sorted(collections.Counter(item["speaker"] for item in kept).values()) == [20] * 4
    )  # tiny: 20 per speaker, 4 speakers

    def draw(seed, name):
        out = tmp_path / name
        out.mkdir()
        config = labelled.Config(target=("fsdd",), per_speaker=20, seed=seed)
        context = StageContext(
            config=config,
            inputs={"splits": splits},
            out=out,
            executor=Executor(),
            stage="speech-labelled",
            scratch=tmp_path,
        )
        labelled.build(context)
        return [json.loads(line)["id"] for line in (out / artifacts.LABELLED).read_text().splitlines()]

    assert draw(0, "again") == [item["id"] for item in kept]  # the recorded subset is the seed's
    assert draw(1, "other") != draw(0, "same")
