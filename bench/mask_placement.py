"""Where do the masks fall? Share of masked frames the scorer labels blank (silence, pauses), per masker.

    SEQMASK_HOME=... .venv/bin/python bench/mask_placement.py --scorer KEY_PREFIX [--corpora espeak]
                                                              [--utterances 400] [--pack-seconds 3]
    .venv/bin/python bench/mask_placement.py --quick

Reads a ``scorer`` artifact and, through its lineage, the ``features`` and ``splits``
artifacts it was trained on. For up to ``--utterances`` training utterances of the
pretraining ``--corpora`` (a fixed sample, seed 0) it computes the scorer's posteriors per
utterance, packs short utterances of a speaker to ``--pack-seconds`` as pretraining does
(FSDD digits are too short to mask alone), then draws with one seed: fairseq2's random span mask, and Ask2Mask with each
frame confidence: ``max`` (``max_v p_t(v)``, the paper), ``nonblank`` (the blank left
out of the max) and ``speech`` (``1 - p_t(blank)``). It prints, per masker, the share of
masked frames whose most probable class is the CTC blank, against that share over
all frames. Each Ask2Mask mask keeps the masked count of a baseline draw (another
draw than the random mask's here, so the masked shares differ a little). It times nothing.

``--quick`` reads no store: an untrained CTC scorer of the ``tiny`` preset's scorer encoder on random filterbanks of
a few short utterances of two speakers, through the same packing, masking and table (its shares mean nothing).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from _common import bench_parser, parse_args  # bench/ is first on sys.path

from seqmask.masking.ask2mask import ask2mask_mask
from seqmask.masking.params.spans import Ask2MaskParams
from seqmask.masking.spans import random_span_mask
from seqmask.speech.config import CONFIDENCES
from seqmask.speech.decode import inference_batches
from seqmask.speech.features import encoder_frames_in, load_utterances
from seqmask.speech.packing import pack_short_utterances
from seqmask.speech.readers import model_file, read_feature_index, records
from seqmask.speech.scorer import CtcScorer, frame_scores
from seqmask.speech.vocab import BLANK_ID
from seqmask.store import ArtifactStore

FRAME_VALUES = (*CONFIDENCES, "blank")
BATCH = 16


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--scorer", help="scorer artifact key or unique prefix (required unless --quick)")
    parser.add_argument(
        "--corpora",
        default="espeak",
        help="comma-separated corpora whose train audio is sampled (the pretraining audio)",
    )
    parser.add_argument("--utterances", type=int, default=400)
    parser.add_argument("--pack-seconds", type=float, default=3.0, help="pretraining's speech.pack_seconds")
    args = parse_args(parser, {"utterances": 24})
    if args.quick:
        scorer, utterances, described = quick_inputs(args.utterances)
    elif args.scorer:
        scorer, utterances, described = store_inputs(args)
    else:
        parser.error("--scorer is required (or --quick)")
    placement_table(scorer, utterances, args.pack_seconds, described)


def store_inputs(args) -> tuple[CtcScorer, list, str]:
    """The scorer artifact ``args.scorer`` and a fixed sample of the training utterances of its features."""
    store = ArtifactStore()
    scorer_ref = store.ref(store.resolve(args.scorer))
    inputs = store.lineage(scorer_ref.key)["inputs"]
    features, splits = (store.ref(inputs[name]["key"]).path for name in ("features", "splits"))
    found = records(splits, ("train",), args.corpora.split(","))
    sample = torch.randperm(len(found), generator=torch.Generator().manual_seed(0))[: args.utterances].tolist()
    utterances = load_utterances(features, [found[i] for i in sorted(sample)], read_feature_index(features))
    scorer = CtcScorer.load(model_file(scorer_ref.path), torch.device("cpu"))
    return scorer, utterances, f"scorer {scorer_ref.key[:12]}, {len(utterances)} train utterances of {args.corpora}"


def quick_inputs(count: int) -> tuple[CtcScorer, list, str]:
    """An untrained scorer (the ``tiny`` preset's scorer encoder, FSDD characters) and ``count`` random utterances of
    0.5-1.5 s from two speakers."""
    from seqmask.app.root import load_experiment
    from seqmask.data.fsdd import DIGIT_WORDS
    from seqmask.speech.features import Utterance
    from seqmask.speech.model import build_asr_model
    from seqmask.speech.vocab import Vocabulary

    config = load_experiment("tiny").speech.scorer
    generator = torch.Generator().manual_seed(0)
    scorer = CtcScorer(
        build_asr_model(config.encoder, len(Vocabulary.chars(DIGIT_WORDS).tokens), config), torch.device("cpu")
    )
    frames = torch.randint(50, 151, (count,), generator=generator).tolist()
    utterances = [
        Utterance(f"q{i}", torch.randn(n, 80, generator=generator).half(), None, "train", "quick", f"s{i % 2}")
        for i, n in enumerate(frames)
    ]
    return (
        scorer,
        utterances,
        f"--quick: untrained {config.encoder.arch} scorer, {count} random utterances (shares mean nothing)",
    )


def placement_table(scorer: CtcScorer, utterances: list, pack_seconds: float, described: str) -> None:
    """Pack ``utterances`` as pretraining does, draw every mask, print the masked and blank shares."""
    frame_values = _per_utterance_frames(scorer, utterances)
    # as pretraining reads them: short utterances of a speaker concatenated to --pack-seconds, values alongside
    packed: dict[str, dict[str, torch.Tensor]] = {}
    for name in FRAME_VALUES:
        found, values = pack_short_utterances(
            utterances,
            {uid: v[name] for uid, v in frame_values.items()},
            min_encoder_frames=encoder_frames_in(pack_seconds),
        )
        packed[name] = values
    lengths_by_id = {u.id: u.encoder_frames for u in found}

    params = Ask2MaskParams()
    generator = torch.Generator().manual_seed(0)
    masked_blank = {
        name: [0, 0] for name in ("random", *(f"ask2mask ({c})" for c in CONFIDENCES))
    }  # [blank masked, masked]
    blank_frames = total_frames = 0
    ids = sorted(lengths_by_id, key=lambda uid: lengths_by_id[uid])
    for start in range(0, len(ids), BATCH):
        batch_ids = ids[start : start + BATCH]
        lengths = torch.tensor([lengths_by_id[uid] for uid in batch_ids])  # (N,)
        width = int(lengths.max())

        def stacked(name: str, width: int = width, batch_ids: list[str] = batch_ids) -> torch.Tensor:
            return torch.stack(
                [F.pad(packed[name][uid], (0, width - len(packed[name][uid]))) for uid in batch_ids]
            )  # (N, S)

        valid = torch.arange(width)[None, :] < lengths[:, None]  # (N, S)
        is_blank = stacked("blank").bool() & valid  # (N, S)
        blank_frames += int(is_blank.sum())
        total_frames += int(valid.sum())
        masks = {
            "random": random_span_mask(
                lengths,
                width,
                span_len=params.span_len,
                max_mask_prob=params.max_mask_prob,
                min_num_spans=params.min_num_spans,
                generator=generator,
            ),
            **{f"ask2mask ({name})": ask2mask_mask(lengths, stacked(name), params, generator) for name in CONFIDENCES},
        }  # each (N, S) bool
        for name, mask in masks.items():
            masked_blank[name][0] += int((mask & is_blank).sum())
            masked_blank[name][1] += int(mask.sum())

    print(f"{described} ({len(found)} after packing to {pack_seconds:g} s), {total_frames} frames")
    print("| frames | masked share | blank share |")
    print("|---|---:|---:|")
    print(f"| all frames | – | {100 * blank_frames / total_frames:.1f}% |")
    for name, (blank, masked) in masked_blank.items():
        print(f"| masked by {name} | {100 * masked / total_frames:.1f}% | {100 * blank / max(masked, 1):.1f}% |")


def _per_utterance_frames(scorer: CtcScorer, utterances: list) -> dict[str, dict[str, torch.Tensor]]:
    """Per utterance, per encoder frame: each confidence and whether the blank is the most probable class, as the
    ``scores`` stage computes them (one utterance's posteriors at a time in length-sorted batches)."""
    values: dict[str, dict[str, torch.Tensor]] = {}
    for batch in inference_batches(utterances, max_frames=20000):
        posteriors = scorer.posteriors(batch)  # (N, F, 80) -> (N, S, V)
        confidences = {
            **{name: frame_scores(posteriors, name) for name in CONFIDENCES},
            "blank": (posteriors.argmax(dim=-1) == BLANK_ID).float(),
        }  # each (N, S)
        for row, (uid, length) in enumerate(zip(batch.ids, batch.encoder_lens)):
            values[uid] = {name: confidence[row, :length] for name, confidence in confidences.items()}  # each (S_i,)
    return values


if __name__ == "__main__":
    main()
