"""The text flows (LEM vs MLM+TLM) on a real Prefect API and Dask cluster, tiny preset."""

from __future__ import annotations

import json
import os
import sys

import pytest

from seqmask.app.root import load_experiment
from seqmask.cli import main
from seqmask.config import to_dict
from seqmask.experiment.comparison import REPORT
from seqmask.files import read_build_record
from seqmask.runlog import latest_runs
from seqmask.store import ArtifactStore
from seqmask.text.artifacts import MASKS, METRICS, MINING, MLM_PHASE, SUMMARY_JSON, TAG, TLM_PHASE, mining_set_file
from seqmask.text.tokenizer import XLMR_MODEL_FILE

pytestmark = pytest.mark.usefixtures("prefect_api")


def run(flow_name, dask_address, *overrides, from_stage=None):
    import flows.text

    config = load_experiment("tiny", [f"orchestration.dask_address={dask_address}", *overrides])
    return getattr(flows.text, flow_name)(config=to_dict(config), from_stage=from_stage)


def states(home):
    [record] = latest_runs(home / "runs", 1)
    return {name: stage["state"] for name, stage in record["stages"].items()}


def artifact(result, stage):
    return ArtifactStore().ref(result[stage]["key"]).path


@pytest.fixture(scope="module")
def text_run(store_home, dask_address, prefect_api):
    return run("text", dask_address)


def test_text_flow_mines_every_pair_with_every_model(text_run, store_home) -> None:
    assert set(states(store_home).values()) == {"computed"}
    report = (artifact(text_run, "text-report") / REPORT).read_text()
    for row in ("| eng-sin: eng→sin | 100 |", "| sin-tam: tam→sin | 100 |", "| tatoeba-tam-eng: tam→eng | 307 |"):
        assert row in report
    assert "| group | pairs | lem | mlm | untrained | char n-grams | base |" in report
    assert "**not meaningful**" in report  # tiny learns nothing: its gates fail and say so
    mining = json.loads((artifact(text_run, "text-mine-lem-s0") / MINING).read_text())
    assert set(mining["test"]) == {"eng-sin", "eng-tam", "sin-tam", "tatoeba-tam-eng"}
    row = mining["test"]["eng-sin"]["centred"]["eng→sin"]
    assert row["pairs"] == 100 and 0 <= row["xsim_error"] <= 100
    summary = json.loads((artifact(text_run, "text-continual-lem-s0") / SUMMARY_JSON).read_text())
    assert summary["mlm"]["steps"] == 4 and summary["tlm"]["steps"] == 4 and 0 <= summary["heldout_mlm_accuracy"] <= 1
    taggers = json.loads((artifact(text_run, "text-taggers") / SUMMARY_JSON).read_text())
    assert set(taggers) == {"eng", "sin", "tam"} and all(0 < t["heldout_upos_accuracy"] <= 1 for t in taggers.values())
    masks = (artifact(text_run, "text-report") / MASKS).read_text()
    assert "- mlm:" in masks and "- lem:" in masks and "**" in masks


def test_plain_mlm_runs_without_tags_and_lem_reads_them(text_run) -> None:
    lineage = ArtifactStore().lineage(text_run["text-continual-mlm-s0"]["key"])
    assert TAG not in lineage["inputs"]
    assert TAG in ArtifactStore().lineage(text_run["text-continual-lem-s0"]["key"])["inputs"]


def test_text_rerun_reuses_every_stage(text_run, store_home, dask_address) -> None:
    assert run("text", dask_address) == text_run
    assert set(states(store_home).values()) == {"reused"}


def test_a_fresh_store_gives_every_stage_the_same_key_and_digest(text_run, dask_address, tmp_path, monkeypatch) -> None:
    """Artifacts hold what was made, not how long it took (timings are in lineage): a second store, elsewhere, built
    from scratch, publishes byte-identical artifacts, so every key downstream matches too."""
    monkeypatch.setenv("SEQMASK_HOME", str(tmp_path / "fresh"))
    again = run("text", dask_address)
    assert {stage: (ref["key"], ref["digest"]) for stage, ref in again.items()} == {
        stage: (ref["key"], ref["digest"]) for stage, ref in text_run.items()
    }


def test_compare_shares_the_base_and_gives_mean_and_std(text_run, store_home, dask_address) -> None:
    result = run("text_compare", dask_address)
    report = (artifact(result, "text-report") / REPORT).read_text()
    assert "±" in report and "lem rel. vs mlm" in report and "not meaningful" in report
    found = states(store_home)
    assert found["text-base"] == found["text-continual-mlm-s0"] == found["text-continual-lem-s0"] == "reused"
    assert found["text-continual-lem-s1"] == "computed"


def test_seqmask_mine_scores_two_files_of_the_user(text_run, tmp_path, capsys) -> None:
    test_set = mining_set_file(artifact(text_run, "text-prep"), "test", "eng-tam")
    pairs = [json.loads(line) for line in test_set.read_text().splitlines()]
    (tmp_path / "a.txt").write_text("".join(p["source"] + "\n" for p in pairs[:50]))
    (tmp_path / "b.txt").write_text("".join(p["target"] + "\n" for p in pairs[:50]))
    key = text_run["text-continual-lem-s0"]["key"][:12]
    argv = [
        "mine",
        "--model",
        key,
        "--src",
        str(tmp_path / "a.txt"),
        "--tgt",
        str(tmp_path / "b.txt"),
        "--src-lang",
        "eng",
        "--tgt-lang",
        "tam",
        "--out",
        str(tmp_path / "mined.tsv"),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| eng→tam | 50 |" in out and "| tam→eng | 50 |" in out
    mined = (tmp_path / "mined.tsv").read_text().splitlines()
    assert len(mined) == 50 and all(line.split("\t")[2] in ("0", "1") for line in mined)
    assert main([*argv[:-2], "--tgt-lang", "fra"]) == 2
    assert "--tgt-lang: this model has a language embedding per language" in capsys.readouterr().err


def test_a_language_without_tagger_or_treebank_names_both_fixes(store_home, dask_address, tmp_path) -> None:
    mono = tmp_path / "fr.txt"
    mono.write_text("Ouvrir le fichier\nEnregistrer le document\n", encoding="utf-8")
    from seqmask.stage import StageFailed

    with pytest.raises(
        StageFailed,
        match=r"no spaCy pipeline and no UD treebank for language 'fra'.*pipeline: NAME_OR_DIR.*treebank: PATH",
    ):
        run("text", dask_address, f'text_prep.monolingual=[{{path: "{mono}", language: fra}}]')


def test_init_from_a_local_hugging_face_xlmr(store_home, dask_address, tmp_path) -> None:
    import io

    import sentencepiece as spm
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from seqmask.data.bitext import Limits, read_tab_pairs
    from seqmask.paths import resolve_path

    pairs, _ = read_tab_pairs(resolve_path("data/text/libreoffice/libreoffice_en-ta.tsv.gz"), "eng", "tam", Limits())
    model = io.BytesIO()  # XLM-R's layout: <unk> 0, <s> 1, </s> 2, no <pad>; ids shifted by one in the model
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([t for p in pairs for t in (p.source, p.target)]),
        model_writer=model,
        vocab_size=500,
        character_coverage=1.0,
        hard_vocab_limit=False,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        minloglevel=2,
    )
    directory = tmp_path / "xlmr"
    directory.mkdir()
    (directory / XLMR_MODEL_FILE).write_bytes(model.getvalue())
    pieces = spm.SentencePieceProcessor(model_proto=model.getvalue()).get_piece_size()
    config = XLMRobertaConfig(
        vocab_size=pieces + 2,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    XLMRobertaForMaskedLM(config).save_pretrained(directory)
    result = run("text", dask_address, f"text.base.init_from={directory}", "text.comparison.variants=[mlm]")
    base = json.loads((artifact(result, "text-base") / SUMMARY_JSON).read_text())
    assert base["init_from"] == str(directory) and base["steps"] == 0
    assert "text-mine-untrained" not in result  # no random init of its own: the gate reads the base
    mining = json.loads((artifact(result, "text-mine-mlm-s0") / MINING).read_text())
    assert mining["test"]["eng-tam"]["raw"]["eng→tam"]["pairs"] == 100


def test_kill_during_continual_training_resumes_to_the_same_step(
    tmp_path, prefect_api, text_run, kill_then_rerun
) -> None:
    home = tmp_path / "store"
    env = {**os.environ, "SEQMASK_HOME": str(home), "PREFECT_API_URL": prefect_api}
    cmd = [
        sys.executable,
        "-m",
        "seqmask.cli",
        "run",
        "text",
        "--preset",
        "tiny",
        "--set",
        "text.comparison.variants=[mlm]",
        "--set",
        "text.continual.tlm.steps=300",
        "--set",
        "text.continual.tlm.checkpoint_every=5",
    ]
    kill_then_rerun(cmd, env, lambda: next(iter((home / "scratch").glob("*/tlm/last.pt")), None))
    [record] = latest_runs(home / "runs", 1)
    continual = ArtifactStore(home).ref(record["stages"]["text-continual-mlm-s0"]["key"]).path
    summary = json.loads((continual / SUMMARY_JSON).read_text())
    assert summary["tlm"]["steps"] == 300 and 5 <= read_build_record(continual, TLM_PHASE)["resumed_from_step"] < 300
    assert read_build_record(continual, MLM_PHASE)["resumed_from_step"] == 4  # the finished MLM phase: not again
    steps = [json.loads(line)["step"] for line in (continual / TLM_PHASE / METRICS).read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 300
