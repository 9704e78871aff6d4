"""The speech pipeline: prep, features, scorer, scores, pretrain, finetune, evaluate, report.

``speech_pipeline(config)`` builds the stages for the configured masking variants and
seeds: ``pretrain-<variant>-s<seed>``, ``finetune-...``, ``evaluate-...``.  The variant
``none`` fine-tunes from a random encoder (the no-pretraining baseline).  Each stage
reads artifacts and writes one; nothing here knows about Prefect.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any, Sequence

import torch
from safetensors.torch import load_file, save_file

from seqmask.config import ExperimentConfig, resolve_path
from seqmask.data.manifest import AudioRecord, read_jsonl
from seqmask.data.speech_prep import SPEECH_PREP
from seqmask.eval.report import loss_curves_plot, mask_plot
from seqmask.masking.ask2mask import Ask2MaskParams, ask2mask_mask
from seqmask.masking.spans import random_span_mask
from seqmask.eval.wer import ALL, compare_table, evaluate_groups, wer_table
from seqmask.speech.features import Utterance, featurize_shard, load_utterances, pack_short_utterances
from seqmask.speech.finetune import default_device, train_ctc, transcribe
from seqmask.speech.model import load_asr, load_pretrained
from seqmask.speech.pretrain import PretrainConfig, pretrain
from seqmask.speech.scorer import CtcScorer, score_utterances
from seqmask.speech.vocab import Vocabulary
from seqmask.stage import Pipeline, Stage, StageContext

PRETRAIN_SPLITS = ("train", "unlabelled")
"""Audio the encoder is pretrained on (text ignored)."""
TEST_SPLITS = ("test_matched", "test_mismatched")


def _records(ctx: StageContext, splits: Sequence[str]) -> list[AudioRecord]:
    manifests = ctx.input_path("splits") / "manifests"
    return [record for split in splits for record in read_jsonl(manifests / f"{split}.jsonl", AudioRecord)]


def _utterances(ctx: StageContext, splits: Sequence[str]) -> list[Utterance]:
    features = ctx.input_path("features")
    index = json.loads((features / "index.json").read_text(encoding="utf-8"))
    return load_utterances(features, _records(ctx, splits), index)


def _labelled(utterances: Sequence[Utterance]) -> list[Utterance]:
    return [u for u in utterances if u.text]


def _progress(ctx: StageContext, what: str):
    """A ``progress(step, total)`` callback feeding the executor's progress reporting."""

    def report(step: int, total: int) -> None:
        if ctx.executor.on_progress is not None and (step == total or step % max(1, total // 50) == 0):
            ctx.executor.on_progress(f"{ctx.stage}: {what}", step, total)

    return report


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")


# --- features --------------------------------------------------------------------


def build_features(ctx: StageContext) -> None:
    """Filterbanks of every utterance of every split, one feature shard per audio shard."""
    splits_dir = ctx.input_path("splits")
    by_shard: dict[str, list[AudioRecord]] = {}
    for manifest in sorted((splits_dir / "manifests").glob("*.jsonl")):
        for record in read_jsonl(manifest, AudioRecord):
            by_shard.setdefault(record.shard, []).append(record)
    tasks = []
    for shard, records in sorted(by_shard.items()):
        target = ctx.out / "feats" / Path(shard).relative_to("shards")
        target.parent.mkdir(parents=True, exist_ok=True)
        tasks.append((records, splits_dir / shard, target))
    index: dict[str, str] = {}
    frames = 0
    for (_, _, target), counts in zip(tasks, ctx.executor.map(_featurize_task, tasks, desc=f"{ctx.stage}: shards")):
        index.update({rid: str(target.relative_to(ctx.out)) for rid in counts})
        frames += sum(counts.values())
    _write_json(ctx.out / "index.json", index)
    _write_json(ctx.out / "summary.json", {"utterances": len(index), "fbank_frames": frames})


def _featurize_task(task: tuple) -> dict[str, int]:
    records, shard, target = task
    return featurize_shard(records, shard, target)


# --- scorer and scores --------------------------------------------------------------


def build_scorer(ctx: StageContext) -> None:
    """Train the small CTC scorer on the labelled training split, or take the user's checkpoint."""
    if ctx.config["checkpoint"] is not None:
        source = resolve_path(ctx.config["checkpoint"])
        CtcScorer.load(source)  # fails loudly on a missing or wrong checkpoint
        shutil.copy2(source, ctx.out / "model.pt")
        _write_json(ctx.out / "summary.json", {"external": str(source)})
        return
    train = _labelled(_utterances(ctx, ("train",)))
    vocab = Vocabulary.chars(u.text for u in train)
    summary = train_ctc(ctx.config["train"], train, vocab, ctx.out, ctx.scratch, device=default_device(), progress=_progress(ctx, "steps"))
    valid = _labelled(_utterances(ctx, ("valid",)))
    if valid:  # the scorer's quality, one of the factors an Ask2Mask study varies
        model, _ = load_asr(ctx.out / "model.pt")
        rates = _error_rates(valid, transcribe(model, vocab, valid, device=default_device()))[ALL]
        summary |= {"valid_wer": round(100 * rates["wer"], 2), "valid_cer": round(100 * rates["cer"], 2)}
    _write_json(ctx.out / "summary.json", summary)


def build_scores(ctx: StageContext) -> None:
    """Frame confidences (20 ms) of every pretraining utterance, stored once."""
    scorer = CtcScorer.load(ctx.input_path("scorer") / "model.pt")
    utterances = _utterances(ctx, PRETRAIN_SPLITS)
    scores = score_utterances(scorer, utterances, confidence=ctx.config["confidence"], progress=_progress(ctx, "utterances"))
    save_file({uid: value.to(torch.float16).contiguous() for uid, value in scores.items()}, str(ctx.out / "scores.safetensors"))
    by_source: dict[str, list[float]] = {}
    for utterance in utterances:
        by_source.setdefault(utterance.source, []).append(float(scores[utterance.id].float().mean()))
    _write_json(ctx.out / "summary.json", {f"mean_confidence_{s}": round(sum(v) / len(v), 4) for s, v in sorted(by_source.items())})


# --- pretrain, finetune, evaluate --------------------------------------------------------


def build_pretrain(ctx: StageContext) -> None:
    config = ctx.config["pretrain"]
    utterances = _utterances(ctx, PRETRAIN_SPLITS)
    scores = None
    if config.masker != "random":
        scores = {k: v.float() for k, v in load_file(str(ctx.input_path("scores") / "scores.safetensors")).items()}
    utterances, scores = pack_short_utterances(utterances, scores, min_encoder_frames=ctx.config["pack_frames"])
    summary = pretrain(config, utterances, scores, ctx.out, ctx.scratch, device=default_device(), progress=_progress(ctx, "steps"))
    _write_json(ctx.out / "summary.json", summary)


def build_finetune(ctx: StageContext) -> None:
    config = ctx.config["finetune"]
    train = _labelled(_utterances(ctx, ("train",)))
    vocab = Vocabulary.chars(u.text for u in train) if config.units == "char" else Vocabulary.sentencepiece(
        (u.text for u in train), vocab_size=config.sp_vocab_size, work_dir=ctx.scratch
    )
    encoder = None
    if "pretrain" in ctx.config["inputs"]:
        encoder = load_pretrained(ctx.input_path(ctx.config["inputs"]["pretrain"]) / "model.pt", config.arch)
    summary = train_ctc(config, train, vocab, ctx.out, ctx.scratch, init_encoder=encoder, device=default_device(), progress=_progress(ctx, "steps"))
    _write_json(ctx.out / "summary.json", summary)


def build_evaluate(ctx: StageContext) -> None:
    """WER and CER with jiwer on every test split and source, and on ``valid`` (kept out of ``all``); hypotheses per utterance."""
    model, meta = load_asr(ctx.input_path(ctx.config["inputs"]["finetune"]) / "model.pt")
    vocab = Vocabulary.from_dict(meta["vocab"])
    tests = _labelled(_utterances(ctx, TEST_SPLITS))
    valid = _labelled(_utterances(ctx, ("valid",)))
    hyps = transcribe(model, vocab, [*tests, *valid], device=default_device())
    valid_rates = {group: rates for group, rates in _error_rates(valid, hyps).items() if group != ALL}
    results = {**_error_rates(tests, hyps), **valid_rates}
    _write_json(ctx.out / "wer.json", results)
    with (ctx.out / "hypotheses.jsonl").open("w", encoding="utf-8") as f:
        for u in [*tests, *valid]:
            f.write(json.dumps({"id": u.id, "group": f"{u.split}/{u.source}", "ref": u.text, "hyp": hyps[u.id]}, ensure_ascii=False) + "\n")
    (ctx.out / "wer.md").write_text(wer_table({ctx.config["variant"]: results}), encoding="utf-8")
    _write_json(ctx.out / "summary.json", {"wer_all": round(results["all"]["wer"] * 100, 2)})


def _error_rates(utterances: Sequence[Utterance], hyps: dict[str, str]) -> dict[str, dict[str, Any]]:
    """WER and CER of ``utterances`` per split (pooled over sources), per split and source, and ``all``."""
    refs = {u.id: u.text for u in utterances}
    own = {u.id: hyps[u.id] for u in utterances}
    by_split = evaluate_groups(refs, own, {u.id: u.split for u in utterances})
    return {**by_split, **evaluate_groups(refs, own, {u.id: f"{u.split}/{u.source}" for u in utterances})}


def build_report(ctx: StageContext) -> None:
    """One table (mean and std over seeds, relative change against random) and the plots."""
    runs = []
    for name, ref in sorted(ctx.inputs.items()):
        if name.startswith("evaluate-"):
            variant, seed = ctx.config["runs"][name]
            runs.append({"variant": variant, "seed": seed, "results": json.loads((ref.path / "wer.json").read_text())})
    seeds = sorted({run["seed"] for run in runs})
    lines = [f"# Ask2Mask (seeds {', '.join(map(str, seeds))}; espeak = synthetic speech)"]
    for metric in ("wer", "cer"):
        if len(seeds) > 1:
            table = compare_table(runs, baseline="random", metric=metric)
        else:
            table = wer_table({run["variant"]: run["results"] for run in runs}, metric=metric)
        lines += ["", f"{metric.upper()} %:", "", table]
    (ctx.out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _write_json(ctx.out / "runs.json", runs)
    curves = {name[len("pretrain-"):]: ref.path / "metrics.jsonl" for name, ref in ctx.inputs.items() if name.startswith("pretrain-")}
    if curves:
        loss_curves_plot(curves, ctx.out / "pretrain_loss.png")
    _plot_masks(ctx, ctx.out / "masks.png")
    (ctx.out / "summary.md").write_text((ctx.out / "report.md").read_text(encoding="utf-8"), encoding="utf-8")


def _plot_masks(ctx: StageContext, path: Path) -> None:
    """The random and the Ask2Mask mask of the longest labelled training utterance, on its spectrogram."""
    utterance = max(_labelled(_utterances(ctx, ("train",))), key=lambda u: u.encoder_frames)
    scores = load_file(str(ctx.input_path("scores") / "scores.safetensors"))[utterance.id].float()  # (S,)
    params = ctx.config["mask"]
    lengths = torch.tensor([utterance.encoder_frames])  # (1,)
    generator = torch.Generator().manual_seed(0)
    random = random_span_mask(lengths, utterance.encoder_frames, span_len=params.span_len, max_mask_prob=params.max_mask_prob,
                              min_num_spans=params.min_num_spans, generator=generator)[0]  # (S,)
    guided = ask2mask_mask(lengths, scores[None, : utterance.encoder_frames], params, generator)[0]  # (S,)
    mask_plot(utterance.feats.float(), scores, {"random": random, "ask2mask": guided}, path, title=f"{utterance.id}: {utterance.text}")


# --- the pipeline -------------------------------------------------------------------------

SPEECH_MODULES = ("seqmask.speech.features", "seqmask.speech.model", "seqmask.data.manifest")


def _run_name(variant: str, seed: int) -> str:
    return f"{variant.replace('+', '-')}-s{seed}"


def speech_pipeline(config: ExperimentConfig, *, variants: Sequence[str], seeds: Sequence[int], name: str = "speech") -> Pipeline:
    """speech-prep, then features, scorer and scores, then pretrain/finetune/evaluate per variant and seed, then a report."""
    stages: list[Stage] = list(SPEECH_PREP.stages)
    stages += [
        Stage("features", 1, build_features, config_of=lambda c: {}, inputs=("splits",), modules=SPEECH_MODULES),
        Stage(
            "scorer", 2, build_scorer, config_of=lambda c: {"checkpoint": c.speech.scorer.checkpoint, "train": c.speech.scorer.train}, inputs=("splits", "features"),
            modules=(*SPEECH_MODULES, "seqmask.speech.finetune", "seqmask.speech.vocab", "seqmask.speech.scorer", "seqmask.eval.wer"),
            sources=lambda c: [resolve_path(c.speech.scorer.checkpoint)] if c.speech.scorer.checkpoint else [],
        ),
        Stage(
            "scores", 1, build_scores, config_of=lambda c: {"confidence": c.speech.scorer.confidence}, inputs=("splits", "features", "scorer"),
            modules=(*SPEECH_MODULES, "seqmask.speech.scorer"),
        ),
    ]
    runs: dict[str, tuple[str, int]] = {}
    for variant in variants:
        for seed in seeds:
            run = _run_name(variant, seed)
            finetune_inputs = {"splits": "splits", "features": "features"}
            if variant != "none":
                stages.append(_pretrain_stage(run, variant, seed))
                finetune_inputs["pretrain"] = f"pretrain-{run}"
            stages.append(
                Stage(
                    f"finetune-{run}", 1, build_finetune,
                    config_of=lambda c, seed=seed, inputs=finetune_inputs: {
                        "finetune": dataclasses.replace(c.speech.finetune, seed=c.speech.finetune.seed + seed), "inputs": inputs,
                    },
                    inputs=tuple(finetune_inputs.values()),
                    modules=(*SPEECH_MODULES, "seqmask.speech.finetune", "seqmask.speech.vocab"),
                )
            )
            stages.append(
                Stage(
                    f"evaluate-{run}", 3, build_evaluate,
                    config_of=lambda c, run=run, variant=variant: {"variant": variant, "inputs": {"finetune": f"finetune-{run}"}},
                    inputs=("splits", "features", f"finetune-{run}"),
                    modules=(*SPEECH_MODULES, "seqmask.speech.finetune", "seqmask.eval.wer"),
                )
            )
            runs[f"evaluate-{run}"] = (variant, seed)
    report_inputs = ("splits", "features", "scores", *[s.name for s in stages if s.name.startswith(("pretrain-", "evaluate-"))])
    stages.append(
        Stage(
            "report", 1, build_report, config_of=lambda c: {"runs": runs, "mask": c.speech.pretrain.mask},
            inputs=report_inputs, modules=("seqmask.eval.wer", "seqmask.eval.report"),
        )
    )
    return Pipeline(name, tuple(stages))


def _variant_pretrain_config(config: PretrainConfig, variant: str, seed: int) -> PretrainConfig:
    """The pretraining config of one variant and seed; ``random`` keeps only the span parameters it uses,
    so that sweeping Ask2Mask's own parameters reuses the random baseline."""
    mask = config.mask
    if variant == "random":
        mask = Ask2MaskParams(span_len=mask.span_len, max_mask_prob=mask.max_mask_prob, min_num_spans=mask.min_num_spans)
    return dataclasses.replace(config, masker=variant, mask=mask, seed=config.seed + seed)


def _pretrain_stage(run: str, variant: str, seed: int) -> Stage:
    inputs = ("splits", "features") if variant == "random" else ("splits", "features", "scores")
    return Stage(
        f"pretrain-{run}", 1, build_pretrain,
        config_of=lambda c: {
            "pretrain": _variant_pretrain_config(c.speech.pretrain, variant, seed),
            "pack_frames": round(c.speech.pack_seconds * 50),
        },
        inputs=inputs,
        modules=(*SPEECH_MODULES, "seqmask.speech.pretrain", "seqmask.masking.ask2mask", "seqmask.masking.spans"),
        sources=lambda c: [resolve_path(c.speech.pretrain.init_checkpoint)] if c.speech.pretrain.init_checkpoint else [],
    )
