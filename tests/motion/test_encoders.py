"""Contrastive text-motion encoders: the multi-positive loss, an evaluator that learns to match, and a local CLIP as the
conditioning text encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seqmask.eval.motion import r_precision
from seqmask.motion.captions import TEMPLATES, WordVocabulary, captions
from seqmask.motion.contrastive import ContrastiveUnit, embed_motions, embed_texts, info_nce
from seqmask.motion.encoders import ConvGruMotionEncoder, GruTextEncoder, TextMotionModel, padded_ids
from seqmask.motion.models import SentenceEncoder, load_text_encoder, save_text_encoder
from seqmask.motion.prep import WindowRecord
from seqmask.motion.windows import Windows
from seqmask.training.config import TrainingConfig
from seqmask.training.loop import train


def test_info_nce_counts_every_window_of_a_pair_as_positive() -> None:
    text = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), dim=1)
    motion = text.clone()
    same_pair = torch.tensor([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=torch.bool)
    assert (
        float(info_nce(text, motion, same_pair, 0.01)) < 1e-6
    )  # both windows of the first pair together are all the mass
    assert float(info_nce(text, motion, torch.eye(3, dtype=torch.bool), 0.01)) > 0.4  # one-positive InfoNCE splits it


def test_captions_templates_and_vocabulary() -> None:
    assert captions("bow", "angry") == ["a person bows angrily", "an angry person bows", "someone bows angrily"]
    assert len(captions("walk-left", "old")) == len(TEMPLATES)
    vocabulary = WordVocabulary.from_texts(captions("bow", "angry"))
    assert vocabulary.encode("A person bows sadly")[-1] == WordVocabulary.UNK and vocabulary.unknown(
        ["a person bows sadly"]
    ) == ["sadly"]
    with pytest.raises(ValueError, match="caption '  ' has no words"):
        vocabulary.encode("  ")
    with pytest.raises(ValueError, match="content label 'fly'"):
        captions("fly", "happy")


def test_the_evaluator_learns_to_match_captions_and_motions(tmp_path: Path) -> None:
    pairs = [("bow", "angry"), ("walk", "happy"), ("run", "sad"), ("kick", "normal")]
    generator = torch.Generator().manual_seed(0)
    prototypes = torch.randn(len(pairs), 16, 6, generator=generator)  # (P, T, D)
    records = [
        WindowRecord(clip=f"c{i}", start=0, length=16, content=pairs[i % 4][0], style=pairs[i % 4][1])
        for i in range(32)
    ]
    features = prototypes[torch.arange(32) % 4] + 0.3 * torch.randn(32, 16, 6, generator=generator)
    windows = Windows(features, torch.full((32,), 16), records)
    vocabulary = WordVocabulary.from_texts(c for p in pairs for c in captions(*p))
    model = TextMotionModel(GruTextEncoder(len(vocabulary.words), 16, 8), ConvGruMotionEncoder(6, 16, 8))
    config = TrainingConfig(steps=120, lr=3e-3, warmup_steps=10, checkpoint_every=1000)
    unit, _ = train(
        lambda: ContrastiveUnit(
            model, windows, vocabulary, batch_size=16, temperature=0.1, seed=0, device=torch.device("cpu")
        ),
        config,
        out_dir=tmp_path,
        work_dir=tmp_path / "work",
        device=torch.device("cpu"),
    )
    texts = embed_texts(unit.model, [windows.caption(i) for i in range(32)], vocabulary, torch.device("cpu")).numpy()
    motions = embed_motions(unit.model, features, torch.full((32,), 16), torch.device("cpu")).numpy()
    assert r_precision(texts, motions, batch_size=4, top_k=3)[0] > 0.6  # chance 0.25, and duplicates cap it below 1
    assert padded_ids(["a person bows", "a person"], vocabulary).shape == (2, 3)


def test_a_local_clip_conditions_the_denoiser_and_round_trips(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    words = sorted({w for c in captions("bow", "angry") + captions("walk", "happy") for w in c.split()})
    tokenizer = Tokenizer(
        models.WordLevel(
            {w: i + 3 for i, w in enumerate(words)} | {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": len(words) + 3},
            unk_token="<unk>",
        )
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    clip = tmp_path / "clip"
    clip.mkdir()
    tokenizer.save(str(clip / "tokenizer.json"))
    (clip / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "pad_token": "<pad>", "unk_token": "<unk>"})
    )
    config = CLIPTextConfig(
        vocab_size=len(words) + 4,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=16,
        projection_dim=8,
        eos_token_id=2,
        pad_token_id=0,
        bos_token_id=1,
    )
    CLIPTextModelWithProjection(config).save_pretrained(clip)
    encoder = SentenceEncoder(clip=str(clip))
    embedded = encoder.embed(["a person bows angrily", "an happy person walks"])
    assert embedded.shape == (2, 8) and torch.allclose(embedded.norm(dim=1), torch.ones(2))
    save_text_encoder(tmp_path / "saved", encoder)
    again = load_text_encoder(tmp_path / "saved", features=6)
    assert again.identity == {"clip": str(clip)} and torch.allclose(
        again.embed(["a person bows angrily"]), embedded[:1], atol=1e-6
    )


def test_a_clip_that_is_not_a_local_directory_is_refused_without_a_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint may record a hub id (``openai/clip-vit-base-patch32``): it is refused before transformers could
    fetch it."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)  # no folder of that name here
    with pytest.raises(
        FileNotFoundError,
        match=r"CLIP text encoder 'openai/clip-vit-base-patch32': expected a local Hugging Face model "
        r"directory \(only local directories are loaded, nothing is downloaded\), found no such directory",
    ):
        SentenceEncoder(clip="openai/clip-vit-base-patch32").embed(["a person bows"])
