"""The command line on bad input: errors name the file and the problem, and nothing raises a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from seqmask.cli import main
from seqmask.store import ArtifactStore, make_key


@pytest.fixture
def store(tmp_path, monkeypatch) -> ArtifactStore:
    monkeypatch.setenv("SEQMASK_HOME", str(tmp_path / "store"))
    return ArtifactStore()


def publish(store: ArtifactStore, name: str) -> str:
    key = make_key(stage=name, version=1, config={}, code_hash="h", inputs={}, packages={})

    def build(out: Path) -> None:
        (out / f"{name}.txt").write_text(name)

    store.get_or_build(key, stage=name, build=build, lineage={"inputs": {}})
    return key


def test_artifacts_commands_show_a_corrupt_lineage_and_go_on(store, capsys):
    good, bad = publish(store, "good"), publish(store, "bad")
    (store.objects / bad / "lineage.json").write_text('{"stage": ')
    assert main(["artifacts", "ls"]) == 0
    out = capsys.readouterr().out
    assert f"{bad[:12]}  CORRUPT: lineage.json: unreadable" in out and f"{good[:12]}  good" in out
    assert main(["artifacts", "show", bad]) == 1
    assert f"{bad[:12]}: CORRUPT: lineage.json: unreadable" in capsys.readouterr().out
    assert main(["artifacts", "gc", "--dry-run"]) == 0
    assert f"objects/{bad}" in capsys.readouterr().out
    assert (store.objects / bad).is_dir()


def test_a_corrupt_run_record_is_named(store, capsys):
    (store.runs / "20260101T000000-abcdef.json").write_text("{truncated")
    assert main(["status"]) == 0
    assert "20260101T000000-abcdef.json is unreadable" in capsys.readouterr().out
    assert main(["rerun"]) == 2
    assert "20260101T000000-abcdef.json is unreadable" in capsys.readouterr().err
    assert main(["artifacts", "gc"]) == 2  # it cannot know what that run used: it removes nothing
    assert "fix or delete that record first" in capsys.readouterr().err


def test_a_missing_model_path_is_reported_as_missing(store, tmp_path, capsys):
    assert main(["transcribe", "--model", str(tmp_path / "nope" / "model.pt"), "a.wav"]) == 2
    err = capsys.readouterr().err
    assert "nope/model.pt: no such file or directory" in err and "prefix" not in err
    (tmp_path / "empty").mkdir()
    assert main(["transcribe", "--model", str(tmp_path / "empty"), "a.wav"]) == 2
    assert "the directory holds no model.pt" in capsys.readouterr().err


@pytest.fixture
def ctc_model(tmp_path) -> Path:
    from seqmask.speech.config import EncoderConfig
    from seqmask.speech.model import build_asr_model
    from seqmask.speech.vocab import Vocabulary
    from seqmask.training.checkpoint import save_checkpoint

    vocab, encoder = Vocabulary.chars(["one two"]), EncoderConfig(arch="tiny")
    path = tmp_path / "model.pt"
    save_checkpoint(
        path,
        build_asr_model(encoder, len(vocab.tokens)),
        kind="wav2vec2_asr",
        arch="tiny",
        encoder=vars(encoder),
        vocab=vocab.to_dict(),
    )
    return path


def test_bad_audio_gets_a_line_each_and_a_failing_status(store, tmp_path, ctc_model, capsys):
    good = tmp_path / "good.wav"
    sf.write(good, 0.3 * np.sin(np.arange(16000) / 10).astype(np.float32), 16000)
    (tmp_path / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    assert (
        main(
            [
                "transcribe",
                "--model",
                str(ctc_model),
                str(good),
                str(tmp_path / "broken.wav"),
                str(tmp_path / "gone.wav"),
            ]
        )
        == 1
    )
    out, err = capsys.readouterr()
    assert out.startswith(f"{good}\t")
    assert (
        "skipped" in err
        and "broken.wav: unreadable" in err
        and "gone.wav: unreadable" in err
        and "Traceback" not in err
    )

    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        "".join(
            json.dumps({"id": i, "audio": a, "text": "one"}) + "\n" for i, a in (("g", "good.wav"), ("b", "broken.wav"))
        )
    )
    assert main(["eval", "--model", str(ctc_model), "--manifest", str(manifest)]) == 1
    out, err = capsys.readouterr()
    assert "| all | 1 |" in out and "skipped b: unreadable" in err


def test_the_model_is_checked_before_any_audio_is_decoded(store, tmp_path, capsys):
    (tmp_path / "bad.pt").write_text("not a model")
    (tmp_path / "m.jsonl").write_text('{"id": "x", "audio": "missing.wav", "text": "a"}\n')
    assert main(["eval", "--model", str(tmp_path / "bad.pt"), "--manifest", str(tmp_path / "m.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "bad.pt is not a PyTorch checkpoint" in err and "missing.wav" not in err


def test_set_errors_name_the_override_not_the_preset(store, capsys):
    assert main(["run", "speech-prep", "--preset", "tiny", "--set", "speech_prep.shard_secs=3"]) == 2
    err = capsys.readouterr().err
    assert "--set speech_prep.shard_secs=3: unknown key 'speech_prep.shard_secs'" in err and "tiny.yaml" not in err


def test_relative_corpus_paths_mean_the_current_directory_and_are_checked_first(store, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "speech-prep", "--preset", "tiny", "--manifest", "mine.jsonl"]) == 2
    err = capsys.readouterr().err
    assert (
        f"speech_prep.user.manifest: expected an existing file or directory, found '{tmp_path / 'mine.jsonl'}'" in err
    )
    assert not any(store.runs.iterdir())  # nothing started
