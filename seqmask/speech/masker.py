"""The Ask2Mask masker: :func:`~seqmask.masking.ask2mask.ask2mask_mask` inside a fairseq2 ``Wav2Vec2Model``."""

from __future__ import annotations

import torch
import torch.nn as nn
from fairseq2.models.wav2vec2.masker import Wav2Vec2Masker
from fairseq2.nn import BatchLayout
from torch import Tensor
from torch.nn import Parameter

from seqmask.masking.ask2mask import ask2mask_mask, fit_scorer_frames
from seqmask.masking.params.spans import Ask2MaskParams


class Ask2MaskMasker(Wav2Vec2Masker):
    """Drop-in for fairseq2's ``StandardWav2Vec2Masker`` that masks with :func:`ask2mask_mask`.

    Same learned ``temporal_mask_embed`` parameter and initialisation; no spatial
    (feature) masking. The frame confidences are an argument of every call, from
    the batch: ``masker(seqs, seqs_layout, scores)``; where fairseq2 calls a masker
    with two arguments, pass ``functools.partial(masker, scores=batch.scores)``.

    The mask is computed on the device of ``scores`` and moved to the model's
    device. ``generator`` must live on the device of ``scores``. Scores off by one
    frame are fitted (:func:`fit_scorer_frames`). A batch that cannot be masked
    raises ``ValueError``, as ``StandardWav2Vec2Masker`` does for the same batch
    (the model cannot train on zero masked frames).
    """

    def __init__(
        self,
        model_dim: int,
        params: Ask2MaskParams | None = None,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        """
        :param model_dim: The dimensionality of the model.
        :param params: The masking parameters; the defaults if ``None``.
        :param generator: Random generator for reproducible masks, on the device of the scores.
        """
        super().__init__()
        self.params = params or Ask2MaskParams()
        self.params.validate()
        self.generator = generator
        self.temporal_mask_embed = Parameter(torch.empty((model_dim,), device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise the mask embedding as fairseq2 does."""
        nn.init.uniform_(self.temporal_mask_embed)

    def forward(self, seqs: Tensor, seqs_layout: BatchLayout, scores: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        """Mask ``seqs`` ``(N, S, M)`` where ``scores`` ``(N, S)`` are most confident; return them and the mask
        ``(N, S)``."""
        if seqs_layout.packed:
            raise ValueError("seqs must not be a packed batch, got a packed layout")
        batch_size, seq_len, _ = seqs.shape
        scores = fit_scorer_frames(scores, seq_len)  # (N, X) -> (N, S)
        if scores.size(0) != batch_size:
            raise ValueError(f"scores batch size {scores.size(0)} != seqs batch size {batch_size}")
        lengths = torch.tensor(seqs_layout.seq_lens, device=scores.device)  # (N,)
        temporal_mask = ask2mask_mask(lengths, scores, self.params, self.generator)  # (N,), (N, S) -> (N, S)
        if not bool(temporal_mask.any()):
            raise ValueError(
                f"cannot mask this batch: with {self.params} at least one of the lengths {list(seqs_layout.seq_lens)} "
                "is too short for the minimum number of spans"
            )
        temporal_mask = temporal_mask.to(seqs.device)  # (N, S)
        seqs[temporal_mask] = self.temporal_mask_embed.type_as(seqs)  # (N, S, M)
        return seqs, temporal_mask

    def extra_repr(self) -> str:
        """:meta private:"""
        return repr(self.params)
