"""The masked-LM training unit (MLM rows of one sentence, TLM rows of a pair) with plain or LEM masking, and the
held-out masked-token accuracy.

Plain MLM (``mlm``) makes every piece between ``<s>`` and ``</s>`` its own unit, so
15% of them are drawn uniformly (XLM-R); LEM (``lem``) masks one piece of each
tagged unit first (:mod:`seqmask.masking.lem`). Both replace 80/10/10 and read
the loss on masked pieces only. The mask generator is part of the unit's state, so
a resumed run draws the masks an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from transformers import XLMRobertaForMaskedLM

from seqmask.masking.lem import MLM, LemParams, choose_masked, piece_units, replace_masked
from seqmask.text.batches import Row, TextBatch, mlm_batch, tlm_batch
from seqmask.text.config import STRATEGIES
from seqmask.text.model import masked_lm_loss, max_tokens
from seqmask.text.tokenizer import Vocabulary
from seqmask.training.loop import shuffled_batches


def make_batch(rows: Sequence[Row], vocabulary: Vocabulary, max_len: int) -> TextBatch:
    """MLM rows when every row holds one sentence, TLM rows when two."""
    if all(len(parts) == 1 for parts, _ in rows):
        return mlm_batch(
            [parts[0] for parts, _ in rows], [languages[0] for _, languages in rows], vocabulary.specials, max_len
        )
    return tlm_batch([parts for parts, _ in rows], [languages for _, languages in rows], vocabulary.specials, max_len)


def choose(
    batch: TextBatch, strategy: str, params: LemParams, vocabulary: Vocabulary, generator: torch.Generator
) -> Tensor:
    """The pieces to mask ``(N, L)``: plain MLM over every piece, or LEM over the batch's tagged units."""
    if strategy == "mlm":
        specials = vocabulary.specials
        maskable = (
            batch.attention_mask.bool() & (batch.input_ids != specials.bos) & (batch.input_ids != specials.eos)
        )  # (N, L)
        token_units, unit_kinds = piece_units(maskable)  # (N, L), (N, L)
        return choose_masked(token_units, unit_kinds, dataclasses.replace(params, entity=0, noun=0, verb=0), generator)
    if strategy == "lem":
        return choose_masked(batch.token_units, batch.unit_kinds, params, generator)
    raise ValueError(f"strategy: expected one of {STRATEGIES}, found {strategy!r}")


def mask_inputs(
    batch: TextBatch, masked: Tensor, params: LemParams, vocabulary: Vocabulary, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """80/10/10 replacement (random ids among the pieces, never a special token): inputs and labels ``(N, L)``."""
    first_piece = max(vocabulary.unk, vocabulary.specials.bos, vocabulary.specials.pad, vocabulary.specials.eos) + 1
    return replace_masked(
        batch.input_ids,
        masked,
        params,
        mask_id=vocabulary.mask,
        random_ids=(first_piece, vocabulary.mask),
        generator=generator,
    )


class MaskedLMUnit:
    """MLM or TLM on ``rows`` with a masking strategy: what :func:`seqmask.training.loop.train` trains."""

    def __init__(
        self,
        model: XLMRobertaForMaskedLM,
        rows: Sequence[Row],
        *,
        strategy: str,
        params: LemParams,
        vocabulary: Vocabulary,
        batch_size: int,
        seed: int,
    ) -> None:
        if not rows:
            raise ValueError("no training rows: the text corpus gave no sentences or pairs for this phase")
        self.model = model
        self.rows = list(rows)
        self.strategy = strategy
        self.params = params
        self.vocabulary = vocabulary
        self.batch_size = min(batch_size, len(self.rows))
        self.max_len = max_tokens(model, vocabulary.specials)
        self.masks = torch.Generator().manual_seed(seed)
        self.truncated = 0
        """Rows cut to ``max_len`` so far (each time a batch holds one)."""

    def epoch(self, generator: torch.Generator) -> list[list[int]]:
        return shuffled_batches(len(self.rows), self.batch_size, generator)

    def loss(self, batch: Sequence[int], step: int) -> tuple[Tensor, Mapping[str, float]]:
        text = make_batch([self.rows[i] for i in batch], self.vocabulary, self.max_len)
        self.truncated += text.truncated
        masked = choose(text, self.strategy, self.params, self.vocabulary, self.masks)  # (N, L)
        inputs, labels = mask_inputs(text, masked, self.params, self.vocabulary, self.masks)  # (N, L), (N, L)
        loss, correct = masked_lm_loss(self.model, text, inputs, labels)
        count = int(masked.sum())
        return loss, {"accuracy": float(correct) / max(1, count), "masked": count, "truncated": text.truncated}

    def identity(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "params": dataclasses.asdict(self.params),
            "rows": len(self.rows),
            "batch_size": self.batch_size,
            "vocab_size": self.vocabulary.size,
        }

    def state_dict(self) -> dict[str, Any]:
        return {"masks": self.masks.get_state(), "truncated": self.truncated}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.masks.set_state(state["masks"])
        self.truncated = state["truncated"]


@torch.no_grad()
def masked_accuracy(
    model: XLMRobertaForMaskedLM, rows: Sequence[Row], vocabulary: Vocabulary, *, batch_size: int = 64, seed: int = 0
) -> float:
    """Share of masked pieces predicted right on ``rows`` with plain MLM masking drawn from ``seed`` (the same pieces
    for every model)."""
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    correct = total = 0
    max_len = max_tokens(model, vocabulary.specials)
    for start in range(0, len(rows), batch_size):
        text = make_batch(rows[start : start + batch_size], vocabulary, max_len)
        masked = choose(text, "mlm", MLM, vocabulary, generator)
        inputs, labels = mask_inputs(text, masked, MLM, vocabulary, generator)
        if not masked.any():
            continue
        _, right = masked_lm_loss(model, text, inputs, labels)
        correct += int(right)
        total += int(masked.sum())
    model.train(was_training)
    return correct / total if total else 0.0
