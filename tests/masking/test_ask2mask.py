"""Ask2Mask: confidence-guided span masks at the baseline's budget (pure functions)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqmask.masking.ask2mask import ask2mask_mask, frame_confidence, utterance_weights
from seqmask.masking.params.spans import Ask2MaskParams
from seqmask.masking.spans import batch_num_spans, random_span_mask

LENGTHS = torch.tensor([500, 480, 460, 440, 420, 400, 380, 360])


def mask_with(seed: int, params: Ask2MaskParams, scores: torch.Tensor, lengths: torch.Tensor = LENGTHS) -> torch.Tensor:
    return ask2mask_mask(lengths, scores, params, torch.Generator().manual_seed(seed))


def mean_masked_confidence(mask: torch.Tensor, scores: torch.Tensor) -> float:
    return float(scores[mask].mean())


def random_scores(seed: int, shape: tuple[int, int] = (8, 500)) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(10**6 + seed))  # independent of mask seeds


# --- parameters, frame and utterance confidence ---


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("span_len", 0),
        ("max_mask_prob", 1.5),
        ("min_num_spans", -1),
        ("selection", "greedy"),
        ("tau", 0.0),
        ("random_share", 1.1),
    ],
)
def test_params_validate_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Ask2MaskParams(**{field: value}).validate()  # type: ignore[arg-type]


def test_frame_confidence_is_max_posterior() -> None:
    posteriors = torch.softmax(torch.randn(2, 7, 5), dim=-1)
    assert torch.equal(frame_confidence(posteriors), posteriors.max(dim=-1).values)
    with pytest.raises(ValueError, match=r"\(N, S, V\)"):
        frame_confidence(posteriors[0])


def test_frame_confidence_can_leave_the_blank_out() -> None:
    posteriors = torch.tensor([[[0.9, 0.06, 0.04], [0.2, 0.3, 0.5]]])  # (1, 2, 3), class 0 = blank
    assert torch.allclose(frame_confidence(posteriors, exclude=0), torch.tensor([[0.06, 0.5]]))
    assert torch.allclose(frame_confidence(posteriors, exclude=2), torch.tensor([[0.9, 0.3]]))
    with pytest.raises(ValueError, match="exclude"):
        frame_confidence(posteriors, exclude=3)


def test_utterance_weights_mean_one_ordered_padding_ignored() -> None:
    scores = torch.tensor([[0.9, 0.8, 0.7, float("nan")], [0.2, 0.4, 5.0, 5.0], [0.5, 0.5, 0.5, 0.5]])
    lengths = torch.tensor([3, 2, 4])
    weights = utterance_weights(scores, lengths)
    means = torch.tensor([0.8, 0.3, 0.5])
    assert torch.allclose(weights, means / means.mean())
    assert math.isclose(float(weights.mean()), 1.0, rel_tol=1e-6)
    assert weights.argsort().tolist() == [1, 2, 0]


# --- mask properties ---


@st.composite
def scored_batches(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(lengths (N,), scores (N, S), seed); some batches hold rows too short to mask, some rows constant scores."""
    seq_len = draw(st.integers(1, 400))
    shortest = min(draw(st.sampled_from([1, 32, 100])), seq_len)
    lengths = torch.tensor(draw(st.lists(st.integers(shortest, seq_len), min_size=1, max_size=6)))
    seed = draw(st.integers(0, 2**31))
    scores = random_scores(seed, (len(lengths), seq_len))
    if draw(st.booleans()):
        scores[0] = 0.5
    return lengths, scores, seed


@settings(max_examples=60, deadline=None)
@given(
    batch=scored_batches(),
    selection=st.sampled_from(["topk", "sample"]),
    random_share=st.sampled_from([0.0, 0.3, 1.0]),
)
def test_mask_properties(batch: tuple[torch.Tensor, torch.Tensor, int], selection: str, random_share: float) -> None:
    lengths, scores, seed = batch
    params = Ask2MaskParams(selection=selection, random_share=random_share)
    mask = mask_with(seed, params, scores, lengths)
    counts = mask.sum(dim=1)
    seq_len = scores.size(1)

    assert mask.shape == scores.shape and mask.dtype == torch.bool
    assert torch.equal(mask, mask_with(seed, params, scores, lengths)), "same seed, different mask"
    assert not (mask & (torch.arange(seq_len) >= lengths[:, None])).any(), "masked at or beyond a row's length"
    assert (counts == counts[0]).all(), f"rows mask different counts: {counts.tolist()}"
    assert (counts <= params.max_mask_prob * lengths).all()
    # Same masked count as the baseline drawn with the same lengths and generator state.
    baseline = random_span_mask(lengths, seq_len, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(counts, baseline.sum(dim=1))
    if batch_num_spans(lengths, span_len=10, max_mask_prob=0.65, min_num_spans=2) == 0:
        assert not mask.any()


def test_topk_masks_more_confident_frames_than_random() -> None:
    for seed in range(5):
        scores = random_scores(seed)
        guided = mean_masked_confidence(mask_with(seed, Ask2MaskParams(), scores), scores)
        sampled = mean_masked_confidence(mask_with(seed, Ask2MaskParams(selection="sample"), scores), scores)
        baseline = random_span_mask(LENGTHS, 500, generator=torch.Generator().manual_seed(seed))
        random = mean_masked_confidence(baseline, scores)
        assert guided > sampled > random, (guided, sampled, random)
        assert guided > random + 0.15


@pytest.mark.parametrize(("background", "coverage"), [(0.1, 1.0), (0.5, 0.95)])
@pytest.mark.parametrize("seed", range(3))
def test_mask_covers_a_confident_region(background: float, coverage: float, seed: int) -> None:
    scores = background * random_scores(seed)  # background confidence in [0, background)
    scores[:, 100:160] = 0.95 + 0.05 * random_scores(seed + 100)[:, :60]  # a confident region of 6 spans
    for selection in ("topk", "sample"):
        mask = mask_with(seed, Ask2MaskParams(selection=selection, tau=0.1), scores)
        covered = float(mask[:, 100:160].float().mean())
        # A gap of a few frames between two placed spans inside the region stays
        # unmasked when a fresh background span adds more confidence.
        assert covered >= coverage, f"{selection}: region coverage {covered:.3f}"


def test_random_share_one_is_like_random() -> None:
    guided, random = [], []
    for seed in range(20):
        scores = random_scores(seed)
        guided.append(mean_masked_confidence(mask_with(seed, Ask2MaskParams(random_share=1.0), scores), scores))
        baseline = random_span_mask(LENGTHS, 500, generator=torch.Generator().manual_seed(seed + 1000))
        random.append(mean_masked_confidence(baseline, scores))
    assert abs(sum(guided) / 20 - sum(random) / 20) < 0.01


def test_random_share_interpolates() -> None:
    scores = random_scores(0)
    confidences = [
        mean_masked_confidence(mask_with(0, Ask2MaskParams(random_share=share), scores), scores)
        for share in (0.0, 0.5, 1.0)
    ]
    assert confidences[0] > confidences[1] > confidences[2]


def test_sample_with_tiny_tau_is_topk() -> None:
    scores = random_scores(3)
    topk = mask_with(3, Ask2MaskParams(), scores)
    sample = mask_with(3, Ask2MaskParams(selection="sample", tau=1e-6), scores)
    assert (topk == sample).float().mean() > 0.99


def test_nan_scores_are_counted() -> None:
    scores = random_scores(0)
    scores[0, :3] = float("nan")
    scores[7, 400] = float("nan")  # padding of row 7 (length 360): ignored
    with pytest.raises(ValueError, match=r"found 3 NaN among 3440 valid frames"):
        mask_with(0, Ask2MaskParams(), scores)


def test_constant_rows_fall_back_to_random() -> None:
    scores = random_scores(0)
    scores[0] = 0.7
    scores[1] = 1.0
    mask = mask_with(0, Ask2MaskParams(), scores)
    baseline = random_span_mask(LENGTHS, 500, generator=torch.Generator().manual_seed(0))
    assert torch.equal(mask.sum(dim=1), baseline.sum(dim=1))
    assert not torch.equal(mask[0], mask[1]), "constant rows should get independent random spans"
    everything_constant = torch.full((8, 500), 0.9)
    assert torch.equal(mask_with(0, Ask2MaskParams(), everything_constant).sum(dim=1), baseline.sum(dim=1))


@pytest.mark.parametrize("lengths", [[400, 5], [10, 10], [1], [31, 400]])
def test_rows_too_short_to_mask_give_empty_mask(lengths: list[int]) -> None:
    scores = random_scores(0, (len(lengths), 400))
    assert not mask_with(0, Ask2MaskParams(), scores, torch.tensor(lengths)).any()


def test_bad_scores_shape_is_reported() -> None:
    with pytest.raises(ValueError, match=r"N = len\(lengths\) = 8, got shape \(7, 500\)"):
        mask_with(0, Ask2MaskParams(), random_scores(0, (7, 500)))
