"""Keys of the speech pipeline's stages: what a change of config reruns."""

from __future__ import annotations

from seqmask.config import load_config
from seqmask.speech.stages import speech_pipeline
from seqmask.stage import Runner
from seqmask.store import ArtifactStore


def keys(tmp_path, *overrides):
    config = load_config("tiny", list(overrides))
    pipeline = speech_pipeline(config, variants=("random", "ask2mask+utt"), seeds=(0,))
    runner = Runner(ArtifactStore(tmp_path / "store"))
    return {stage.name: runner.key(stage, config, {}) for stage in pipeline.stages}


def test_ask2mask_parameters_leave_the_random_baseline_and_the_scorer_alone(tmp_path):
    paper = keys(tmp_path)
    for override in ("speech.pretrain.mask.random_share=0.5", "speech.pretrain.mask.selection=sample"):
        changed = {name for name, key in keys(tmp_path, override).items() if key != paper[name]}
        assert changed == {"pretrain-ask2mask-utt-s0", "report"}, override


def test_the_confidence_changes_only_the_scores_key(tmp_path):
    # (what reads the scores changes through their digest when the pipeline runs)
    paper = keys(tmp_path)
    assert {name for name, key in keys(tmp_path, "speech.scorer.confidence=nonblank").items() if key != paper[name]} == {"scores"}


def test_the_mask_ratio_changes_both_variants(tmp_path):
    paper = keys(tmp_path)
    changed = {name for name, key in keys(tmp_path, "speech.pretrain.mask.max_mask_prob=0.4").items() if key != paper[name]}
    assert {"pretrain-random-s0", "pretrain-ask2mask-utt-s0"} <= changed and "scorer" not in changed
