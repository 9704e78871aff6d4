"""The XLM-R encoder (``transformers.XLMRobertaForMaskedLM``): built from scratch, loaded from a local directory,
its masked-LM loss on chosen positions only, and mean-pooled sentence embeddings for mining.

Saved models are Hugging Face directories in safetensors (``save_pretrained``); loading
never reaches a hub (``local_files_only``) and never unpickles.
"""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor
from tqdm.auto import tqdm
from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

from seqmask.text.artifacts import LANGUAGES
from seqmask.text.batches import TextBatch, mlm_batch
from seqmask.text.config import EncoderConfig
from seqmask.text.tokenizer import Specials, Vocabulary
from seqmask.text.units import Encoded

TIED_KEYS = ("lm_head.decoder.weight", "lm_head.decoder.bias")
"""Parameters tied to others (the output embedding is the input embedding): absent from saved weights."""
UNUSED_PREFIXES = ("roberta.pooler.", "roberta.embeddings.position_ids")
"""Saved weights a masked LM does not use (a checkpoint of the plain encoder carries a pooler)."""
EMBED_BATCH = 128
"""Sentences per forward pass when embedding."""


def build_encoder(
    config: EncoderConfig, *, vocab_size: int, languages: int, specials: Specials
) -> XLMRobertaForMaskedLM:
    """A randomly initialised encoder (from torch's current seed); with ``config.language_embeddings``, one language
    embedding per language (``token_type_ids``), else none."""
    hf_config = XLMRobertaConfig(
        vocab_size=vocab_size,
        hidden_size=config.hidden,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        intermediate_size=config.ffn,
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.dropout,
        max_position_embeddings=config.max_len + specials.first_position,
        type_vocab_size=max(1, languages) if config.language_embeddings else 1,
        pad_token_id=specials.pad,
        bos_token_id=specials.bos,
        eos_token_id=specials.eos,
    )
    return XLMRobertaForMaskedLM(hf_config)


def load_encoder(directory: Path) -> XLMRobertaForMaskedLM:
    """A local Hugging Face ``XLMRobertaForMaskedLM`` directory: ``config.json`` and ``model.safetensors`` (or
    ``pytorch_model.bin``, read weights-only).

    Built from its config and filled with ``load_state_dict``, not ``from_pretrained``: that initialises on the meta
    device through a process-wide patch, which breaks modules other threads (other stages) build at the same time.
    """
    directory = Path(directory)
    if not is_encoder(directory):
        raise FileNotFoundError(f"{directory}: expected a Hugging Face model directory with config.json")
    model = XLMRobertaForMaskedLM(XLMRobertaConfig.from_pretrained(directory, local_files_only=True))
    state = _weights(directory)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [key for key in missing if key not in TIED_KEYS]
    unexpected = [key for key in unexpected if not key.startswith(UNUSED_PREFIXES)]
    if missing or unexpected:
        raise ValueError(
            f"{directory}: expected the weights of an XLMRobertaForMaskedLM, found {len(missing)} missing "
            f"({', '.join(missing[:5])}) and {len(unexpected)} unexpected ({', '.join(unexpected[:5])})"
        )
    model.tie_weights()
    return model


def is_encoder(directory: Path) -> bool:
    """Whether ``directory`` is a Hugging Face model directory (holds its ``config.json``)."""
    return (Path(directory) / "config.json").is_file()


def _weights(directory: Path) -> dict[str, Tensor]:
    if (directory / "model.safetensors").is_file():
        return _safetensors_weights(directory / "model.safetensors")
    if (directory / "pytorch_model.bin").is_file():
        return _checkpoint_weights(directory / "pytorch_model.bin")
    raise FileNotFoundError(f"{directory}: expected model.safetensors or pytorch_model.bin")


def _safetensors_weights(path: Path) -> dict[str, Tensor]:
    try:
        return load_file(str(path))
    except SafetensorError as err:
        raise ValueError(
            f"{path}: expected a safetensors file of the model's weights, found one safetensors cannot read ({err})"
        ) from None


def _checkpoint_weights(path: Path) -> dict[str, Tensor]:
    """A ``pytorch_model.bin`` read weights-only: tensors by name, never other pickled objects (which could run
    code)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, EOFError, RuntimeError):
        raise _not_weights_only(
            path, "a file torch cannot load weights-only"
        ) from None  # torch's advice is to load it unsafely
    if not isinstance(state, dict):
        raise _not_weights_only(path, f"a {type(state).__name__}")
    return state


def _not_weights_only(path: Path, found: str) -> ValueError:
    return ValueError(
        f"{path}: expected a weights-only PyTorch checkpoint (a dict of tensors by name), found {found}; only such "
        "checkpoints and model.safetensors are loaded: save the model's state_dict, or convert it to model.safetensors"
    )


def save_encoder(model: XLMRobertaForMaskedLM, directory: Path, *, vocab: Vocabulary, languages: Sequence[str]) -> None:
    """A self-contained model directory: the Hugging Face model (safetensors), its sentencepiece model and the language
    of each language id (what ``seqmask mine`` reads)."""
    model.save_pretrained(directory, safe_serialization=True)
    shutil.copyfile(vocab.path, Path(directory) / vocab.path.name)
    (Path(directory) / LANGUAGES).write_text(json.dumps(list(languages)), encoding="utf-8")


def max_tokens(model: XLMRobertaForMaskedLM, specials: Specials) -> int:
    """Tokens per row the model's position embeddings allow."""
    return model.config.max_position_embeddings - specials.first_position


def language_ids(model: XLMRobertaForMaskedLM, ids: Tensor) -> Tensor:
    """``ids`` where the model has a language embedding per language; zeros for a model with one (XLM-R's own)."""
    return ids if model.config.type_vocab_size > 1 else torch.zeros_like(ids)


def masked_lm_loss(
    model: XLMRobertaForMaskedLM, batch: TextBatch, inputs: Tensor, labels: Tensor
) -> tuple[Tensor, Tensor]:
    """Cross-entropy over the labelled positions only (the LM head runs on them alone), and how many were right.

    ``inputs``, ``labels``: ``(N, L)``, labels ``-100`` where there is no loss. -> ``()`` loss, ``()`` correct count.
    """
    device = next(model.parameters()).device
    states = model.roberta(
        input_ids=inputs.to(device),
        attention_mask=batch.attention_mask.to(device),
        position_ids=batch.position_ids.to(device),
        token_type_ids=language_ids(model, batch.token_type_ids).to(device),
    ).last_hidden_state  # (N, L, H)
    chosen = labels.to(device) >= 0  # (N, L)
    logits = model.lm_head(states[chosen])  # (M, V)
    targets = labels.to(device)[chosen]  # (M,)
    loss = torch.nn.functional.cross_entropy(logits.float(), targets)
    return loss, (logits.argmax(dim=-1) == targets).sum()


def check_layer(model: XLMRobertaForMaskedLM, layer: int, name: str = "layer") -> None:
    """``ValueError`` naming ``name`` unless ``layer`` indexes the model's hidden states (0: the embeddings, then one
    per layer; negative from the end, as Python indexes)."""
    layers = model.config.num_hidden_layers
    if not -(layers + 1) <= layer <= layers:
        raise ValueError(
            f"{name}: expected a hidden layer of this {layers}-layer model in [{-(layers + 1)}, {layers}] "
            f"(0: the embeddings, {layers} or -1: the last layer), found {layer}"
        )


@torch.no_grad()
def embed(
    model: XLMRobertaForMaskedLM,
    sentences: Sequence[Encoded],
    language: int,
    specials: Specials,
    *,
    layer: int = -1,
    desc: str | None = None,
) -> np.ndarray:
    """Mean over each sentence's pieces (not ``<s>``/``</s>``) of hidden layer ``layer``: ``(N, H)`` float32; with
    ``desc``, a progress bar over the batches on stderr."""
    check_layer(model, layer)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    rows = []
    for start in tqdm(range(0, len(sentences), EMBED_BATCH), desc=desc, unit="batch", disable=desc is None):
        chunk = sentences[start : start + EMBED_BATCH]
        batch = mlm_batch(chunk, [language] * len(chunk), specials, max_tokens(model, specials))
        hidden = model.roberta(
            input_ids=batch.input_ids.to(device),
            attention_mask=batch.attention_mask.to(device),
            position_ids=batch.position_ids.to(device),
            token_type_ids=language_ids(model, batch.token_type_ids).to(device),
            output_hidden_states=True,
        ).hidden_states[layer]  # (N, L, H)
        pieces = (
            batch.attention_mask.bool() & (batch.input_ids != specials.bos) & (batch.input_ids != specials.eos)
        )  # (N, L)
        pieces = pieces.to(device)
        weights = pieces.float() / pieces.sum(dim=1, keepdim=True).clamp(min=1)  # (N, L)
        rows.append((hidden.float() * weights[..., None]).sum(dim=1).cpu().numpy())  # (N, H)
    model.train(was_training)
    return np.concatenate(rows) if rows else np.zeros((0, model.config.hidden_size), dtype=np.float32)
