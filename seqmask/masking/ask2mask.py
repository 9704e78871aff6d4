"""Ask2Mask (Baskar et al. 2022, arXiv 2202.12719): mask the frames an ASR scorer is most confident on.

Frame level. A scorer gives each encoder frame a confidence ``c_t = max_v p_t(v)``
(:func:`frame_confidence`; optionally with the CTC blank left out of the max). :func:`ask2mask_mask` builds a span mask
that keeps the baseline's budget (:mod:`seqmask.masking.spans`, fairseq2's
``compute_row_mask``) and places the spans on confident frames:

1. Span count: ``K`` spans per row, fairseq2's count rule
   (:func:`~seqmask.masking.spans.batch_num_spans`). A batch fairseq2 would
   refuse (a row not longer than ``span_len``, or fewer than ``min_num_spans``
   spans fit) is unmaskable and gets an all-False mask, never an error.
2. Guided placement, one span at a time (a loop over the ``K`` spans,
   vectorised over rows and frames): a start's score is the confidence its span
   would newly mask, the sum of ``c`` over its frames not masked yet (plus a
   tiny bonus per frame, so that among equal scores a span masking more new
   frames wins). ``topk`` takes the highest-scoring start; ``sample`` draws a
   start with probability proportional to ``score ** (1 / tau)`` (Gumbel-max).
   The first span is the highest-mean span. Scoring only the newly masked
   confidence keeps the spans from piling onto one confident spot, while
   still letting a span overlap a placed one to reach confident frames in a
   gap shorter than a span. A span may re-mask frames only as long as the
   spans left can still reach the masked count of step 4. Starts are never
   reused.
3. Random placement: ``round(random_share * K)`` spans of each row (Python
   ``round``) are placed after the guided ones at uniformly random starts whose
   span overlaps no masked frame (any start not used yet when none is left).
   A row whose valid scores are all equal carries no information and is
   placed this way as a whole.
4. Masked count: the baseline's spans overlap, so it masks fewer than
   ``K * span_len`` frames. To compare at the same masked fraction, every row is
   trimmed to the masked count of a baseline draw
   (:func:`~seqmask.masking.spans.random_span_mask`) for the same lengths and
   generator, or to the smallest row count if that is lower, which also makes
   all rows equal as fairseq2 requires. Trimming keeps the same share of guided
   and random frames; among guided frames the most confident are kept, among
   random ones a random subset (as fairseq2 does).

Utterance level: :func:`utterance_weights` gives each utterance its mean
confidence over valid frames, normalised to mean 1 over the batch.

:class:`seqmask.speech.masker.Ask2MaskMasker` puts the mask into a fairseq2
``Wav2Vec2Model`` in place of ``StandardWav2Vec2Masker``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from seqmask.masking.params.spans import Ask2MaskParams
from seqmask.masking.spans import batch_num_spans, check_lengths, random_span_mask

_NEW_FRAME_BONUS = 1e-3
"""Added to every frame's confidence when scoring a span by the frames it newly masks."""


def frame_confidence(posteriors: Tensor, exclude: int | None = None) -> Tensor:
    """Frame confidence ``c_t = max_v p_t(v)``: ``(N, S, V)`` probabilities -> ``(N, S)``.

    ``exclude`` leaves one class out of the max (a CTC scorer's blank: its
    posterior peaks on silence, so ``max_v`` would rank silence as confident).
    """
    if posteriors.ndim != 3:
        raise ValueError(f"posteriors must have shape (N, S, V), got shape {tuple(posteriors.shape)}")
    if exclude is None:
        return posteriors.amax(dim=-1)  # (N, S, V) -> (N, S)
    if not 0 <= exclude < posteriors.size(-1) or posteriors.size(-1) < 2:
        raise ValueError(
            f"exclude must be a class index in [0, {posteriors.size(-1)}) leaving at least one class, got {exclude}"
        )
    kept = torch.cat([posteriors[..., :exclude], posteriors[..., exclude + 1 :]], dim=-1)  # (N, S, V) -> (N, S, V - 1)
    return kept.amax(dim=-1)  # (N, S, V - 1) -> (N, S)


def speech_probability(posteriors: Tensor, blank: int) -> Tensor:
    """Frame confidence that the frame is speech, ``1 - p_t(blank)``: ``(N, S, V)`` probabilities -> ``(N, S)``."""
    if posteriors.ndim != 3 or not 0 <= blank < posteriors.size(-1):
        raise ValueError(
            f"posteriors must have shape (N, S, V) with the blank in [0, V), got shape {tuple(posteriors.shape)}, "
            f"blank {blank}"
        )
    return 1.0 - posteriors[..., blank]  # (N, S, V) -> (N, S)


def utterance_weights(scores: Tensor, lengths: Tensor) -> Tensor:
    """Utterance weights: mean confidence over valid frames, normalised to mean 1 over the batch.

    ``(N, S), (N,) -> (N,)``. Padded positions are ignored, whatever they hold.
    """
    valid = _valid_frames_of(scores, lengths)  # (N, S)
    if not bool((lengths >= 1).all()):
        raise ValueError(f"every utterance needs at least one valid frame, got lengths min {int(lengths.min())}")
    confidence = scores.float().masked_fill(~valid, 0.0)  # (N, S) -> (N, S)
    means = confidence.sum(dim=1) / lengths  # (N, S) -> (N,)
    if not bool(means.sum() > 0):
        raise ValueError(f"mean confidences must not all be zero, got {means.tolist()}")
    return means / means.mean()  # (N,) -> (N,)


def ask2mask_mask(
    lengths: Tensor, scores: Tensor, params: Ask2MaskParams, generator: torch.Generator | None = None
) -> Tensor:
    """The Ask2Mask frame mask (see the module docstring): ``(N,), (N, S) -> (N, S)`` bool.

    Every row masks the same number of frames, none at or beyond its length.
    ``scores`` holds frame confidences in [0, 1]; padded positions are ignored.
    NaN at a valid frame raises ``ValueError``. ``generator`` must live on the
    device of ``scores``; the same generator state gives the same mask.
    """
    params.validate()
    valid = _valid_frames_of(scores, lengths)  # (N, S)
    num_rows, seq_len = scores.shape
    span_args: dict[str, Any] = {
        "span_len": params.span_len,
        "max_mask_prob": params.max_mask_prob,
        "min_num_spans": params.min_num_spans,
    }
    num_spans = batch_num_spans(lengths, **span_args)
    if num_spans == 0:
        return torch.zeros_like(valid)  # (N, S)

    # The masked count of the baseline for these lengths (equal in all rows).
    target = int(random_span_mask(lengths, seq_len, **span_args, generator=generator).sum(dim=1).min())  # (N, S) -> ()
    num_random = round(params.random_share * num_spans)
    num_guided = num_spans - num_random
    # Uniform noise: one slice per guided span ("sample"), random spans' keys, trimming of random frames.
    noise = torch.rand(
        (num_guided + 2, num_rows, seq_len), generator=generator, device=scores.device
    )  # (K_g + 2, N, S)
    confidence = scores.float().masked_fill(~valid, 0.0)  # (N, S) -> (N, S)
    informative = _informative_rows(confidence, valid)  # (N,)
    num_starts = seq_len - params.span_len + 1  # R
    valid_starts = (
        torch.arange(num_starts, device=scores.device) <= (lengths - params.span_len)[:, None]
    )  # (R,), (N, 1) -> (N, R)

    guided_frames, random_frames = _place_spans(
        confidence, informative, valid_starts, noise[:, :, :num_starts], num_guided, num_random, target, params
    )  # (N, S), (N, S)

    guided_count, random_count = guided_frames.sum(dim=1), random_frames.sum(dim=1)  # (N, S) -> (N,)
    total = guided_count + random_count  # (N,)
    target = min(target, int(total.min()))
    guided_quota = (target * guided_count + total // 2) // total  # (N,) -> (N,), rounded half up
    guided_trim_keys = torch.where(informative[:, None], confidence, noise[-1])  # (N, 1), (N, S), (N, S) -> (N, S)
    return _keep_top(guided_frames, guided_trim_keys, guided_quota) | _keep_top(
        random_frames, noise[-1], target - guided_quota
    )


def _valid_frames_of(scores: Tensor, lengths: Tensor) -> Tensor:
    """Check shapes and NaN; ``(N, S), (N,) -> (N, S)`` bool, True at frames before each row's length."""
    if scores.ndim != 2 or scores.size(0) != lengths.numel():
        raise ValueError(
            f"scores must have shape (N, S) with N = len(lengths) = {lengths.numel()}, got shape {tuple(scores.shape)}"
        )
    check_lengths(lengths, scores.size(1))
    valid = torch.arange(scores.size(1), device=scores.device) < lengths[:, None]  # (S,), (N, 1) -> (N, S)
    num_nan = int((scores.isnan() & valid).sum())
    if num_nan:
        raise ValueError(
            f"scores must not be NaN at valid frames, found {num_nan} NaN among {int(valid.sum())} valid frames"
        )
    return valid


def _informative_rows(confidence: Tensor, valid: Tensor) -> Tensor:
    """Rows whose valid confidences are not all equal: ``(N, S), (N, S) -> (N,)`` bool."""
    highest = confidence.masked_fill(~valid, -torch.inf).amax(dim=1)  # (N, S) -> (N,)
    lowest = confidence.masked_fill(~valid, torch.inf).amin(dim=1)  # (N, S) -> (N,)
    return highest > lowest  # (N,)


def _place_spans(
    confidence: Tensor,
    informative: Tensor,
    valid_starts: Tensor,
    noise: Tensor,
    num_guided: int,
    num_random: int,
    target: int,
    params: Ask2MaskParams,
) -> tuple[Tensor, Tensor]:
    """Place the guided, then the random spans of every row (steps 2 and 3 of the module docstring).

    A span may re-mask masked frames only as long as the spans left can still
    bring the row to ``target`` masked frames; a row where no start satisfies
    this takes any unused start.
    ``confidence (N, S), informative (N,), valid_starts (N, R), noise (K_g + 2, N, R)``
    -> frames of guided spans ``(N, S)`` and frames only random spans mask ``(N, S)``.
    """
    span_len, num_spans = params.span_len, num_guided + num_random
    offsets = torch.arange(span_len, device=confidence.device)  # (L,)
    value = confidence + _NEW_FRAME_BONUS  # (N, S) -> (N, S)
    masked = torch.zeros_like(confidence, dtype=torch.bool)  # (N, S)
    num_masked = torch.zeros((confidence.size(0), 1), dtype=torch.int64, device=confidence.device)  # (N, 1)
    unused = valid_starts.clone()  # (N, R): starts not placed yet
    any_uninformative = not bool(informative.all())
    starts = []
    for index in range(num_spans):
        new_frames = span_len - _window_sums(masked, span_len)  # (N, S) -> (N, R)
        needed = target - num_masked - span_len * (num_spans - 1 - index)  # (N, 1)
        allowed = _where_any(unused & (new_frames >= needed), unused)  # (N, R)
        if index < num_guided:
            gains = _window_sums(value.masked_fill(masked, 0.0), span_len)  # (N, S) -> (N, R)
            keys = _guided_keys(gains, noise[index], params).masked_fill(~allowed, -torch.inf)  # (N, R) -> (N, R)
            if any_uninformative:
                uniform_keys = _uniform_keys(noise[-2], new_frames == span_len, allowed)  # (N, R)
                keys = torch.where(informative[:, None], keys, uniform_keys)  # (N, 1), (N, R), (N, R) -> (N, R)
        else:
            keys = _uniform_keys(noise[-2], new_frames == span_len, allowed)  # (N, R)
        start = keys.argmax(dim=1, keepdim=True)  # (N, R) -> (N, 1)
        unused.scatter_(1, start, False)  # (N, R)
        masked.scatter_(1, start + offsets, True)  # (N, 1) + (L,) -> (N, L) -> (N, S)
        num_masked += new_frames.gather(1, start)  # (N, R) -> (N, 1)
        starts.append(start)
    guided_starts = torch.cat(starts, dim=1)[:, :num_guided]  # K x (N, 1) -> (N, K) -> (N, K_g)
    guided_frames = (guided_starts[:, :, None] + offsets).flatten(1)  # (N, K_g, 1) + (L,) -> (N, K_g x L)
    guided = torch.zeros_like(masked).scatter_(1, guided_frames, True)  # (N, K_g x L) -> (N, S)
    return guided, masked & ~guided


def _where_any(preferred: Tensor, fallback: Tensor) -> Tensor:
    """Per row, ``preferred`` if it has a True, else ``fallback``: ``(N, R), (N, R) -> (N, R)``."""
    return torch.where(preferred.any(dim=1, keepdim=True), preferred, fallback)  # (N, 1), (N, R), (N, R) -> (N, R)


def _uniform_keys(uniform: Tensor, fresh: Tensor, allowed: Tensor) -> Tensor:
    """Keys placing a span uniformly at random among allowed starts, fresh ones (masking no masked frame) if any.

    ``uniform (N, R), fresh (N, R), allowed (N, R) -> (N, R)``; excluded starts get ``-inf``.
    """
    candidates = _where_any(allowed & fresh, allowed)  # (N, R)
    return uniform.masked_fill(~candidates, -torch.inf)  # (N, R) -> (N, R)


def _window_sums(values: Tensor, span_len: int) -> Tensor:
    """Sum of ``values`` over the span of every start: ``(N, S) -> (N, R)`` (float64 for floats, exact for bools)."""
    dtype = torch.float64 if values.is_floating_point() else torch.int64
    totals = torch.nn.functional.pad(values.cumsum(dim=1, dtype=dtype), (1, 0))  # (N, S) -> (N, S + 1)
    return totals[:, span_len:] - totals[:, :-span_len]  # (N, S + 1) -> (N, R)


def _guided_keys(gains: Tensor, uniform: Tensor, params: Ask2MaskParams) -> Tensor:
    """Keys of span starts, the highest is placed: ``(N, R), (N, R) -> (N, R)``, all finite.

    For ``"sample"`` the highest ``log(gain) / tau + Gumbel`` is a draw with
    probability proportional to ``gain ** (1 / tau)`` (Gumbel-max).
    """
    if params.selection == "topk":
        return gains
    tiny = torch.finfo(uniform.dtype).tiny
    gumbel = -torch.log(-torch.log(uniform.clamp_min(tiny)))  # (N, R) -> (N, R)
    return gains.clamp_min(tiny).log() / params.tau + gumbel  # (N, R) -> (N, R)


def _keep_top(mask: Tensor, keys: Tensor, quota: Tensor) -> Tensor:
    """Keep the ``quota[i]`` highest-key True frames of each row: ``(N, S), (N, S), (N,) -> (N, S)``."""
    order = keys.masked_fill(~mask, -torch.inf).argsort(dim=1, descending=True)  # (N, S) -> (N, S)
    ranks = torch.arange(mask.size(1), device=mask.device).expand_as(order)  # (S,) -> (N, S)
    rank_of = torch.empty_like(order).scatter_(1, order, ranks)  # (N, S) -> (N, S)
    return mask & (rank_of < quota[:, None])  # (N, S), (N, 1) -> (N, S)


def fit_scorer_frames(scores: Tensor, num_frames: int) -> Tensor:
    """Bring scorer frames ``(N, X)`` to the encoder's ``(N, Y)``, tolerating ``|X - Y| <= 1``.

    Scorer and encoder frame rates agree, but their convolution paddings may
    round a sequence's frame count differently by one, so one extra frame is
    dropped and one missing frame repeats the last one (edge value). A larger
    difference means the scores belong to something else: ``ValueError``.
    """
    if scores.ndim != 2:
        raise ValueError(f"scores must have shape (N, S), got shape {tuple(scores.shape)}")
    scorer_frames = scores.size(1)
    if abs(scorer_frames - num_frames) > 1:
        raise ValueError(
            f"scorer frames {scorer_frames} != encoder frames {num_frames} (a difference of 1 is tolerated)"
        )
    if scorer_frames >= num_frames:
        return scores[:, :num_frames]  # (N, X) -> (N, Y)
    return torch.cat([scores, scores[:, -1:]], dim=1)  # (N, X), (N, 1) -> (N, Y)
