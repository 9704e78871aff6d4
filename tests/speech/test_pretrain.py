"""wav2vec 2.0 pretraining (a unit of the shared training loop): real tiny fairseq2 models on random filterbanks."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from pathlib import Path

import pytest
import torch
from fairseq2.nn import BatchLayout

from seqmask.config import validate
from seqmask.files import read_build_record
from seqmask.schema import ConfigError
from seqmask.speech.archs import ARCHS
from seqmask.speech.config import MASKERS, EncoderConfig, PretrainConfig
from seqmask.speech.features import Utterance, collate
from seqmask.speech.masker import Ask2MaskMasker
from seqmask.speech.model import build_pretrain_model, load_pretrained
from seqmask.speech.pretrain import masked_features, pretrain, pretrain_loss, utterance_contrastive_loss
from seqmask.speech.readers import metrics_file, model_file
from seqmask.training.checkpoint import read_checkpoint, save_checkpoint
from seqmask.training.loop import NanLossError

CPU = torch.device("cpu")
ENCODER = EncoderConfig(arch="tiny")
TINY = PretrainConfig(max_frames=2000, max_batch_size=4)
TINY = dataclasses.replace(
    TINY, train=dataclasses.replace(TINY.train, steps=6, warmup_steps=2, checkpoint_every=3, log_every=2)
)


def with_train(config: PretrainConfig, **changes) -> PretrainConfig:
    return dataclasses.replace(config, train=dataclasses.replace(config.train, **changes))


def utterance(uid: str, num_frames: int, generator: torch.Generator) -> Utterance:
    feats = torch.randn(num_frames, 80, generator=generator).to(torch.float16)  # (F, 80)
    return Utterance(uid, feats, None, "train", "synth", "spk")


def utterances(count: int = 8, *, seed: int = 0, short: int = 0) -> list[Utterance]:
    """``count`` utterances of 100-170 filterbank frames (50-85 encoder frames), then ``short`` of 16 frames."""
    generator = torch.Generator().manual_seed(seed)
    lengths = [100 + 10 * (i % 8) for i in range(count)] + [16] * short
    return [utterance(f"u{i}", n, generator) for i, n in enumerate(lengths)]


def scores_of(utts: list[Utterance], *, seed: int = 1) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {u.id: torch.rand(u.encoder_frames, generator=generator) for u in utts}  # (S,) each


def run(
    tmp_path: Path,
    config: PretrainConfig,
    utts: list[Utterance],
    scores=None,
    *,
    variant: str = "ask2mask+utt",
    name: str = "run",
    progress=None,
) -> dict:
    return pretrain(
        config,
        ENCODER,
        variant,
        utts,
        scores,
        out_dir=tmp_path / name / "out",
        work_dir=tmp_path / name / "ckpt",
        device=CPU,
        progress=progress,
    )


def metrics(tmp_path: Path, name: str = "run") -> list[dict]:
    return [json.loads(line) for line in metrics_file(tmp_path / name / "out").read_text().splitlines()]


# --- training runs -------------------------------------------------------------------------


@pytest.mark.parametrize("masker", MASKERS)
def test_each_masker_trains_with_a_finite_recorded_loss(tmp_path, masker):
    utts = utterances(short=2)
    scores = scores_of(utts)
    scores["u0"] = torch.cat([scores["u0"], scores["u0"][-1:]])  # one frame too many: tolerated
    scores["u1"] = scores["u1"][:-1]  # one frame too few: tolerated
    calls = []
    summary = run(tmp_path, TINY, utts, scores, variant=masker, progress=lambda s, t: calls.append((s, t)))

    assert calls == [(step, 6) for step in range(1, 7)]
    assert summary["steps"] == 6 and summary["skipped_nan"] == 0
    assert summary["dropped_short"] == 2 and summary["utterances"] == 8
    assert math.isfinite(summary["final_loss"]) and read_build_record(tmp_path / "run" / "out")["frames_per_second"] > 0
    lines = metrics(tmp_path)
    assert [line["step"] for line in lines] == [2, 4, 6]
    assert all(math.isfinite(line["loss"]) and math.isfinite(line["contrastive"]) for line in lines)
    assert lines[-1]["lr"] < lines[0]["lr"]  # decaying after warm-up
    checkpoint = read_checkpoint(model_file(tmp_path / "run" / "out"))
    assert checkpoint["seqmask"] == {
        "kind": "wav2vec2",
        "arch": "tiny",
        "encoder": dataclasses.asdict(ENCODER),
        "masker": masker,
        "steps": 6,
    }
    model = load_pretrained(model_file(tmp_path / "run" / "out"), ENCODER)
    assert int(model.quantizer.num_updates) == 6  # Gumbel temperature advanced once per step


@pytest.mark.parametrize("masker", ["random", "ask2mask"])
def test_per_utterance_contrastive_loss_sums_to_fairseq2s(masker):
    torch.manual_seed(0)
    utts = utterances(4)
    masker_module = None if masker == "random" else Ask2MaskMasker(ARCHS["tiny"].model_dim, TINY.mask)
    model = build_pretrain_model(ENCODER, masker=masker_module).train()
    batch = collate(utts)
    layout = BatchLayout.of(batch.feats, batch.feat_lens)
    scores = torch.rand(len(utts), max(batch.encoder_lens))  # (N, S)
    applied = model.masker if masker_module is None else functools.partial(model.masker, scores=scores)
    output = model.quantize_and_contrast(masked_features(model, batch.feats, layout, applied))
    loss = model.compute_loss(output, features_penalty_weight=10.0)

    per_utterance = utterance_contrastive_loss(output.logits)  # (N,)
    assert per_utterance.shape == (len(utts),)
    torch.testing.assert_close(per_utterance.sum(), loss.contrastive)
    ours = pretrain_loss(
        model, output, dataclasses.replace(TINY, features_penalty_weight=10.0)
    )  # fairseq2 forward's default
    torch.testing.assert_close(ours.total, loss.aggregate / output.num_targets)


def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    utts = utterances()
    scores = scores_of(utts)
    config = with_train(TINY, steps=8, log_every=1)
    run(tmp_path, config, utts, scores, name="straight")

    def kill_at_4(step: int, total: int) -> None:
        if step == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, config, utts, scores, name="killed", progress=kill_at_4)
    summary = run(tmp_path, config, utts, scores, name="killed")  # resumes from the step-3 checkpoint

    assert summary["steps"] == 8
    straight = read_checkpoint(model_file(tmp_path / "straight" / "out"))["model"]
    resumed = read_checkpoint(model_file(tmp_path / "killed" / "out"))["model"]
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.allclose(straight[key], resumed[key]), key
    assert [line["step"] for line in metrics(tmp_path, "killed")] == list(range(1, 9))
    assert [line["loss"] for line in metrics(tmp_path, "killed")] == [
        line["loss"] for line in metrics(tmp_path, "straight")
    ]
    with pytest.raises(ValueError, match=r"does not continue this run.*'training.lr'"):
        run(tmp_path, with_train(config, lr=3e-3), utts, scores, name="killed")


# --- non-finite losses -----------------------------------------------------------------------


def inf_utterances() -> list[Utterance]:
    """Six utterances in three batches of two; the longest has infinite features."""
    utts = utterances(6)
    utts[5] = dataclasses.replace(utts[5], feats=torch.full_like(utts[5].feats, math.inf))
    return utts


def test_a_non_finite_loss_skips_the_step_and_is_counted(tmp_path):
    config = with_train(dataclasses.replace(TINY, max_batch_size=2), steps=3)
    summary = run(tmp_path, config, inf_utterances(), variant="random")

    assert summary["steps"] == 3 and summary["skipped_nan"] >= 1
    assert math.isfinite(summary["final_loss"])
    weights = read_checkpoint(model_file(tmp_path / "run" / "out"))["model"]
    assert all(bool(value.float().isfinite().all()) for value in weights.values())


def test_more_non_finite_steps_than_allowed_raise(tmp_path):
    config = with_train(dataclasses.replace(TINY, max_batch_size=2), steps=3, max_nan_steps=0)
    with pytest.raises(NanLossError, match=r"^1 steps had a non-finite loss .* the last at step [1-3]$"):
        run(tmp_path, config, inf_utterances(), variant="random")


# --- inputs ----------------------------------------------------------------------------------


def test_missing_scores_name_the_utterance(tmp_path):
    utts = utterances(3)
    scores = scores_of(utts)
    del scores["u2"]
    with pytest.raises(ValueError, match=r"missing for 1: \['u2'\]"):
        run(tmp_path, TINY, utts, scores)
    with pytest.raises(ValueError, match="needs frame scores, got None"):
        run(tmp_path, TINY, utts, None)


def test_scores_three_frames_off_are_refused(tmp_path):
    utts = utterances(3)
    scores = scores_of(utts)
    scores["u1"] = torch.rand(utts[1].encoder_frames + 3)
    frames = utts[1].encoder_frames
    with pytest.raises(ValueError, match=rf"utterance 'u1'.*scorer frames {frames + 3} != encoder frames {frames}"):
        run(tmp_path, TINY, utts, scores)


def test_only_utterances_too_short_to_mask_are_refused(tmp_path):
    with pytest.raises(ValueError, match="all 2 utterances are too short to mask"):
        run(tmp_path, TINY, utterances(0, short=2), {})


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (dataclasses.replace(TINY, max_frames=0), "max_frames"),
        (with_train(TINY, warmup_steps=7), "train.warmup_steps"),
        (with_train(TINY, lr=0.0), "train.lr"),
        (dataclasses.replace(TINY, mask=dataclasses.replace(TINY.mask, span_len=0)), "mask.span_len"),
    ],
)
def test_invalid_config_names_the_field(config, field):
    validate(TINY)
    with pytest.raises(ConfigError, match=rf"^{field}: expected"):
        validate(config)


def test_an_unknown_variant_is_refused(tmp_path):
    with pytest.raises(ValueError, match="variant: expected one of"):
        run(tmp_path, TINY, utterances(4), variant="lem")


# --- initial checkpoint -------------------------------------------------------------------------


def test_pretraining_continues_from_an_initial_checkpoint(tmp_path):
    torch.manual_seed(123)
    initial = build_pretrain_model(ENCODER)
    save_checkpoint(tmp_path / "init.pt", initial, kind="wav2vec2", arch="tiny")
    config = with_train(
        dataclasses.replace(TINY, init_checkpoint=str(tmp_path / "init.pt")), steps=2, warmup_steps=1, lr=1e-9
    )
    run(tmp_path, config, utterances(4), variant="random")

    trained = read_checkpoint(model_file(tmp_path / "run" / "out"))["model"]
    saved = initial.state_dict()
    name = "encoder.layers.0.ffn.inner_proj.weight"
    torch.testing.assert_close(trained[name], saved[name], atol=1e-6, rtol=0)  # lr ~ 0: still the loaded weights
    torch.manual_seed(TINY.train.seed)
    assert not torch.allclose(build_pretrain_model(ENCODER).state_dict()[name], saved[name])  # not a fresh init


def test_a_missing_initial_checkpoint_is_named(tmp_path):
    path = tmp_path / "nowhere.pt"
    with pytest.raises(FileNotFoundError, match=str(path)):
        run(tmp_path, dataclasses.replace(TINY, init_checkpoint=str(path)), utterances(2), variant="random")


def test_an_initial_checkpoint_that_is_not_wav2vec2_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"model": {"foo": torch.zeros(1)}}, path)
    with pytest.raises(ValueError, match="is not a wav2vec2"):
        run(tmp_path, dataclasses.replace(TINY, init_checkpoint=str(path)), utterances(2), variant="random")
