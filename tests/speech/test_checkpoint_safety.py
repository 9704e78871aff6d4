"""No checkpoint file runs code: every model path is read with torch's weights-only loader."""

from __future__ import annotations

import argparse
import contextlib
import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from seqmask.cli import main
from seqmask.speech.config import EncoderConfig
from seqmask.speech.model import build_pretrain_model, load_asr, load_pretrained
from seqmask.training.checkpoint import read_checkpoint


class _Payload:
    """Unpickling this creates ``marker``: what an attacker's checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


@pytest.fixture(params=["pickle", "torch.save"])
def payload(request, tmp_path) -> tuple[Path, Path]:
    """A checkpoint that would create a marker file when unpickled, as a plain pickle and as a torch.save zip."""
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    content = {"model": {"w": torch.zeros(1)}, "seqmask": {"kind": "wav2vec2_asr"}, "cfg": _Payload(marker)}
    if request.param == "pickle":
        path.write_bytes(pickle.dumps(content))
    else:
        torch.save(content, path)
    return path, marker


def test_the_payload_really_runs_code_when_unpickled(payload):
    path, marker = payload
    with contextlib.suppress(RuntimeError):  # a plain pickle runs before torch's legacy loader finds no magic number
        torch.load(path, weights_only=False)  # what the old fallback did
    assert marker.exists()


def test_a_pickled_payload_is_refused_with_a_way_to_convert(payload):
    path, marker = payload
    for load in (read_checkpoint, load_asr, lambda p: load_pretrained(p, EncoderConfig(arch="tiny"))):
        with pytest.raises(
            ValueError, match=r"evil\.pt holds pickled objects beyond tensors \(builtins\.exec\).*convert it"
        ):
            load(path)
    assert not marker.exists()


def test_transcribe_and_eval_refuse_a_payload_model(payload, tmp_path, capsys):
    path, marker = payload
    audio = tmp_path / "a.wav"
    sf.write(audio, np.zeros(16000, dtype=np.float32) + 0.1, 16000)
    (tmp_path / "m.jsonl").write_text(f'{{"id": "a", "audio": "{audio}", "text": "a"}}\n')
    assert main(["transcribe", "--model", str(path), str(audio)]) == 2
    assert main(["eval", "--model", str(path), "--manifest", str(tmp_path / "m.jsonl")]) == 2
    assert "holds pickled objects beyond tensors" in capsys.readouterr().err
    assert not marker.exists()


def test_fairseq_training_arguments_are_allowed(tmp_path):
    """fairseq (v1) checkpoints keep their arguments in an argparse.Namespace: plain values, read safely."""
    model = build_pretrain_model(EncoderConfig(arch="tiny"))
    path = tmp_path / "fairseq.pt"
    torch.save({"model": model.state_dict(), "args": argparse.Namespace(arch="wav2vec2", lr=[5e-4])}, path)
    checkpoint = read_checkpoint(path)
    assert checkpoint["args"].lr == [5e-4]
    assert torch.equal(
        load_pretrained(path, EncoderConfig(arch="tiny")).encoder.layers[0].ffn.inner_proj.weight,
        model.encoder.layers[0].ffn.inner_proj.weight,
    )


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04broken zip"])
def test_files_that_are_no_checkpoint_say_so(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(
        ValueError, match=r"bad\.pt is not a PyTorch checkpoint: expected a file written by torch\.save"
    ):
        read_checkpoint(path)


def test_a_checkpoint_that_is_not_a_dict_is_refused(tmp_path):
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(ValueError, match=r"list\.pt: expected a dict at the top level, found list"):
        read_checkpoint(tmp_path / "list.pt")
