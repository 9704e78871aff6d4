"""CtcScorer and score_utterances: frame confidences at the encoder rate."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from seqmask.speech.config import EncoderConfig
from seqmask.speech.features import SpeechBatch, Utterance
from seqmask.speech.model import build_asr_model
from seqmask.speech.scorer import CtcScorer, score_utterances
from seqmask.speech.vocab import Vocabulary
from seqmask.training.checkpoint import save_checkpoint

CPU = torch.device("cpu")


def utterances(frame_counts=(41, 60, 23, 90, 64)) -> list[Utterance]:
    """Random filterbanks; odd counts lose their last filterbank frame to the 2-frame stacking."""
    generator = torch.Generator().manual_seed(0)
    return [
        Utterance(f"u{i}", torch.randn(n, 80, generator=generator).to(torch.float16), "ab", "train", "synthetic", "spk")
        for i, n in enumerate(frame_counts)
    ]


class OffsetScorer:
    """A toy FrameScorer giving ``offset`` more frames than the encoder (fewer if negative)."""

    def __init__(self, offset: int, *, nan: bool = False) -> None:
        self.offset, self.nan = offset, nan

    def posteriors(self, batch: SpeechBatch) -> Tensor:
        frames = max(batch.encoder_lens) + self.offset
        steps = torch.arange(frames, dtype=torch.float32)  # (S,)
        logits = torch.stack([steps, -steps, torch.zeros(frames)], dim=-1).expand(
            len(batch.ids), -1, -1
        )  # (S, 3) -> (N, S, 3)
        probs = logits.softmax(dim=-1).clone()  # (N, S, 3)
        if self.nan:
            probs[:, 0, 0] = float("nan")
        return probs


def test_ctc_scorer_gives_one_confidence_in_0_1_per_encoder_frame(tmp_path):
    model = build_asr_model(EncoderConfig(arch="tiny"), 4)
    save_checkpoint(
        tmp_path / "model.pt",
        model,
        kind="wav2vec2_asr",
        arch="tiny",
        encoder=vars(EncoderConfig(arch="tiny")),
        vocab=Vocabulary.chars(["ab"]).to_dict(),
    )
    scorer = CtcScorer.load(tmp_path / "model.pt", CPU)
    utts = utterances()
    calls = []
    scores = score_utterances(scorer, utts, max_frames=130, progress=lambda done, total: calls.append((done, total)))
    assert set(scores) == {u.id for u in utts}
    for u in utts:
        assert scores[u.id].shape == (u.encoder_frames,) and scores[u.id].dtype == torch.float32
        assert bool(((scores[u.id] >= 1 / 4) & (scores[u.id] <= 1)).all())
    assert len(calls) > 1 and calls[-1] == (len(utts), len(utts))


def test_ctc_scorer_load_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        CtcScorer.load(tmp_path / "missing.pt")


def test_scorer_frames_off_by_more_than_one_raise_with_both_counts():
    utts = utterances((20, 40))  # 10 and 20 encoder frames, one batch
    with pytest.raises(ValueError, match=r"'u1'.*scorer frames 23 != encoder frames 20"):
        score_utterances(OffsetScorer(3), utts)


@pytest.mark.parametrize("offset", [1, -1])
def test_scorer_frames_off_by_one_are_fitted(offset):
    utts = utterances((20, 40))
    scores = score_utterances(OffsetScorer(offset), utts)
    assert [scores[u.id].shape[0] for u in utts] == [10, 20]
    if offset == -1:  # the missing last frame repeats the one before it
        assert scores["u1"][-1] == scores["u1"][-2]


def test_nan_posteriors_name_the_utterance():
    with pytest.raises(ValueError, match=r"NaN posteriors for utterance 'u0'"):
        score_utterances(OffsetScorer(0, nan=True), utterances((20, 40)))


def test_nonblank_confidence_is_the_max_over_the_other_classes():
    utts = utterances((20, 40))
    full = score_utterances(OffsetScorer(0), utts)
    nonblank = score_utterances(OffsetScorer(0), utts, confidence="nonblank")
    steps = torch.arange(20, dtype=torch.float32)
    probs = torch.stack([steps, -steps, torch.zeros(20)], dim=-1).softmax(dim=-1)  # (S, 3), class 0 = blank
    assert torch.allclose(nonblank["u1"], probs[:, 1:].amax(dim=-1)) and torch.allclose(full["u1"], probs.amax(dim=-1))
    with pytest.raises(ValueError, match="confidence: expected one of"):
        score_utterances(OffsetScorer(0), utts, confidence="loudest")
