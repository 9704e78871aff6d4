"""Tests of seqmask.data.audio and seqmask.data.manifest on real files (the project's data/ and tmp_path)."""

from __future__ import annotations

import collections
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from seqmask.data.audio import (
    AudioError,
    decode,
    load_shard,
    prepare_shard,
    shard_batches,
    split_duplicates,
)
from seqmask.data.config import AudioChecks
from seqmask.data.fsdd import collect_fsdd
from seqmask.data.ljspeech import collect_ljspeech
from seqmask.data.manifest import AudioRecord, RawAudio
from seqmask.data.rejects import Reject
from seqmask.data.user import collect_user_dir, collect_user_manifest
from seqmask.files import read_jsonl, write_jsonl

DATA = Path(__file__).resolve().parents[2] / "data"
FSDD = DATA / "speech" / "fsdd"
LJSPEECH = DATA / "speech" / "ljspeech"
FSDD_SPEAKERS = ["george", "jackson", "nicolas", "theo", "yweweler"]


def tone(seconds: float, rate: int = 16000, channels: int = 1, amplitude: float = 0.5) -> np.ndarray:
    """A 220 Hz sine, shape (T, channels)."""
    t = np.arange(int(seconds * rate)) / rate
    wave = amplitude * np.sin(2 * np.pi * 220 * t)  # (T,)
    return np.repeat(wave[:, None], channels, axis=1).astype(np.float32)


def raw(path: Path | str, *, id: str | None = None, text: str | None = "hello", **kw) -> RawAudio:
    fields = dict(speaker="s", language="en", split="train", source="test")
    fields.update(kw)
    return RawAudio(id=id or Path(path).stem, audio=str(path), text=text, **fields)


DEFAULT_CHECKS = AudioChecks()


def prepare(records, tmp_path: Path, checks: AudioChecks = DEFAULT_CHECKS, seed: int = 0, require_text: bool = False):
    return prepare_shard(
        records,
        tmp_path / "shards" / "00000.safetensors",
        shard_rel="shards/00000.safetensors",
        checks=checks,
        require_text=require_text,
        seed=seed,
    )


# --- collectors -------------------------------------------------------------------


def test_collect_fsdd_splits():
    records = collect_fsdd(FSDD, heldout_speaker="yweweler")
    assert len(records) == 2500
    assert len({r.id for r in records}) == 2500
    counts = collections.Counter(r.split for r in records)
    assert counts == {"train": 1600, "test_mismatched": 500, "test_matched": 200, "valid": 200}
    for r in records:
        digit, speaker, index = Path(r.audio).stem.split("_")
        assert Path(r.audio).is_absolute() and r.source == "fsdd" and r.language == "en"
        assert r.text == ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"][int(digit)]
        if speaker == "yweweler":
            assert r.split == "test_mismatched"
        elif int(index) < 5:
            assert r.split == "test_matched"
        elif int(index) < 10:
            assert r.split == "valid"
        else:
            assert r.split == "train"
    assert {r.speaker for r in records if r.split != "test_mismatched"} == set(FSDD_SPEAKERS) - {"yweweler"}


def test_collect_fsdd_errors(tmp_path):
    with pytest.raises(ValueError, match="nobody.*george.*yweweler"):
        collect_fsdd(FSDD, heldout_speaker="nobody")
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "missing")):
        collect_fsdd(tmp_path / "missing", heldout_speaker="george")


def test_collect_ljspeech():
    records = collect_ljspeech(LJSPEECH)
    assert len(records) == 32
    labelled = [r for r in records if r.text is not None]
    assert len(labelled) == 8 and {r.split for r in labelled} == {"test_mismatched"}
    assert {r.split for r in records if r.text is None} == {"unlabelled"}
    by_id = {r.id: r for r in records}
    assert by_id["ljspeech-LJ001-0007"].text.endswith("of about fourteen fifty-five,")  # normalised column


def test_collect_user_dir_with_transcripts(tmp_path):
    (tmp_path / "audio" / "sub").mkdir(parents=True)
    sf.write(tmp_path / "audio" / "a.wav", tone(0.5), 16000)
    sf.write(tmp_path / "audio" / "sub" / "b.flac", tone(0.5), 16000)
    (tmp_path / "audio" / "notes.txt").write_text("not audio")
    (tmp_path / "t.tsv").write_text("a\thello world\nghost\tno file\n", encoding="utf-8")
    records = collect_user_dir(tmp_path / "audio", tmp_path / "t.tsv")
    assert [(r.id, r.text, r.split) for r in records] == [("a", "hello world", "train"), ("b", None, "unlabelled")]
    assert all(Path(r.audio).is_absolute() and r.source == "user" for r in records)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nope")):
        collect_user_dir(tmp_path / "nope", None)
    (tmp_path / "bad.tsv").write_text("a hello\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.tsv:1: expected 'id<TAB>text'"):
        collect_user_dir(tmp_path / "audio", tmp_path / "bad.tsv")


def test_collect_user_manifest_relative_paths(tmp_path):
    (tmp_path / "clips").mkdir()
    sf.write(tmp_path / "clips" / "x.wav", tone(0.5), 16000)
    lines = [
        {"id": "x", "audio": "clips/x.wav", "text": "hi", "speaker": "ann"},
        {"id": "y", "audio": str(tmp_path / "clips" / "x.wav"), "split": "valid"},
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    x, y = collect_user_manifest(manifest)
    assert x.audio == y.audio == str((tmp_path / "clips" / "x.wav").resolve())
    assert (x.text, x.speaker, x.split, x.language) == ("hi", "ann", "train", "und")
    assert (y.text, y.speaker, y.split) == (None, "unknown", "valid")
    kept, rejects = prepare([x, y], tmp_path)
    assert [r.id for r in kept] == ["x", "y"] and rejects == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "x", "audio": "a.wav"', r"m\.jsonl:2: invalid JSON"),
        ('{"audio": "a.wav"}', r"m\.jsonl:2: field 'id' must be a non-empty string"),
        ('{"id": "x", "audio": "a.wav", "transcript": "hi"}', r"m\.jsonl:2: unknown field 'transcript'"),
        ('{"id": "x", "audio": "a.wav", "split": "test"}', r"m\.jsonl:2: field 'split' must be one of"),
    ],
)
def test_collect_user_manifest_errors(tmp_path, line, message):
    (tmp_path / "m.jsonl").write_text('{"id": "ok", "audio": "a.wav"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        collect_user_manifest(tmp_path / "m.jsonl")


def test_non_utf8_text_is_rejected_as_bad_text(tmp_path):
    """Undecodable transcript bytes become U+FFFD in the collectors; prepare_shard rejects just that record."""
    for name in ("good", "bad"):
        sf.write(tmp_path / f"{name}.wav", tone(0.5), 16000)
    (tmp_path / "t.tsv").write_bytes(b"good\tfine text\nbad\tcaf\xe9 latin-1\n")
    manifest = tmp_path / "m.jsonl"
    manifest.write_bytes(
        b'{"id": "good", "audio": "good.wav", "text": "ok"}\n{"id": "bad", "audio": "bad.wav", "text": "caf\xe9"}\n'
    )
    for records in (collect_user_dir(tmp_path, tmp_path / "t.tsv"), collect_user_manifest(manifest)):
        kept, rejects = prepare(records, tmp_path)
        assert [r.id for r in kept] == ["good"]
        assert [(r.id, r.reason) for r in rejects] == [("bad", "bad_text")]
        assert "U+FFFD" in rejects[0].detail


def test_split_duplicates():
    records = [raw("/a/x.wav", id="x"), raw("/b/y.wav", id="y"), raw("/c/x.wav", id="x")]
    unique, rejects = split_duplicates(records)
    assert unique == records[:2]
    assert [(r.id, r.origin, r.reason) for r in rejects] == [("x", "/c/x.wav", "duplicate_id")]
    assert "/a/x.wav" in rejects[0].detail


# --- decoding and rejects ---------------------------------------------------------


def fsdd_file(name: str = "7_jackson_32") -> Path:
    return FSDD / f"{name}.flac"


def test_soundfile_shortens_truncated_wav_silently(tmp_path):
    """Why decode parses the WAV header: libsndfile reports and returns only the frames present."""
    samples, rate = sf.read(fsdd_file(), dtype="int16")
    sf.write(tmp_path / "full.wav", samples, rate, subtype="PCM_16")
    data = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    assert sf.info(tmp_path / "cut.wav").frames < len(samples)
    assert len(sf.read(tmp_path / "cut.wav")[0]) == sf.info(tmp_path / "cut.wav").frames  # no error
    with pytest.raises(AudioError) as err:
        decode(tmp_path / "cut.wav", AudioChecks())
    assert err.value.reason == "truncated" and "announces" in err.value.detail


def test_soundfile_fails_on_truncated_flac(tmp_path):
    """A cut FLAC keeps its full length in sf.info, and reading it raises."""
    data = fsdd_file().read_bytes()
    (tmp_path / "cut.flac").write_bytes(data[: len(data) * 3 // 4])
    assert sf.info(tmp_path / "cut.flac").frames == sf.info(fsdd_file()).frames
    with pytest.raises(sf.LibsndfileError):
        sf.read(tmp_path / "cut.flac")
    with pytest.raises(AudioError) as err:
        decode(tmp_path / "cut.flac", AudioChecks())
    assert err.value.reason == "truncated"


def make_bad_file(kind: str, tmp_path: Path) -> Path:
    """Write a file that ``decode`` must reject as ``kind``."""
    path = tmp_path / f"{kind}.wav"
    if kind == "unreadable":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    elif kind == "truncated":
        sf.write(path, tone(1.0), 16000)
        path.write_bytes(path.read_bytes()[:-1000])
    elif kind == "empty":
        sf.write(path, np.zeros((0, 1), np.float32), 16000)
    elif kind == "silence":
        sf.write(path, np.zeros((16000, 1), np.float32), 16000)
    elif kind == "channels":
        sf.write(path, tone(1.0, channels=3), 16000)
    elif kind == "too_short":
        sf.write(path, tone(0.05), 16000)
    elif kind == "too_long":
        sf.write(path, tone(2.5), 8000)
    return path


@pytest.mark.parametrize("kind", ["unreadable", "truncated", "empty", "silence", "channels", "too_short", "too_long"])
def test_decode_rejects(tmp_path, kind):
    path = make_bad_file(kind, tmp_path)
    with pytest.raises(AudioError) as err:
        decode(path, AudioChecks(max_seconds=2.0))
    assert err.value.reason == kind
    assert str(path) in err.value.detail


def test_stereo_is_averaged_to_mono(tmp_path):
    left, right = tone(1.0)[:, 0], 0.2 * tone(1.0)[:, 0] ** 2  # (T,), (T,)
    sf.write(tmp_path / "stereo.wav", np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    wave = decode(tmp_path / "stereo.wav", AudioChecks())
    assert wave.dtype == np.float32 and wave.shape == left.shape
    np.testing.assert_allclose(wave, (left + right) / 2, atol=1e-6)


@pytest.mark.parametrize(
    ("text", "reason"),
    [(None, "no_text"), ("", "no_text"), ("  \t", "no_text"), ("one\ntwo", "bad_text"), ("bad \ufffd", "bad_text")],
)
def test_text_rejects(tmp_path, text, reason):
    kept, rejects = prepare([raw(fsdd_file(), text=text)], tmp_path, require_text=True)
    assert kept == [] and [r.reason for r in rejects] == [reason]


def test_text_optional_without_require_text(tmp_path):
    kept, rejects = prepare([raw(fsdd_file(), text="  "), raw(fsdd_file("1_theo_20"), text=" hi ")], tmp_path)
    assert [r.text for r in kept] == [None, "hi"] and rejects == []


# --- shards -----------------------------------------------------------------------


def test_prepare_shard_on_fsdd(tmp_path):
    records = [r for r in collect_fsdd(FSDD, heldout_speaker="theo") if r.id.endswith("_20")][::4]  # 13 files
    kept, rejects = prepare(records, tmp_path, require_text=True)
    assert rejects == [] and [r.id for r in kept] == [r.id for r in records]
    waves = load_shard(tmp_path / "shards" / "00000.safetensors")
    assert set(waves) == {r.id for r in kept}
    for record in kept:
        wave = waves[record.id]
        assert record.sample_rate == 16000 and record.shard == "shards/00000.safetensors"
        assert wave.dtype == np.float32 and wave.shape == (record.frames,)
        assert record.frames == 2 * sf.info(record.audio).frames  # 8 kHz -> 16 kHz
        assert record.duration == pytest.approx(sf.info(record.audio).duration)
        assert -1 <= wave.min() and wave.max() <= 1 and np.abs(wave).max() > 0.01
        np.testing.assert_allclose(wave, decode(record.audio, AudioChecks()), atol=1 / 32768)


def test_bad_records_do_not_stop_good_ones(tmp_path):
    bad = [make_bad_file(kind, tmp_path) for kind in ("unreadable", "truncated", "silence", "channels")]
    good = [fsdd_file("0_george_10"), fsdd_file("5_nicolas_30")]
    records = [raw(good[0]), *(raw(p) for p in bad), raw(tmp_path / "missing.wav"), raw(good[1]), raw(good[0])]
    kept, rejects = prepare(records, tmp_path)
    assert [r.id for r in kept] == ["0_george_10", "5_nicolas_30"]
    assert [r.reason for r in rejects] == [
        "unreadable",
        "truncated",
        "silence",
        "channels",
        "unreadable",
        "duplicate_id",
    ]
    assert set(load_shard(tmp_path / "shards" / "00000.safetensors")) == {"0_george_10", "5_nicolas_30"}
    assert not list((tmp_path / "shards").glob(".*"))  # no temp file left behind


def test_all_rejected_shard_is_still_written(tmp_path):
    kept, rejects = prepare([raw(make_bad_file("silence", tmp_path))], tmp_path)
    assert kept == [] and len(rejects) == 1
    assert load_shard(tmp_path / "shards" / "00000.safetensors") == {}


def test_noise_snr_and_determinism(tmp_path):
    record = raw(fsdd_file("3_jackson_40"), noise_snr_db=10.0)
    clean = decode(record.audio, AudioChecks())  # (T,)
    noisy = []
    for seed in (0, 0, 1):
        prepare([record], tmp_path, seed=seed)
        noisy.append(load_shard(tmp_path / "shards" / "00000.safetensors")[record.id])
    measured = 10 * np.log10(np.mean(clean**2) / np.mean((noisy[0] - clean) ** 2))
    assert measured == pytest.approx(10.0, abs=0.5)
    np.testing.assert_array_equal(noisy[0], noisy[1])
    assert not np.array_equal(noisy[0], noisy[2])


def test_shard_batches(tmp_path):
    records = [raw(fsdd_file(f"{d}_george_{i}")) for d in range(3) for i in range(4)]  # about 0.3-0.5 s each
    records.append(raw(tmp_path / "missing.wav"))  # counted as 1 s
    batches = shard_batches(records, max_seconds_per_shard=1.5)
    assert [r for batch in batches for r in batch] == records
    assert batches == shard_batches(records, max_seconds_per_shard=1.5)
    for batch in batches:
        seconds = sum(sf.info(r.audio).duration if Path(r.audio).exists() else 1.0 for r in batch)
        assert seconds <= 1.5 or len(batch) == 1
    assert len(batches) > 2 and batches[-1][-1].id == "missing"


# --- manifest files ---------------------------------------------------------------


def test_jsonl_round_trip(tmp_path):
    records = [
        AudioRecord(
            id="a",
            audio="/x/a.wav",
            sample_rate=16000,
            frames=16000,
            duration=1.0,
            text="தமிழ்",
            speaker="s",
            language="ta",
            split="train",
            source="user",
            synthetic=False,
            shard="shards/0.st",
        ),
        AudioRecord(
            id="b",
            audio="/x/b.wav",
            sample_rate=16000,
            frames=8000,
            duration=0.5,
            text=None,
            speaker="s",
            language="ta",
            split="unlabelled",
            source="user",
            synthetic=True,
            shard="shards/0.st",
        ),
    ]
    assert write_jsonl(tmp_path / "m.jsonl", records) == 2
    assert read_jsonl(tmp_path / "m.jsonl", AudioRecord) == records
    rejects = [Reject(origin="/x/c.wav", id="c", reason="silence", detail="peak", source="user")]
    write_jsonl(tmp_path / "r.jsonl", rejects)
    assert read_jsonl(tmp_path / "r.jsonl", Reject) == rejects


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("frames"), r"m\.jsonl:2: missing field 'frames'"),
        (lambda d: d.update(frames="many"), r"m\.jsonl:2: field 'frames' expected int, found 'many'"),
        (lambda d: d.update(text=3), r"m\.jsonl:2: field 'text' expected str \| None, found 3"),
        (lambda d: d.update(extra=1), r"m\.jsonl:2: unknown field 'extra'"),
        (
            lambda d: d.update(shard="../../etc/passwd"),
            r"m\.jsonl:2: field 'shard' must be a path inside the artifact, found '\.\./\.\./etc/passwd'",
        ),
        (lambda d: d.update(shard="/etc/passwd"), r"m\.jsonl:2: field 'shard' must be a path inside the artifact"),
        (lambda d: d.update(shard="shards/../../x"), r"m\.jsonl:2: field 'shard' must be a path inside the artifact"),
    ],
)
def test_read_jsonl_errors_name_line_and_field(tmp_path, edit, message):
    record = AudioRecord(
        id="a",
        audio="/a.wav",
        sample_rate=16000,
        frames=1,
        duration=1.0,
        text=None,
        speaker="s",
        language="en",
        split="train",
        source="user",
        synthetic=False,
        shard="s",
    )
    bad = dataclasses.asdict(record)
    edit(bad)
    (tmp_path / "m.jsonl").write_text(json.dumps(dataclasses.asdict(record)) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(ValueError, match=message):
        read_jsonl(tmp_path / "m.jsonl", AudioRecord)


def test_non_utf8_id_is_rejected_as_bad_text(tmp_path):
    sf.write(tmp_path / "a.wav", tone(0.5), 16000)
    manifest = tmp_path / "m.jsonl"
    manifest.write_bytes(b'{"id": "ok", "audio": "a.wav"}\n{"id": "caf\xe9", "audio": "a.wav"}\n')
    kept, rejects = prepare(collect_user_manifest(manifest), tmp_path)
    assert [r.id for r in kept] == ["ok"]
    assert [r.reason for r in rejects] == ["bad_text"] and "id 'caf\ufffd' holds U+FFFD" in rejects[0].detail


@pytest.mark.parametrize("rate", [16001, 44101, 8001, 47999])
def test_an_unusual_sample_rate_resamples_with_a_small_kernel(tmp_path, rate):
    """A rate with no small ratio to 16 kHz once built a 1 GB kernel (16001 Hz); now it is a few MB at most."""
    from seqmask.data.audio import _resampler

    assert sum(buffer.numel() for buffer in _resampler(rate, 16000).buffers()) < 4_000_000  # the kernel, if any
    t = np.arange(rate) / rate  # 1 s
    sf.write(tmp_path / "tone.wav", (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), rate)
    wave = decode(tmp_path / "tone.wav", AudioChecks())  # (T,)
    assert abs(len(wave) - 16000) <= 16000 * 1e-3 + 1
    spectrum = np.abs(np.fft.rfft(wave))
    assert abs(np.argmax(spectrum) * 16000 / len(wave) - 1000) < 2  # still a 1 kHz tone


@pytest.mark.parametrize(("rate", "orig", "new"), [(44100, 441, 160), (22050, 441, 320), (8000, 1, 2), (48000, 3, 1)])
def test_common_rates_resample_exactly(rate, orig, new):
    from seqmask.data.audio import _resampler

    resampler = _resampler(rate, 16000)
    assert resampler.orig_freq // resampler.gcd == orig and resampler.new_freq // resampler.gcd == new
