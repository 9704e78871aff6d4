"""Vocabulary, greedy decoding and CTC training (a unit of the shared loop) on tiny synthetic speech."""

from __future__ import annotations

import json
import math

import pytest
import torch

from seqmask.config import validate
from seqmask.data.text import normalize_text
from seqmask.masking.params.spans import SpanMask
from seqmask.schema import ConfigError
from seqmask.speech.config import EncoderConfig, FinetuneConfig
from seqmask.speech.ctc import ctc_frames_needed, train_ctc
from seqmask.speech.decode import greedy_decode, transcribe
from seqmask.speech.features import Utterance
from seqmask.speech.model import build_pretrain_model, load_asr
from seqmask.speech.readers import metrics_file, model_file
from seqmask.speech.vocab import BLANK, WORD_BOUNDARY, Vocabulary
from seqmask.training.config import TrainingConfig

TEXTS = ("a", "b", "ab", "ba", "a b", "b a")
FRAMES_PER_LABEL = 16
"""Filterbank frames of one spoken label: 8 encoder frames."""


def synthetic_utterance(uid: str, text: str, seed: int) -> Utterance:
    """Filterbanks where "a" lights the low channels, "b" the high ones, a space is silence."""
    generator = torch.Generator().manual_seed(seed)
    segments = []
    for ch in f" {text} ":
        segment = torch.zeros(FRAMES_PER_LABEL, 80)  # (16, 80)
        if ch == "a":
            segment[:, :40] = 2.0
        elif ch == "b":
            segment[:, 40:] = 2.0
        segments.append(segment)
    feats = torch.cat(segments) + 0.1 * torch.randn(
        len(segments) * FRAMES_PER_LABEL, 80, generator=generator
    )  # (F, 80)
    return Utterance(uid, feats.to(torch.float16), text, "train", "synthetic", "spk")


def dataset(n: int = 12) -> list[Utterance]:
    return [synthetic_utterance(f"u{i:02d}", TEXTS[i % len(TEXTS)], i) for i in range(n)]


def tiny_config(**overrides) -> FinetuneConfig:
    """A tiny CTC config; ``overrides`` may name fields of the config or of its training config."""
    train = dict(steps=30, lr=3e-3, warmup_steps=3, log_every=5, checkpoint_every=100)
    model = dict(
        max_frames=2000,
        max_batch_size=6,
        time_mask=SpanMask(span_len=10, max_mask_prob=0.3, min_num_spans=2),
        channel_mask=SpanMask(span_len=8, max_mask_prob=0.1, min_num_spans=2),
        freeze_encoder_steps=0,
    )
    own = {k: v for k, v in overrides.items() if k not in train and k != "steps"}
    training = TrainingConfig(**{**train, **{k: v for k, v in overrides.items() if k in train}})
    return FinetuneConfig(**{**model, **own}, train=training)


def fit(config: FinetuneConfig, train, vocab, tmp_path, name: str = "out", **kwargs):
    return train_ctc(
        config,
        ENCODER,
        train,
        vocab,
        out_dir=tmp_path / name,
        work_dir=tmp_path / f"{name}-ckpt",
        device=CPU,
        freeze_encoder_steps=config.freeze_encoder_steps,
        **kwargs,
    )


CPU = torch.device("cpu")
ENCODER = EncoderConfig(arch="tiny")


# --- vocabulary ---------------------------------------------------------------------


def test_normalize_text_keeps_letters_of_any_script_digits_and_apostrophes():
    assert normalize_text("  Héllo,  WORLD!! it\u2019s \uff12\uff10 ") == "héllo world it's 20"
    assert normalize_text("नमस्ते, दुनिया") == "नमस्ते दुनिया"
    assert normalize_text("--- ?!") == ""


def test_char_vocabulary_round_trips_through_json():
    vocab = Vocabulary.chars(["Hello, World!", "it's 42"])
    assert vocab.tokens[:2] == (BLANK, WORD_BOUNDARY)
    assert list(vocab.tokens[2:]) == sorted("'24dehilorstw")
    ids = vocab.encode("Hello  world, it's 42!")
    assert vocab.decode(ids) == "hello world it's 42"
    restored = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert restored.tokens == vocab.tokens
    assert restored.encode("hello world") == vocab.encode("hello world")


def test_sentencepiece_vocabulary_round_trips_through_json(tmp_path):
    texts = ["the cat sat on the mat", "the dog ate the cat's food", "a cat and a dog"] * 5
    vocab = Vocabulary.sentencepiece(texts, vocab_size=30, work_dir=tmp_path)
    assert vocab.tokens[0] == BLANK and 2 < len(vocab.tokens) <= 31
    ids = vocab.encode("The cat ate the dog's mat.")
    assert 0 not in ids
    assert vocab.decode(ids) == "the cat ate the dog's mat"
    restored = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert restored.encode("a dog sat") == vocab.encode("a dog sat")
    assert restored.decode(ids) == "the cat ate the dog's mat"


def test_unknown_character_names_the_character_and_the_text(tmp_path):
    with pytest.raises(ValueError, match=r"'x' of text 'a box'"):
        Vocabulary.chars(["a bob"]).encode("a box")
    with pytest.raises(ValueError, match=r"'z' of text 'the zoo'"):
        Vocabulary.sentencepiece(["the cat sat on the mat"] * 3, vocab_size=20, work_dir=tmp_path).encode("the zoo")


# --- decoding -----------------------------------------------------------------------


def test_greedy_decode_collapses_repeats_and_drops_blanks():
    vocab = Vocabulary.chars(["ab"])  # <blank>=0, |=1, a=2, b=3
    paths = [[2, 2, 0, 2, 1, 3, 3, 0], [3, 0, 0, 2, 2, 2, 2, 2]]
    logits = torch.nn.functional.one_hot(torch.tensor(paths), len(vocab.tokens)).float()  # (2, 8) -> (2, 8, 4)
    assert greedy_decode(logits, [8, 3], vocab) == ["aa b", "b"]
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 8\]"):
        greedy_decode(logits, [9, 3], vocab)


def test_ctc_frames_needed_counts_a_blank_between_repeats():
    assert ctc_frames_needed([2, 2, 3, 3, 3]) == 8
    assert ctc_frames_needed([2, 3]) == 2


# --- training -----------------------------------------------------------------------


def test_config_validation_names_the_field():
    with pytest.raises(ConfigError, match="^train.warmup_steps: expected"):
        validate(tiny_config(steps=10, warmup_steps=10))
    with pytest.raises(ConfigError, match="^units: expected"):
        validate(tiny_config(units="words"))


def test_train_ctc_learns_saves_and_transcribes(tmp_path):
    train = dataset()
    too_long = Utterance(
        "long", torch.zeros(6, 80, dtype=torch.float16), "abab", "train", "synthetic", "spk"
    )  # 3 encoder frames
    vocab = Vocabulary.chars(u.text for u in train)
    summary = fit(tiny_config(), [*train, too_long], vocab, tmp_path)

    rows = [json.loads(line) for line in metrics_file(tmp_path / "out").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10, 15, 20, 25, 30]
    assert rows[-1]["loss"] < 0.7 * rows[0]["loss"]
    assert summary["steps"] == 30 and summary["skipped_too_long"] == 1 and summary["skipped_nan"] == 0
    assert math.isfinite(summary["final_loss"]) and summary["final_loss"] < rows[0]["loss"]

    model, meta = load_asr(model_file(tmp_path / "out"))
    assert meta["steps"] == 30 and meta["arch"] == "tiny"
    hyps = transcribe(model, Vocabulary.from_dict(meta["vocab"]), train, device=CPU)
    assert set(hyps) == {u.id for u in train} and all(isinstance(h, str) for h in hyps.values())


def test_train_ctc_resumes_from_its_checkpoint_where_it_stopped(tmp_path):
    train = dataset(8)
    vocab = Vocabulary.chars(u.text for u in train)
    config = tiny_config(steps=8, checkpoint_every=3, log_every=2)

    class Stop(Exception):
        pass

    def stop_at_5(step: int, total: int) -> None:
        if step == 5:
            raise Stop

    with pytest.raises(Stop):
        fit(config, train, vocab, tmp_path, progress=stop_at_5)
    summary = fit(config, train, vocab, tmp_path)
    assert summary["steps"] == config.train.steps
    logged = metrics_file(tmp_path / "out").read_text().splitlines()
    assert [json.loads(line)["step"] for line in logged] == [2, 4, 6, 8]

    fit(config, train, vocab, tmp_path, name="straight")
    resumed = torch.load(model_file(tmp_path / "out"), weights_only=True)["model"]
    straight = torch.load(model_file(tmp_path / "straight"), weights_only=True)["model"]
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)


def test_train_ctc_rejects_utterances_without_text(tmp_path):
    train = dataset(4)
    vocab = Vocabulary.chars(u.text for u in train)
    silent = Utterance("no_text", train[0].feats, None, "train", "synthetic", "spk")
    noise = Utterance("only_punct", train[0].feats, "?!", "train", "synthetic", "spk")
    with pytest.raises(ValueError, match=r"2 have none: \['no_text', 'only_punct'\]"):
        fit(tiny_config(), [*train, silent, noise], vocab, tmp_path)


def test_train_ctc_trains_on_batches_too_short_to_mask(tmp_path):
    short, long = (
        synthetic_utterance("short", "ab", 0),
        synthetic_utterance("long", "ab ab ab ab ab", 1),
    )  # 16, 120 encoder frames
    config = tiny_config(steps=2, warmup_steps=0, max_batch_size=1)
    summary = fit(config, [short, long], Vocabulary.chars(["ab"]), tmp_path)
    assert summary["steps"] == 2


def test_frozen_encoder_keeps_the_pretrained_weights(tmp_path):
    pretrained = build_pretrain_model(ENCODER)
    train = dataset(4)
    config = tiny_config(steps=2, warmup_steps=0, freeze_encoder_steps=2)
    fit(config, train, Vocabulary.chars(u.text for u in train), tmp_path, init_encoder=pretrained)
    state = torch.load(model_file(tmp_path / "out"), weights_only=True)["model"]
    encoder = {f"encoder.{k}": v for k, v in pretrained.encoder.state_dict().items()}
    assert all(torch.equal(state[k], v) for k, v in encoder.items())
