"""The masked-LM unit on a tiny XLM-R: masks only pieces, learns a repeated batch, resumes exactly; models
round-trip."""

from __future__ import annotations

import argparse
import json
import re
import traceback

import pytest
import torch

from seqmask.files import read_build_record
from seqmask.masking.kinds import ENTITY, NOUN, OTHER
from seqmask.masking.lem import MLM, LemParams
from seqmask.text.artifacts import METRICS, TOKENIZER_MODEL
from seqmask.text.config import EncoderConfig
from seqmask.text.mlm import MaskedLMUnit, choose, make_batch, masked_accuracy
from seqmask.text.model import build_encoder, embed, load_encoder, save_encoder
from seqmask.text.tokenizer import Vocabulary, train_sentencepiece
from seqmask.text.units import Word, encode_units
from seqmask.training.config import TrainingConfig
from seqmask.training.loop import train

SENTENCES = [
    "Kamal lives in Colombo",
    "the children read books",
    "open the file in Colombo",
    "save the document now",
] * 30
TINY = EncoderConfig(layers=1, hidden=32, heads=2, ffn=64, max_len=32, dropout=0.0)


@pytest.fixture(scope="module")
def vocab(tmp_path_factory):
    path = tmp_path_factory.mktemp("spm") / TOKENIZER_MODEL
    train_sentencepiece(SENTENCES, path, vocab_size=60)
    return Vocabulary.load(path)


def words(text):
    found, start = [], 0
    for token in text.split(" "):
        kind = ENTITY if token[0].isupper() else NOUN if token in ("children", "books", "file", "document") else OTHER
        found.append(Word(start, start + len(token), kind, 0 if kind == ENTITY else None))
        start += len(token) + 1
    return found


def rows(vocab, pairs=False):
    encoded = [encode_units(text, words(text), vocab) for text in SENTENCES[:4]]
    if pairs:
        return [((encoded[i], encoded[(i + 1) % 4]), (0, 1)) for i in range(4)]
    return [((e,), (i % 2,)) for i, e in enumerate(encoded)]


def unit_for(vocab, strategy, params=MLM, pairs=False):
    torch.manual_seed(0)
    model = build_encoder(TINY, vocab_size=vocab.size, languages=2, specials=vocab.specials)
    return MaskedLMUnit(
        model, rows(vocab, pairs), strategy=strategy, params=params, vocabulary=vocab, batch_size=4, seed=0
    )


@pytest.mark.parametrize("strategy", ["mlm", "lem"])
def test_masks_fall_on_pieces_never_on_specials_or_padding(vocab, strategy) -> None:
    batch = make_batch(rows(vocab, pairs=True) * 8, vocab, 64)
    masked = choose(batch, strategy, LemParams(mask_prob=0.5), vocab, torch.Generator().manual_seed(0))  # (N, L)
    specials = (
        (batch.input_ids == vocab.specials.bos) | (batch.input_ids == vocab.specials.eos) | (batch.attention_mask == 0)
    )
    assert masked.any() and not (masked & specials).any()
    if strategy == "lem":  # every entity unit (the capitalised word) gives exactly one piece first
        units = batch.token_units.masked_fill(~masked, -1)
        entity_units = (batch.unit_kinds == ENTITY).nonzero().tolist()
        for row, unit in entity_units:
            assert int((units[row] == unit).sum()) == 1


def test_tlm_rows_restart_positions_and_carry_two_languages(vocab) -> None:
    batch = make_batch(rows(vocab, pairs=True), vocab, 64)
    assert set(batch.token_type_ids[0].tolist()) == {0, 1}
    second = (batch.token_type_ids[0] == 1).nonzero()[0].item()
    assert batch.position_ids[0, second].item() == vocab.specials.first_position


@pytest.mark.parametrize("strategy", ["mlm", "lem"])
def test_a_repeated_batch_is_learned(vocab, strategy, tmp_path) -> None:
    config = TrainingConfig(steps=150, lr=1e-2, warmup_steps=5, checkpoint_every=1000, log_every=10)
    unit, summary = train(
        lambda: unit_for(vocab, strategy), config, out_dir=tmp_path, work_dir=tmp_path / "w", device=torch.device("cpu")
    )
    losses = [json.loads(line)["loss"] for line in (tmp_path / METRICS).read_text().splitlines()]
    assert losses[-1] < 0.5 * losses[0]
    assert masked_accuracy(unit.model, rows(vocab), vocab) > 0.3


class Interrupted(Exception):
    pass


def test_an_interrupted_run_resumes_to_the_same_weights(vocab, tmp_path) -> None:
    config = TrainingConfig(steps=8, lr=1e-3, warmup_steps=2, checkpoint_every=3, log_every=1)
    cpu = torch.device("cpu")
    whole, _ = train(
        lambda: unit_for(vocab, "lem", pairs=True), config, out_dir=tmp_path / "a", work_dir=tmp_path / "wa", device=cpu
    )

    def stop_at_5(step, steps):
        if step == 5:
            raise Interrupted

    with pytest.raises(Interrupted):
        train(
            lambda: unit_for(vocab, "lem", pairs=True),
            config,
            out_dir=tmp_path / "b",
            work_dir=tmp_path / "wb",
            device=cpu,
            progress=stop_at_5,
        )
    resumed, summary = train(
        lambda: unit_for(vocab, "lem", pairs=True), config, out_dir=tmp_path / "b", work_dir=tmp_path / "wb", device=cpu
    )
    assert read_build_record(tmp_path / "b")["resumed_from_step"] == 3 and summary["steps"] == 8
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name  # the mask generator's state came back with the checkpoint


def test_a_saved_encoder_loads_back_and_embeds_pieces_only(vocab, tmp_path) -> None:
    unit = unit_for(vocab, "mlm")
    save_encoder(unit.model, tmp_path / "m", vocab=vocab, languages=["eng", "sin"])
    loaded = load_encoder(tmp_path / "m")
    for (name, a), b in zip(unit.model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    assert loaded.lm_head.decoder.weight.data_ptr() == loaded.roberta.embeddings.word_embeddings.weight.data_ptr()
    sentences = [encode_units(text, [], vocab) for text in SENTENCES[:3]]
    embeddings = embed(loaded, sentences, 0, vocab.specials)
    single = embed(loaded, sentences[:1], 0, vocab.specials)
    assert embeddings.shape == (3, TINY.hidden)
    assert embeddings[0] == pytest.approx(single[0], abs=1e-5)  # padding in a batch changes nothing


def test_a_directory_without_weights_is_refused(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_encoder(tmp_path)


def test_a_checkpoint_that_is_not_weights_only_is_refused_naming_it(vocab, tmp_path) -> None:
    model = unit_for(vocab, "mlm").model
    model.config.save_pretrained(tmp_path)
    checkpoint = tmp_path / "pytorch_model.bin"
    torch.save(model.state_dict(), checkpoint)
    assert load_encoder(tmp_path).config.hidden_size == TINY.hidden  # tensors by name: loaded
    for content in (
        {"state": model.state_dict(), "args": argparse.Namespace(lr=1e-3)},
        [torch.zeros(1)],
        b"not a checkpoint",
    ):
        if isinstance(content, bytes):
            checkpoint.write_bytes(content)
        else:
            torch.save(content, checkpoint)
        with pytest.raises(ValueError) as raised:
            load_encoder(tmp_path)
        message = str(raised.value)
        assert (
            message.startswith(f"{checkpoint}: expected a weights-only PyTorch checkpoint")
            and "model.safetensors" in message
        )
        assert "weights_only=False" not in "".join(
            traceback.format_exception(raised.value)
        )  # nor torch's advice, chained


def test_an_unreadable_safetensors_file_is_named(vocab, tmp_path) -> None:
    unit_for(vocab, "mlm").model.config.save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(
        ValueError, match=rf"^{re.escape(str(tmp_path / 'model.safetensors'))}: expected a safetensors file"
    ):
        load_encoder(tmp_path)
