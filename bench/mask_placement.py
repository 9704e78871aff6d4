"""Where do the masks fall? Share of masked frames the scorer labels blank (silence, pauses), per masker.

    SEQMASK_HOME=... .venv/bin/python bench/mask_placement.py --scorer KEY_PREFIX [--corpora espeak] [--utterances 400]

Reads a ``scorer`` artifact and, through its lineage, the ``features`` and ``splits``
artifacts it was trained on. For up to ``--utterances`` training utterances of the
pretraining ``--corpora`` (a fixed sample, seed 0) it computes the scorer's posteriors
once, then draws with one seed: fairseq2's random span mask, and Ask2Mask with each
frame confidence: ``max`` (``max_v p_t(v)``, the paper), ``nonblank`` (the blank left
out of the max) and ``speech`` (``1 - p_t(blank)``). It prints, per masker, the share of
masked frames whose most probable class is the CTC blank, against that share over
all frames. Each Ask2Mask mask keeps the masked count of a baseline draw (another
draw than the random mask's here, so the masked shares differ a little).
"""

from __future__ import annotations

import argparse
import json

import torch

from seqmask.data.manifest import AudioRecord, read_jsonl
from seqmask.masking.ask2mask import ask2mask_mask, frame_confidence, speech_probability
from seqmask.masking.config import Ask2MaskParams
from seqmask.masking.spans import random_span_mask
from seqmask.speech.decode import inference_batches
from seqmask.speech.features import load_utterances
from seqmask.speech.scorer import CtcScorer
from seqmask.speech.vocab import BLANK_ID
from seqmask.store import ArtifactStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scorer", required=True, help="scorer artifact key or unique prefix")
    parser.add_argument("--corpora", default="espeak", help="comma-separated corpora whose train audio is sampled (the pretraining audio)")
    parser.add_argument("--utterances", type=int, default=400)
    args = parser.parse_args()

    store = ArtifactStore()
    scorer_ref = store.ref(store.resolve(args.scorer))
    inputs = store.lineage(scorer_ref.key)["inputs"]
    features, splits = (store.ref(inputs[name]["key"]).path for name in ("features", "splits"))
    index = json.loads((features / "index.json").read_text(encoding="utf-8"))
    corpora = args.corpora.split(",")
    records = [r for r in read_jsonl(splits / "manifests" / "train.jsonl", AudioRecord) if r.source in corpora]
    sample = torch.randperm(len(records), generator=torch.Generator().manual_seed(0))[: args.utterances].tolist()
    utterances = load_utterances(features, [records[i] for i in sorted(sample)], index)
    scorer = CtcScorer.load(scorer_ref.path / "model.pt", torch.device("cpu"))

    params = Ask2MaskParams()
    generator = torch.Generator().manual_seed(0)
    masked_blank = {name: [0, 0] for name in ("random", "ask2mask (max)", "ask2mask (nonblank)", "ask2mask (speech)")}  # [blank masked, masked]
    blank_frames = total_frames = 0
    for batch in inference_batches(utterances, max_frames=20000):
        posteriors = scorer.posteriors(batch)[:, : max(batch.encoder_lens)]  # (N, F, 80) -> (N, S, V)
        lengths = torch.tensor(batch.encoder_lens)  # (N,)
        valid = torch.arange(posteriors.size(1))[None, :] < lengths[:, None]  # (N, S)
        is_blank = (posteriors.argmax(dim=-1) == BLANK_ID) & valid  # (N, S, V) -> (N, S)
        blank_frames += int(is_blank.sum())
        total_frames += int(valid.sum())
        masks = {
            "random": random_span_mask(lengths, posteriors.size(1), span_len=params.span_len, max_mask_prob=params.max_mask_prob,
                                       min_num_spans=params.min_num_spans, generator=generator),
            "ask2mask (max)": ask2mask_mask(lengths, frame_confidence(posteriors), params, generator),
            "ask2mask (nonblank)": ask2mask_mask(lengths, frame_confidence(posteriors, exclude=BLANK_ID), params, generator),
            "ask2mask (speech)": ask2mask_mask(lengths, speech_probability(posteriors, BLANK_ID), params, generator),
        }  # each (N, S) bool
        for name, mask in masks.items():
            masked_blank[name][0] += int((mask & is_blank).sum())
            masked_blank[name][1] += int(mask.sum())

    print(f"scorer {scorer_ref.key[:12]}, {len(utterances)} train utterances of {args.corpora}, {total_frames} frames")
    print("| frames | masked share | blank share |")
    print("|---|---:|---:|")
    print(f"| all frames | – | {100 * blank_frames / total_frames:.1f}% |")
    for name, (blank, masked) in masked_blank.items():
        print(f"| masked by {name} | {100 * masked / total_frames:.1f}% | {100 * blank / max(masked, 1):.1f}% |")


if __name__ == "__main__":
    main()
