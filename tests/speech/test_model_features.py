"""Filterbanks, batching, architectures and checkpoint loading (real fairseq2 models, tiny)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fairseq2.nn import BatchLayout

from seqmask.speech.archs import ARCHS
from seqmask.speech.config import EncoderConfig
from seqmask.speech.features import Utterance, collate, fbank, length_batches, num_encoder_frames, num_fbank_frames
from seqmask.speech.model import build_asr_model, build_pretrain_model, load_asr, load_pretrained, transfer_encoder
from seqmask.training.checkpoint import save_checkpoint


@pytest.mark.parametrize("samples", [400, 401, 16000, 12345])
def test_fbank_frame_count_and_normalisation(samples):
    wave = np.random.default_rng(0).uniform(-0.5, 0.5, samples).astype(np.float32)
    feats = fbank(wave)
    assert feats.shape == (num_fbank_frames(samples), 80)
    assert torch.allclose(feats.mean(0), torch.zeros(80), atol=1e-4)


def test_too_short_audio_has_no_frames():
    assert num_fbank_frames(399) == 0 and num_encoder_frames(1) == 0


def test_length_batches_cover_every_index_within_budget():
    lengths = list(np.random.default_rng(1).integers(50, 500, size=40))
    batches = length_batches(
        lengths, max_frames=2000, max_size=8, generator=torch.Generator().manual_seed(0), shuffle=True
    )
    assert sorted(i for b in batches for i in b) == list(range(40))
    assert all(len(b) <= 8 and max(lengths[i] for i in b) * len(b) <= 2000 for b in batches)
    again = length_batches(
        lengths, max_frames=2000, max_size=8, generator=torch.Generator().manual_seed(0), shuffle=True
    )
    assert again == batches


def test_collate_pads_and_reports_encoder_lengths():
    utts = [Utterance(f"u{n}", torch.ones(n, 80, dtype=torch.float16), "a", "train", "x", "s") for n in (10, 7)]
    batch = collate(utts)
    assert batch.feats.shape == (2, 10, 80) and batch.feats[1, 7:].abs().sum() == 0
    assert batch.encoder_lens == [5, 3]


def test_every_arch_is_registered_with_the_fbank_front_end():
    assert set(ARCHS) == {"tiny", "mini", "small", "base"}
    assert (
        ARCHS["base"].model_dim == 768 and ARCHS["base"].num_layers == 12 and ARCHS["base"].num_codebook_entries == 320
    )


def test_pretrain_forward_and_encoder_transfer():
    torch.manual_seed(0)
    model = build_pretrain_model(EncoderConfig(arch="tiny"))
    feats = torch.randn(2, 120, 80)
    with torch.compiler.set_stance("force_eager"):
        loss, output = model(feats, BatchLayout.of(feats, [120, 100]))
    assert torch.isfinite(loss.aggregate) and output.temporal_mask.shape == (2, 60)
    asr = build_asr_model(EncoderConfig(arch="tiny"), vocab_size=7)
    transfer_encoder(model, asr)
    assert torch.equal(asr.encoder.layers[0].ffn.inner_proj.weight, model.encoder.layers[0].ffn.inner_proj.weight)
    assert torch.equal(asr.masker.temporal_mask_embed, model.masker.temporal_mask_embed)  # what masked frames look like


def test_checkpoints_round_trip_and_bad_files_fail_clearly(tmp_path):
    model = build_pretrain_model(EncoderConfig(arch="tiny"))
    path = tmp_path / "w2v.pt"
    save_checkpoint(path, model, kind="wav2vec2", arch="tiny")
    loaded = load_pretrained(path, EncoderConfig(arch="tiny"))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    with pytest.raises(FileNotFoundError, match="nope.pt does not exist"):
        load_pretrained(tmp_path / "nope.pt", EncoderConfig(arch="tiny"))
    torch.save({"model": {"foo": torch.zeros(1)}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"other\.pt is not a wav2vec2 \(tiny, pre-LN\) checkpoint"):
        load_pretrained(tmp_path / "other.pt", EncoderConfig(arch="tiny"))
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="text.pt is not a PyTorch checkpoint"):
        load_pretrained(tmp_path / "text.pt", EncoderConfig(arch="tiny"))
    with pytest.raises(ValueError, match="is not a wav2vec2 \\(small, pre-LN\\) checkpoint"):
        load_pretrained(path, EncoderConfig(arch="small"))
    with pytest.raises(ValueError, match="not a seqmask wav2vec2 CTC checkpoint"):
        load_asr(path)


def test_short_utterances_are_packed_per_speaker_with_aligned_scores():
    from seqmask.speech.packing import pack_short_utterances

    def utt(uid, frames, speaker):
        return Utterance(uid, torch.randn(frames, 80).to(torch.float16), "x", "train", "fsdd", speaker)

    utts = [utt("a1", 41, "a"), utt("a2", 37, "a"), utt("a3", 43, "a"), utt("b1", 39, "b"), utt("long", 300, "c")]
    scores = {u.id: torch.rand(u.encoder_frames) for u in utts}
    packed, packed_scores = pack_short_utterances(utts, scores, min_encoder_frames=35)
    by_id = {u.id: u for u in packed}
    assert set(by_id) == {"long", "a1+1", "a3", "b1"}
    assert by_id["a1+1"].encoder_frames == 20 + 18 and torch.equal(
        packed_scores["a1+1"], torch.cat([scores["a1"], scores["a2"]])
    )
    assert all(packed_scores[u.id].shape[0] == u.encoder_frames for u in packed)


def test_packing_keeps_every_frame_whatever_the_input_order():
    """A pack was flushed at the last utterance of the unsorted group, and the sorted tail after it was dropped."""
    from seqmask.speech.packing import pack_short_utterances

    utts = [
        Utterance(uid, torch.randn(40, 80).to(torch.float16), "x", "train", "fsdd", "s") for uid in "caebd"
    ]  # 20 frames each
    packed, _ = pack_short_utterances(utts, None, min_encoder_frames=50)
    assert sum(u.feats.shape[0] for u in packed) == 200
    assert [u.id for u in packed] == ["a+2", "d+1"]  # a, b, c (60 encoder frames), then the remainder d, e
