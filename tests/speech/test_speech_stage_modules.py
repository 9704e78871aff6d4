"""The speech stages' names, and the report's and the study's per-run role families (what every pipeline's stage
modules share is tested in tests/test_stage_modules.py)."""

from __future__ import annotations

from seqmask.app.root import load_experiment
from seqmask.speech import artifacts
from seqmask.speech.pipeline import speech_compare_plan, speech_prep_plan, speech_study_plan
from seqmask.speech.stages import evaluate, pretrain, report, scorer
from seqmask.stage import stage_name

STUDY = {"seeds": [0], "points": {"paper": {}, "nonblank": {"speech.scores.confidence": "nonblank"}}}


def test_the_per_run_role_families_are_the_stage_names_they_read():
    assert (artifacts.EVALUATE, artifacts.PRETRAIN) == (stage_name(evaluate), stage_name(pretrain))
    assert (artifacts.POINT_REPORT, artifacts.POINT_SCORER) == (stage_name(report), stage_name(scorer))


def test_the_stage_names():
    config = load_experiment("tiny")
    [(prep, _)] = speech_prep_plan(config)
    assert prep.stage_names() == [
        "speech-fsdd",
        "speech-ljspeech",
        "speech-espeak-synth",
        "speech-espeak",
        "speech-user",
        "speech-splits",
    ]
    [(compare, _)] = speech_compare_plan(config)
    names = compare.stage_names()
    shared = ["speech-features", "speech-labelled", "speech-scorer", "speech-scores"]
    assert names[: len(prep.stages)] == prep.stage_names() and names[len(prep.stages) : len(prep.stages) + 4] == shared
    per_run = {"speech-finetune-reference-fsdd", "speech-evaluate-ask2mask-utt-s0", "speech-pretrain-random-s1"}
    assert per_run <= set(names)
    assert names[-1] == "speech-report"
    [*_, (study, _)] = speech_study_plan(config, STUDY)
    assert study.stage_names() == ["speech-study"]
    assert study.external["speech-report-nonblank"] == ("study-nonblank", "speech-report")
