"""Keys of the speech pipeline's stages: what a change of config reruns (before any input digest matters)."""

from __future__ import annotations

from seqmask.app.root import load_experiment
from seqmask.experiment.runs import expand
from seqmask.speech.pipeline import speech_pipeline
from seqmask.stage import Runner
from seqmask.store import ArtifactStore


def keys(tmp_path, *overrides):
    config = load_experiment("tiny", list(overrides))
    pipeline = speech_pipeline(expand(("random", "ask2mask+utt"), (0,)), name="speech")
    runner = Runner(ArtifactStore(tmp_path / "store"))
    return {stage.name: runner.key(stage, config, {}) for stage in pipeline.stages}


def changed(tmp_path, *overrides):
    paper = keys(tmp_path)
    return {name for name, key in keys(tmp_path, *overrides).items() if key != paper[name]}


def test_ask2mask_parameters_leave_the_random_baseline_and_the_scorer_alone(tmp_path):
    for override in ("speech.pretrain.mask.random_share=0.5", "speech.pretrain.mask.selection=sample"):
        assert changed(tmp_path, override) == {"speech-pretrain-ask2mask-utt-s0", "speech-report"}, override


def test_the_confidence_changes_only_the_scores_key(tmp_path):
    # (what reads the scores changes through their digest when the pipeline runs)
    assert changed(tmp_path, "speech.scores.confidence=nonblank") == {"speech-scores"}


def test_the_mask_ratio_changes_both_variants(tmp_path):
    found = changed(tmp_path, "speech.pretrain.mask.max_mask_prob=0.4")
    assert {"speech-pretrain-random-s0", "speech-pretrain-ask2mask-utt-s0"} <= found and "speech-scorer" not in found


def test_stages_read_their_inputs_by_role_and_no_stage_names_reach_a_key():
    pipeline = speech_pipeline(expand(("none", "random"), (0, 1)), name="compare")
    stages = {stage.name: stage for stage in pipeline.stages}
    assert stages["speech-finetune-random-s1"].inputs == {
        "splits": "speech-splits",
        "features": "speech-features",
        "labelled": "speech-labelled",
        "pretrain": "speech-pretrain-random-s1",
    }
    assert "pretrain" not in stages["speech-finetune-none-s0"].inputs
    assert "labelled" not in stages["speech-finetune-reference-fsdd"].inputs
    config = load_experiment("tiny")
    for stage in pipeline.stages:
        assert "pretrain-" not in str(stage.config_of(config)) and "finetune-" not in str(stage.config_of(config))


def test_every_variant_fine_tunes_with_one_recipe_and_references_do_not_freeze():
    pipeline = speech_pipeline(expand(("none", "random"), (0,)), name="compare")
    config = load_experiment("tiny", ["speech.finetune.freeze_encoder_steps=5"])
    freeze = {
        stage.name: stage.config_of(config).finetune.freeze_encoder_steps
        for stage in pipeline.stages
        if stage.name.startswith("speech-finetune-")
    }
    assert freeze.pop("speech-finetune-random-s0") == freeze.pop("speech-finetune-none-s0") == 5
    assert set(freeze.values()) == {0} and "speech-finetune-reference-fsdd" in freeze
