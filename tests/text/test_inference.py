"""``seqmask mine`` on a user's files: its options are checked before any work, and the embedding shows its progress."""

from __future__ import annotations

import pytest
import torch

from seqmask.text.artifacts import TOKENIZER_MODEL
from seqmask.text.config import EncoderConfig
from seqmask.text.inference import Encoder, mine_files
from seqmask.text.model import build_encoder
from seqmask.text.tokenizer import Vocabulary, train_sentencepiece

SENTENCES = ["open the file", "save the document", "close the window", "print the page", "the file is open"]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> Encoder:
    path = tmp_path_factory.mktemp("spm") / TOKENIZER_MODEL
    train_sentencepiece(SENTENCES * 40, path, vocab_size=40)
    vocab = Vocabulary.load(path)
    torch.manual_seed(0)
    config = EncoderConfig(layers=2, hidden=16, heads=2, ffn=32, max_len=16, dropout=0.0)
    return Encoder(build_encoder(config, vocab_size=vocab.size, languages=1, specials=vocab.specials), vocab, {})


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"k": 0}, r"^--k: expected an integer >= 1 \(neighbours in the ratio margin\), found 0$"),
        (
            {"layer": 3},
            r"^--layer: expected a hidden layer of this 2-layer model in \[-3, 2\]"
            r" \(0: the embeddings, 2 or -1: the last layer\), found 3$",
        ),
        ({"layer": -4}, r"^--layer: expected .* in \[-3, 2\] .*found -4$"),
    ],
)
def test_bad_options_are_named_with_their_valid_range_before_any_file_is_read(
    encoder, tmp_path, option, message
) -> None:
    missing = tmp_path / "not-read.txt"
    with pytest.raises(ValueError, match=message):
        mine_files(encoder, missing, missing, source_language=None, target_language=None, **option)


def test_the_embedding_of_each_file_shows_a_progress_bar(encoder, tmp_path, capsys) -> None:
    source, target = tmp_path / "a.txt", tmp_path / "b.txt"
    source.write_text("\n".join(SENTENCES) + "\n")
    target.write_text("\n".join(reversed(SENTENCES)) + "\n")
    pairs, rejects, results = mine_files(
        encoder, source, target, source_language=None, target_language=None, layer=-3, k=2
    )
    assert len(pairs) == 5 and not rejects and results["forward"].pairs == 5
    err = capsys.readouterr().err
    assert "embedding a.txt" in err and "embedding b.txt" in err and "batch" in err
