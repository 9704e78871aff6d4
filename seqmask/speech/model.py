"""wav2vec 2.0 models (fairseq2) of the seqmask architectures, their checkpoints and encoder transfer.

Every seqmask architecture uses fairseq2's filterbank front end (80 log-mel channels,
2 frames stacked: 20 ms per encoder frame), as w2v-BERT does: at CPU sizes the
waveform CNN would dominate compute.  ``base`` has the paper-scale wav2vec 2.0 base
Transformer (768 dims, 12 layers, 2 x 320 codebook entries, 100 distractors).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from fairseq2.models.transformer import TransformerNormOrder
from fairseq2.models.wav2vec2 import (
    Wav2Vec2Config,
    Wav2Vec2EncoderConfig,
    Wav2Vec2Model,
)
from fairseq2.models.wav2vec2.asr import Wav2Vec2AsrConfig, Wav2Vec2AsrModel
from fairseq2.models.wav2vec2.asr.factory import create_wav2vec2_asr_model
from fairseq2.models.wav2vec2.factory import create_wav2vec2_model
from fairseq2.models.wav2vec2.interop import convert_wav2vec2_state_dict
from torch import nn

from seqmask.fairseq2_runtime import init_fairseq2_runtime
from seqmask.masking.spans import lenient_row_mask
from seqmask.speech.archs import arch_sizes
from seqmask.speech.config import CtcConfig, EncoderConfig
from seqmask.speech.features import FBANK_STRIDE, NUM_MEL_BINS
from seqmask.training.checkpoint import read_checkpoint


def encoder_config(encoder: EncoderConfig) -> Wav2Vec2EncoderConfig:
    """fairseq2 encoder config of ``encoder`` with the filterbank front end."""
    a = arch_sizes(encoder.arch)
    return Wav2Vec2EncoderConfig(
        model_dim=a.model_dim,
        feature_dim=NUM_MEL_BINS * FBANK_STRIDE,
        use_fbank=True,
        num_fbank_channels=NUM_MEL_BINS,
        fbank_stride=FBANK_STRIDE,
        sample_fbank_every_k=1,
        pos_conv_kernel_size=a.pos_conv_kernel,
        num_pos_conv_groups=a.pos_conv_groups,
        num_encoder_layers=a.num_layers,
        num_encoder_attn_heads=a.num_heads,
        ffn_inner_dim=a.ffn_dim,
        dropout_p=encoder.dropout,
        attn_dropout_p=encoder.dropout,
        layer_drop_p=0.0 if a.num_layers < 12 else 0.05,
        norm_order=TransformerNormOrder.PRE if encoder.norm_order == "pre" else TransformerNormOrder.POST,
    )


def pretrain_config(
    encoder: EncoderConfig,
    *,
    span_len: int = 10,
    max_mask_prob: float = 0.65,
    num_distractors: int | None = None,
    temperature: tuple[float, float, float] = (2.0, 0.5, 0.999995),
) -> Wav2Vec2Config:
    """fairseq2 wav2vec 2.0 pretraining config of ``encoder``; ``temperature`` is (start, end, decay per step)."""
    a = arch_sizes(encoder.arch)
    return Wav2Vec2Config(
        encoder_config=encoder_config(encoder),
        final_dim=a.final_dim,
        quantized_dim=a.final_dim,
        num_codebook_entries=a.num_codebook_entries,
        temporal_mask_span_len=span_len,
        max_temporal_mask_prob=max_mask_prob,
        num_distractors=a.num_distractors if num_distractors is None else num_distractors,
        codebook_sampling_temperature=temperature,
    )


def build_pretrain_model(encoder: EncoderConfig, *, masker: nn.Module | None = None, **config: Any) -> Wav2Vec2Model:
    """A randomly initialised wav2vec 2.0 model (``config``: see :func:`pretrain_config`); ``masker`` replaces
    fairseq2's standard masker when given."""
    init_fairseq2_runtime()
    model = create_wav2vec2_model(pretrain_config(encoder, **config))
    if masker is not None:
        masker.load_state_dict(model.masker.state_dict())  # same learned mask embedding init
        model.masker = masker
    return model


def build_asr_model(encoder: EncoderConfig, vocab_size: int, ctc: CtcConfig | None = None) -> Wav2Vec2AsrModel:
    """A wav2vec 2.0 CTC model (randomly initialised) with ``vocab_size`` outputs (blank = 0) and ``ctc``'s masks."""
    ctc = ctc or CtcConfig()
    config = Wav2Vec2AsrConfig(
        encoder_config=encoder_config(encoder),
        target_vocab_size=vocab_size,
        final_dropout_p=ctc.final_dropout,
        temporal_mask_span_len=ctc.time_mask.span_len,
        max_temporal_mask_prob=ctc.time_mask.max_mask_prob,
        min_num_temporal_mask_spans=ctc.time_mask.min_num_spans,
        spatial_mask_span_len=ctc.channel_mask.span_len,
        max_spatial_mask_prob=ctc.channel_mask.max_mask_prob,
        min_num_spatial_mask_spans=ctc.channel_mask.min_num_spans,
    )
    init_fairseq2_runtime()
    model = create_wav2vec2_asr_model(config)
    model.masker.mask_factory = lenient_row_mask  # short utterances (FSDD digits) train unmasked instead of raising
    return model


def transfer_encoder(pretrained: Wav2Vec2Model, asr: Wav2Vec2AsrModel) -> None:
    """Copy the pretrained front end, Transformer encoder and learned mask embedding into a CTC model.

    The mask embedding is what the encoder learned to read at masked frames; fine-tuning masks
    frames too, so it starts from it (as fairseq's wav2vec 2.0 fine-tuning does).
    """
    asr.encoder_frontend.load_state_dict(pretrained.encoder_frontend.state_dict())
    asr.encoder.load_state_dict(pretrained.encoder.state_dict())
    with torch.no_grad():
        asr.masker.temporal_mask_embed.copy_(pretrained.masker.temporal_mask_embed)


def load_state(model: nn.Module, state: dict[str, Any], *, path: Path, what: str) -> None:
    """Load ``state`` into ``model``, naming the file and the mismatching keys on failure."""
    own = model.state_dict()
    mismatched = [k for k, v in state.items() if k in own and hasattr(v, "shape") and v.shape != own[k].shape]
    if mismatched:
        k = mismatched[0]
        raise ValueError(
            f"{path} is not a {what} checkpoint: {len(mismatched)} tensors have other shapes "
            f"(e.g. {k}: {tuple(state[k].shape)} in the file, {tuple(own[k].shape)} expected)"
        )
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"{path} is not a {what} checkpoint: {len(result.missing_keys)} missing keys "
            f"(e.g. {result.missing_keys[:3]}), {len(result.unexpected_keys)} unexpected keys (e.g. "
            f"{result.unexpected_keys[:3]})"
        )


def load_pretrained(path: Path, encoder: EncoderConfig, **config: Any) -> Wav2Vec2Model:
    """A wav2vec 2.0 model of ``encoder`` from a local fairseq2 or fairseq checkpoint (to continue pretraining, or
    whose encoder to fine-tune); ``config`` as for :func:`pretrain_config`."""
    checkpoint = read_checkpoint(path)
    if "model" not in checkpoint:
        raise ValueError(f"{path} is not a wav2vec2 checkpoint: expected a dict with a 'model' state dict")
    model = build_pretrain_model(encoder, **config)
    state = convert_wav2vec2_state_dict(
        dict(checkpoint), pretrain_config(encoder, **{k: v for k, v in config.items() if k != "masker"})
    )
    load_state(model, state, path=Path(path), what=f"wav2vec2 ({encoder.arch}, {encoder.norm_order}-LN)")
    return model


def load_asr(path: Path) -> tuple[Wav2Vec2AsrModel, dict[str, Any]]:
    """A seqmask CTC model and its metadata (encoder, vocabulary) from a checkpoint written by ``save_checkpoint``."""
    checkpoint = read_checkpoint(path)
    meta = checkpoint.get("seqmask", {})
    if meta.get("kind") != "wav2vec2_asr" or "vocab" not in meta or not isinstance(meta.get("encoder"), dict):
        raise ValueError(
            f"{path} is not a seqmask wav2vec2 CTC checkpoint (expected seqmask.kind 'wav2vec2_asr', an encoder and a "
            "vocab)"
        )
    encoder = EncoderConfig(**meta["encoder"])
    model = build_asr_model(encoder, len(meta["vocab"]["tokens"]))
    load_state(
        model, checkpoint["model"], path=Path(path), what=f"wav2vec2 CTC ({encoder.arch}, {encoder.norm_order}-LN)"
    )
    return model, meta
