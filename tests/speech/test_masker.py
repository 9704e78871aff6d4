"""The fairseq2 adapters of the pure masks: Ask2Mask inside a tiny wav2vec 2.0 model, and the lenient span-mask
factory."""

from __future__ import annotations

import functools

import pytest
import torch
from fairseq2.models.wav2vec2.config import Wav2Vec2Config, Wav2Vec2EncoderConfig
from fairseq2.models.wav2vec2.factory import create_wav2vec2_model
from fairseq2.models.wav2vec2.model import Wav2Vec2Model
from fairseq2.nn import BatchLayout

from seqmask.masking.ask2mask import ask2mask_mask
from seqmask.masking.params.spans import Ask2MaskParams
from seqmask.masking.spans import lenient_row_mask
from seqmask.speech.masker import Ask2MaskMasker
from seqmask.speech.pretrain import masked_features


def random_scores(seed: int, shape: tuple[int, int]) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(10**6 + seed))


# --- the masker inside a tiny fairseq2 wav2vec 2.0 model ---

SAMPLES_PER_FRAME = 20  # product of the feature extractor strides below


def tiny_wav2vec2() -> Wav2Vec2Model:
    """A 2-layer, 32-dim wav2vec 2.0 built by fairseq2's own factory (about 25k parameters)."""
    encoder = Wav2Vec2EncoderConfig(
        model_dim=32,
        feature_dim=16,
        feature_extractor_layer_descs=[(16, 10, 5), (16, 3, 2), (16, 2, 2)],
        pos_conv_kernel_size=16,
        num_pos_conv_groups=4,
        num_encoder_layers=2,
        num_encoder_attn_heads=2,
        ffn_inner_dim=64,
        dropout_p=0.0,
        attn_dropout_p=0.0,
        layer_drop_p=0.0,
    )
    config = Wav2Vec2Config(
        encoder_config=encoder,
        final_dim=16,
        quantized_dim=16,
        num_codebooks=2,
        num_codebook_entries=8,
        num_distractors=5,
    )
    return create_wav2vec2_model(config)


@pytest.fixture(scope="module")
def model() -> Wav2Vec2Model:
    torch.manual_seed(0)
    model = tiny_wav2vec2()
    model.masker = Ask2MaskMasker(model.model_dim, Ask2MaskParams(selection="sample"))
    return model


@pytest.fixture(scope="module")
def audio() -> tuple[torch.Tensor, BatchLayout, list[int]]:
    """Random waveforms (N, samples), their layout and their encoder frame counts."""
    samples = [2000, 1800, 1500]
    waveforms = torch.randn(len(samples), max(samples), generator=torch.Generator().manual_seed(0))
    frames = [99, 89, 74]  # what the feature extractor makes of `samples`
    return waveforms, BatchLayout.of(waveforms, samples), frames


def run_model(model: Wav2Vec2Model, waveforms: torch.Tensor, layout: BatchLayout, scores: torch.Tensor | None):
    """The pretraining forward with the scores given to the masker explicitly, as the pretraining unit does."""
    # The quantizer torch.compile()s a helper on every call; eager keeps the test fast.
    with torch.compiler.set_stance("force_eager"):
        if scores is None:
            return model(waveforms, layout)
        features = masked_features(model, waveforms, layout, functools.partial(model.masker, scores=scores))
        output = model.quantize_and_contrast(features)
        return model.compute_loss(output), output


def test_masker_is_a_drop_in() -> None:
    torch.manual_seed(0)
    model = tiny_wav2vec2()
    keys = set(model.state_dict())
    model.masker = Ask2MaskMasker(model.model_dim)
    assert set(model.state_dict()) == keys
    assert model.masker.temporal_mask_embed.shape == (model.model_dim,)


def test_masker_in_model_forward(model: Wav2Vec2Model, audio: tuple[torch.Tensor, BatchLayout, list[int]]) -> None:
    waveforms, layout, frames = audio
    scores = random_scores(5, (3, max(frames)))
    model.masker.generator = torch.Generator().manual_seed(11)
    loss, output = run_model(model, waveforms, layout, scores)

    assert output.encoder_output_layout.seq_lens == frames
    assert torch.isfinite(loss.aggregate)
    expected = ask2mask_mask(torch.tensor(frames), scores, model.masker.params, torch.Generator().manual_seed(11))
    assert torch.equal(output.temporal_mask, expected)


def test_masker_without_scores_refuses_to_run(
    model: Wav2Vec2Model, audio: tuple[torch.Tensor, BatchLayout, list[int]]
) -> None:
    waveforms, layout, _ = audio
    with pytest.raises(TypeError, match="scores"):
        run_model(model, waveforms, layout, None)  # fairseq2's own forward has no scores to give


def test_masker_rejects_scores_three_frames_off(
    model: Wav2Vec2Model, audio: tuple[torch.Tensor, BatchLayout, list[int]]
) -> None:
    waveforms, layout, frames = audio
    with pytest.raises(ValueError, match=f"scorer frames {max(frames) + 3} != encoder frames {max(frames)}"):
        run_model(model, waveforms, layout, random_scores(0, (3, max(frames) + 3)))


@pytest.mark.parametrize("off_by", [-1, 1])
def test_masker_fits_scores_one_frame_off(
    model: Wav2Vec2Model, audio: tuple[torch.Tensor, BatchLayout, list[int]], off_by: int
) -> None:
    waveforms, layout, frames = audio
    loss, output = run_model(model, waveforms, layout, random_scores(0, (3, max(frames) + off_by)))
    assert torch.isfinite(loss.aggregate)
    assert output.temporal_mask.shape == (3, max(frames))


def test_masker_rejects_a_batch_too_short_to_mask(model: Wav2Vec2Model) -> None:
    waveforms = torch.randn(2, 600)
    layout = BatchLayout.of(waveforms, [600, 500])  # 29 and 24 frames: 1 span fits, min_num_spans is 2
    with pytest.raises(ValueError, match=r"cannot mask this batch.*\[29, 24\]"):
        run_model(model, waveforms, layout, random_scores(0, (2, 29)))


def test_lenient_row_mask_leaves_unmaskable_batches_unmasked():
    short = lenient_row_mask((2, 16), 10, 0.65, row_lens=torch.tensor([16, 12]), min_num_spans=2)
    assert short.shape == (2, 16) and not short.any()
    long = lenient_row_mask((2, 200), 10, 0.65, row_lens=torch.tensor([200, 150]), min_num_spans=2)
    assert long.sum(1).tolist()[0] == long.sum(1).tolist()[1] > 0
