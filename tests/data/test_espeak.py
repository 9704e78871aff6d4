"""Tests of seqmask.data.espeak and seqmask.data.tatoeba on the project's Tatoeba text and the installed espeak-ng."""

from __future__ import annotations

import collections
import gzip
import shutil
from pathlib import Path

import pytest

from seqmask.data.audio import decode
from seqmask.data.config import AudioChecks
from seqmask.data.espeak import SynthJob, Voice, plan_synthesis, sentence_split, synthesize
from seqmask.data.tatoeba import tatoeba_sentences

TATOEBA = Path(__file__).resolve().parents[2] / "data" / "text" / "tatoeba"
PLAN = dict(
    voices=["en-us", "en-us+f3", "en-gb+m3"],
    heldout_voices=["en-gb-scotland+f2", "en-029+m1"],
    speeds=[150, 175],
    pitches=[40, 60],
    target_seconds=600.0,
    seconds_per_char=0.065,
    test_share=0.1,
    valid_share=0.05,
    mismatched_snr_db=15.0,
    language="en",
    seed=7,
)


@pytest.fixture(scope="module")
def english() -> list[str]:
    return tatoeba_sentences(TATOEBA, "eng")


def test_tatoeba_sentences_real(english):
    assert len(english) > 10_000
    assert english == sorted(set(english)) and all(s == s.strip() and s for s in english)
    tamil = tatoeba_sentences(TATOEBA, "tam")
    assert 250 < len(tamil) <= 307 and any("\u0b80" <= c <= "\u0bff" for c in tamil[0])


def test_tatoeba_sentences_plain_and_gz(tmp_path):
    (tmp_path / "a.x-eng.eng").write_text(" Hi.\nBye.\n\n", encoding="utf-8")
    (tmp_path / "b.y-eng.eng.gz").write_bytes(gzip.compress(b"Hi.\nAh.\n"))
    (tmp_path / "b.y-eng.y.gz").write_bytes(gzip.compress(b"other side\n"))
    assert tatoeba_sentences(tmp_path) == ["Ah.", "Bye.", "Hi."]
    with pytest.raises(FileNotFoundError, match=r"\*\.zzz\.gz"):
        tatoeba_sentences(tmp_path, "zzz")


def test_sentence_split_stable_and_disjoint(english):
    shares = dict(test_share=0.3, valid_share=0.2)
    # pinned: a changed hash would silently move sentences between train and test of cached corpora
    assert sentence_split("Tom needs water.", **shares) == "train"
    assert sentence_split("It's raining.", **shares) == "test"
    assert sentence_split("Good night.", **shares) == "valid"
    assert sentence_split("  it's RAINING!", **shares) == "test"  # normalised: case, spaces, punctuation
    splits = collections.defaultdict(set)
    for sentence in english:
        splits[sentence_split(sentence, **shares)].add(sentence.casefold().rstrip(".!?"))
    assert not splits["train"] & splits["test"] and not splits["valid"] & splits["test"]
    counts = {split: len(s) / len(english) for split, s in splits.items()}
    assert counts["test"] == pytest.approx(0.3, abs=0.02) and counts["valid"] == pytest.approx(0.2, abs=0.02)


def test_plan_synthesis(english):
    jobs = plan_synthesis(english, **PLAN)
    by_split = collections.defaultdict(list)
    for job in jobs:
        by_split[job.split].append(job)
    assert set(by_split) == {"train", "valid", "test_matched", "test_mismatched"}
    for job in jobs:
        assert job.speaker == job.voice.name and job.id.startswith("espeak-") and len(job.id) == 19
        held_out = job.voice.name in PLAN["heldout_voices"]
        assert held_out == (job.split == "test_mismatched")
        assert job.noise_snr_db == (15.0 if held_out else None)
        sentence_side = {"test_matched": "test", "test_mismatched": "test"}.get(job.split, job.split)
        assert sentence_split(job.text, test_share=0.1, valid_share=0.05) == sentence_side
    assert len({job.id for job in jobs}) == len(jobs)
    assert {j.text for j in by_split["test_matched"]} == {j.text for j in by_split["test_mismatched"]}
    # the estimate reaches the target, and would not without the last sentence
    estimate = [len(job.text) * PLAN["seconds_per_char"] for job in jobs]
    last = sum(e for job, e in zip(jobs, estimate) if job.text == jobs[-1].text)
    assert sum(estimate) >= PLAN["target_seconds"] > sum(estimate) - last


def test_plan_synthesis_deterministic(english):
    assert plan_synthesis(english, **PLAN) == plan_synthesis(list(reversed(english)), **PLAN)
    assert plan_synthesis(english, **PLAN) != plan_synthesis(english, **{**PLAN, "seed": 8})


def test_plan_synthesis_errors(english):
    with pytest.raises(ValueError, match="en-us"):
        plan_synthesis(english, **{**PLAN, "heldout_voices": ["en-us"]})
    with pytest.raises(ValueError, match="[23] sentences without digits give an estimated"):
        plan_synthesis(english[:3], **PLAN)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_synthesize_and_decode(tmp_path):
    job = SynthJob(
        id="espeak-test",
        text="Hello there.",
        voice=Voice(name="en-us+f3", speed=175, pitch=50),
        split="train",
        speaker="en-us+f3",
        language="en",
        noise_snr_db=None,
    )
    record = synthesize(job, tmp_path)
    assert (
        Path(record.audio) == (tmp_path / "espeak-test.flac").resolve()
        and record.synthetic
        and record.source == "espeak"
    )
    assert (record.text, record.split, record.speaker) == ("Hello there.", "train", "en-us+f3")
    wave = decode(record.audio, AudioChecks())  # espeak-ng writes 22.05 kHz
    assert 0.4 < wave.shape[0] / 16000 < 3.0
    bad = SynthJob(
        id="espeak-bad",
        text="Hi.",
        voice=Voice(name="nosuchvoice", speed=175, pitch=50),
        split="train",
        speaker="x",
        language="en",
        noise_snr_db=None,
    )
    with pytest.raises(RuntimeError, match="espeak-ng.*nosuchvoice.*does not exist"):
        synthesize(bad, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["espeak-test.flac"]


def test_check_voices_names_unknown_voices():
    from seqmask.data.espeak import check_voices

    check_voices(["en-us", "en-gb+f3", "en-029+m5", "ta", "si"])
    with pytest.raises(ValueError, match=r"no voice \['no-such-voice', 'en-us\+zz9'\]"):
        check_voices(["en-us", "no-such-voice", "en-us+zz9"])


def test_sentences_with_digits_are_not_synthesized(english):
    """espeak-ng says "forty-two" where the label would keep "42"."""
    with_digits = [s for s in english if any(ch.isdigit() for ch in s)]
    assert with_digits  # Tatoeba has them (about 1%)
    jobs = plan_synthesis(with_digits + english[:2000], **{**PLAN, "target_seconds": 60.0})
    assert jobs and not any(ch.isdigit() for job in jobs for ch in job.text)
