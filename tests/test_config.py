"""Presets load into frozen dataclasses; bad keys, types and values fail before any work; every field is read."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys

import pytest

from seqmask.app.root import ExperimentConfig, experiment_from_dict, load_experiment
from seqmask.config import to_dict, with_overrides
from seqmask.paths import PRESETS_DIR
from seqmask.schema import ConfigError


@pytest.mark.parametrize("preset", sorted(p.stem for p in PRESETS_DIR.glob("*.yaml")))
def test_every_preset_loads_and_documents_its_command(preset):
    config = load_experiment(preset)
    assert config.preset == preset
    first_line = (PRESETS_DIR / f"{preset}.yaml").read_text().splitlines()[0]
    assert first_line.startswith("# seqmask run") and f"--preset {preset}" in first_line
    assert experiment_from_dict(to_dict(config)) == config  # what a flow receives is what was checked


def test_loading_a_config_imports_neither_torch_nor_fairseq2():
    code = (
        "import sys; from seqmask.app.root import load_experiment; load_experiment('small');"
        " print(sorted({'torch', 'fairseq2'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_configs_are_frozen_and_keyword_only():
    config = load_experiment("tiny")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.preset = "x"
    with pytest.raises(TypeError):
        ExperimentConfig("tiny")


def test_a_preset_that_sets_one_field_keeps_the_sections_own_defaults(tmp_path):
    preset = tmp_path / "mine.yaml"
    preset.write_text("speech:\n  pretrain: {train: {steps: 700}}\n")
    train = load_experiment(preset).speech.pretrain.train
    assert (train.steps, train.lr, train.betas, train.eps) == (
        700,
        1e-3,
        (0.9, 0.98),
        1e-6,
    )  # pretraining's, not the generic ones


def test_a_preset_extends_another(tmp_path):
    assert load_experiment("small-matched").speech.data.pretrain == ("fsdd",)
    assert load_experiment("small-matched").speech_prep == load_experiment("small").speech_prep
    assert load_experiment("small-pooled").speech.data.pretrain == ("espeak", "fsdd")
    loop = tmp_path / "loop.yaml"
    loop.write_text(f"extends: {loop}\n")
    with pytest.raises(ConfigError, match="extends it back"):
        load_experiment(loop)


def test_overrides_apply_with_yaml_types():
    config = load_experiment("tiny", ["speech_prep.synth.target_hours=0.5", "speech_prep.synth.voices=[en-us, en-gb]"])
    assert config.speech_prep.synth.target_hours == 0.5
    assert config.speech_prep.synth.voices == ("en-us", "en-gb")


def test_unknown_key_names_the_key_and_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown key 'speech_prep\.shard_secs'.*speech_prep\.shard_seconds"):
        load_experiment("tiny", ["speech_prep.shard_secs=3"])


def test_fields_that_nothing_read_are_gone():
    """The scorer trains on characters from scratch, and the variant picks the masker: no fields for either."""
    for key in (
        "speech.scorer.units",
        "speech.scorer.sp_vocab_size",
        "speech.scorer.freeze_encoder_steps",
        "speech.pretrain.masker",
        "speech_prep.checks.require_text",
        "speech.pretrain.arch",
    ):
        with pytest.raises(ConfigError, match=rf"unknown key '{re.escape(key)}'"):
            load_experiment("tiny", [f"{key}=1"])


def test_wrong_type_names_key_and_expected_type():
    with pytest.raises(ConfigError, match=r"speech_prep\.synth\.target_hours: expected float, found str 'lots'"):
        load_experiment("tiny", ["speech_prep.synth.target_hours=lots"])
    with pytest.raises(ConfigError, match=r"orchestration\.dask_workers: expected int, found bool"):
        load_experiment("tiny", ["orchestration.dask_workers=true"])


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ConfigError, match="known presets: .*tiny"):
        load_experiment("nope")


def test_malformed_override():
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_experiment("tiny", ["speech_prep.seed"])


def _leaf_keys(config, prefix=""):
    """Dotted keys and values of every leaf field of a config dataclass instance."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaf_keys(value, f"{prefix}{f.name}.")
        else:
            yield prefix + f.name, value


TRAINING_BAD_VALUES = {
    "steps": 0,
    "lr": 0.0,
    "warmup_steps": -1,
    "weight_decay": -0.1,
    "betas": [0.9, 1.5],
    "eps": 0.0,
    "clip_norm": 0.0,
    "seed": -3,
    "precision": "fp8",
    "checkpoint_every": 0,
    "log_every": 0,
    "max_nan_steps": -1,
}
"""A refused value of every field of a ``train`` section (shared by every model family)."""
BAD_VALUES = {
    "speech_prep.fsdd_dir": "/no/such/dir",
    "speech_prep.ljspeech_dir": "/no/such/dir",
    "speech_prep.tatoeba_dir": "no/such",
    "speech_prep.fsdd_heldout_speaker": "",
    "speech_prep.checks.sample_rate": -16000,
    "speech_prep.checks.min_seconds": -1.0,
    "speech_prep.checks.max_seconds": 0.05,
    "speech_prep.checks.silence_dbfs": 3.0,
    "speech_prep.checks.max_channels": 0,
    "speech_prep.synth.tatoeba_language": " ",
    "speech_prep.synth.espeak_language": "",
    "speech_prep.synth.voices": [],
    "speech_prep.synth.heldout_voices": ["en-us"],
    "speech_prep.synth.speeds": [20],
    "speech_prep.synth.pitches": [120],
    "speech_prep.synth.target_hours": 0.0,
    "speech_prep.synth.seconds_per_char": -0.1,
    "speech_prep.synth.test_share": 0.0,
    "speech_prep.synth.valid_share": -0.1,
    "speech_prep.synth.mismatched_snr_db": ".inf",
    "speech_prep.synth.jobs_per_task": 0,
    "speech_prep.user.manifest": "/no/such.jsonl",
    "speech_prep.user.audio_dir": "/no/such/dir",
    "speech_prep.user.transcripts": "x.tsv",
    "speech_prep.shard_seconds": 0.0,
    "speech_prep.seed": -1,
    "speech.scorer.checkpoint": "/no/model.pt",
    "speech.scores.confidence": "mean",
    "speech.pretrain.init_checkpoint": "/no/w2v.pt",
    "speech.pretrain.mask.span_len": 0,
    "speech.pretrain.mask.max_mask_prob": 1.5,
    "speech.pretrain.mask.min_num_spans": -1,
    "speech.pretrain.mask.selection": "best",
    "speech.pretrain.mask.tau": 0.0,
    "speech.pretrain.mask.random_share": 2.0,
    "speech.pretrain.diversity_weight": -1.0,
    "speech.pretrain.features_penalty_weight": -1.0,
    "speech.finetune.units": "words",
    "speech.finetune.sp_vocab_size": 1,
    "speech.finetune.freeze_encoder_steps": -1,
    "speech.pretrain.num_distractors": 0,
    "speech.pretrain.gumbel_temperature": [0.5, 2.0],
    "speech.data.target": ["timit"],
    "speech.data.pretrain": [],
    "speech.data.labelled_per_speaker": 0,
    "speech.data.labelled_seed": -1,
    "speech.references": [{"corpus": "fsdd"}, {"corpus": "fsdd"}],
    "speech.pack_seconds": 0.0,
    "speech.comparison.variants": ["none", "random", "ask2mask", "ask2mask+utt", "best"],
    "speech.comparison.main": ["best"],
    "speech.comparison.seeds": [0, 0],
    "speech.comparison.baseline": "best",
    "orchestration.dask_workers": 0,
    "orchestration.dask_address": "localhost",
    "orchestration.retries": -1,
    "orchestration.retry_delay_seconds": -5.0,
}
for _section in ("speech.scorer.encoder", "speech.encoder"):
    BAD_VALUES |= {f"{_section}.arch": "huge", f"{_section}.norm_order": "middle", f"{_section}.dropout": 1.0}
for _section in ("speech.scorer", "speech.finetune"):
    BAD_VALUES |= {
        f"{_section}.final_dropout": -0.1,
        f"{_section}.time_mask.span_len": 0,
        f"{_section}.time_mask.max_mask_prob": 0.0,
        f"{_section}.time_mask.min_num_spans": -1,
        f"{_section}.channel_mask.span_len": 0,
        f"{_section}.channel_mask.max_mask_prob": 2.0,
        f"{_section}.channel_mask.min_num_spans": -1,
    }
for _section in ("speech.scorer", "speech.pretrain", "speech.finetune"):
    BAD_VALUES |= {f"{_section}.max_frames": 0, f"{_section}.max_batch_size": 0}
    BAD_VALUES |= {f"{_section}.train.{name}": value for name, value in TRAINING_BAD_VALUES.items()}
BAD_VALUES |= {
    "text_prep.libreoffice_dir": "/no/such/dir",
    "text_prep.tatoeba_dir": "/no/such/dir",
    "text_prep.ud_dir": "/no/such/dir",
    "text_prep.libreoffice_languages": ["sin", "sin"],
    "text_prep.tatoeba_languages": [""],
    "text_prep.parallel": [{"source": ""}],
    "text_prep.monolingual": [{"path": ""}],
    "text_prep.test_pairs": 0,
    "text_prep.valid_pairs": 0,
    "text_prep.min_chars": 0,
    "text_prep.max_chars": 2,
    "text_prep.seed": -1,
    "text_prep.max_inflated_bytes": 0,
    "text.tokenizer.model": "/no/such.model",
    "text.tokenizer.vocab_size": 10,
    "text.tokenizer.max_unknown_rate": 1.5,
    "text.tag.taggers": [{"language": ""}],
    "text.tag.tagger_steps": 0,
    "text.tag.heldout_share": 1.0,
    "text.tag.sentences_per_task": 0,
    "text.encoder.layers": 0,
    "text.encoder.hidden": 31,
    "text.encoder.heads": 0,
    "text.encoder.ffn": 0,
    "text.encoder.max_len": 4,
    "text.encoder.dropout": 1.0,
    "text.base.init_from": "/no/such/dir",
    "text.base.batch_size": 0,
    "text.continual.batch_size": 0,
    "text.continual.units": "sentence",
    "text.continual.lem.mask_prob": 1.5,
    "text.continual.lem.entity": -1,
    "text.continual.lem.noun": -1,
    "text.continual.lem.verb": -1,
    "text.continual.lem.replace_mask": 0.95,
    "text.continual.lem.replace_random": -0.1,
    "text.mine.layer": -2,
    "text.mine.k": 0,
    "text.gates.min_gain": -1.0,
    "text.gates.gated_pairs": [],
    "text.gates.min_mlm_accuracy": 1.5,
    "text.comparison.variants": ["mlm", "lem", "best"],
    "text.comparison.main": ["best"],
    "text.comparison.seeds": [0, 0],
    "text.comparison.baseline": "best",
}
for _section in ("text.base.train", "text.continual.mlm", "text.continual.tlm"):
    BAD_VALUES |= {f"{_section}.{name}": value for name, value in TRAINING_BAD_VALUES.items()}
BAD_VALUES |= {
    "motion_prep.bandai_dir": "/no/such/dir",
    "motion_prep.drop_joints": [""],
    "motion_prep.scale": 0.0,
    "motion_prep.fps": 0,
    "motion_prep.window": 4,
    "motion_prep.min_frames": 0,
    "motion_prep.stride": 0,
    "motion_prep.max_windows_per_clip": 0,
    "motion_prep.test_clips": 0,
    "motion_prep.valid_clips": 0,
    "motion_prep.body_parts": [{"name": ""}],
    "motion_prep.seed": -1,
    "motion_prep.max_bvh_bytes": 0,
    "motion_prep.max_position": 0.0,
    "motion.text_encoder.clip": "/no/such/dir",
    "motion.text_encoder.dim": 4,
    "motion.text_encoder.batch_size": 1,
    "motion.denoiser.hidden": 6,
    "motion.denoiser.layers": 0,
    "motion.denoiser.heads": 0,
    "motion.denoiser.ffn": 0,
    "motion.denoiser.dropout": 1.0,
    "motion.diffusion.steps": 1,
    "motion.diffusion.condition_dropout": 1.0,
    "motion.diffusion.batch_size": 0,
    "motion.evaluator.hidden": 4,
    "motion.evaluator.dim": 4,
    "motion.evaluator.temperature": 0.0,
    "motion.evaluator.batch_size": 1,
    "motion.sampling.guidance": 0.5,
    "motion.sampling.sampler": "euler",
    "motion.sampling.ddim_steps": 0,
    "motion.sampling.sampling_seeds": [0, 0],
    "motion.sampling.multimodality_captions": 0,
    "motion.sampling.multimodality_samples": 1,
    "motion.sampling.r_precision_batch": 1,
    "motion.sampling.bootstrap": 5,
    "motion.gates.evaluator_r3": 1.5,
    "motion.gates.static_floor_share": 0.0,
    "motion.gates.other_caption_share": 0.0,
    "motion.gates.generated_r3": -0.1,
    "motion.masks": [{"kind": "time"}, {"kind": "time"}],
    "motion.ratio_study": [1.5],
    "motion.render_captions": 0,
    "motion.comparison.variants": ["none", "time", "body", "best"],
    "motion.comparison.main": ["best"],
    "motion.comparison.seeds": [0, 0],
    "motion.comparison.baseline": "best",
}
for _section in ("motion.text_encoder.train", "motion.diffusion.train", "motion.evaluator.train"):
    BAD_VALUES |= {f"{_section}.{name}": value for name, value in TRAINING_BAD_VALUES.items()}
ANY_VALUE_IS_VALID = {"preset", "speech_prep.synth.enabled", "text.encoder.language_embeddings", "text.mine.centre"}


def test_every_field_has_a_value_it_refuses():
    """A new field must come with its validation (and a row here): values are checked before any work."""
    assert {key for key, _ in _leaf_keys(ExperimentConfig())} - ANY_VALUE_IS_VALID == set(BAD_VALUES)


@pytest.mark.parametrize("key", sorted(BAD_VALUES))
def test_a_bad_value_fails_at_load_naming_its_key(key):
    value = BAD_VALUES[key]
    override = f"{key}={value}" if isinstance(value, str) and value.startswith(".") else f"{key}={json.dumps(value)}"
    with pytest.raises(ConfigError, match=rf"(^|: ){re.escape(key)}[.:\[]"):
        load_experiment("tiny", [override])


NOT_IN_ANY_KEY = {
    "preset": "a name for reports",
    "orchestration.dask_workers": "how stages run, never what they compute",
    "orchestration.dask_address": "how stages run",
    "orchestration.retries": "how stages run",
    "orchestration.retry_delay_seconds": "how stages run",
    "speech.comparison.variants": "which pipelines run, not what a stage computes",
    "speech.comparison.main": "which pipelines run",
    "speech.comparison.seeds": "which pipelines run",
    "speech_prep.user.manifest": "enables the user corpus (a user corpus is tested in the flow tests)",
    "speech_prep.user.audio_dir": "enables the user corpus",
    "speech_prep.user.transcripts": "only with audio_dir",
    "speech.scorer.checkpoint": "a path: changes the key through its file (tested in the flow tests)",
    "speech.pretrain.init_checkpoint": "a path, as above",
    "speech_prep.fsdd_dir": "a path, as above",
    "speech_prep.ljspeech_dir": "a path, as above",
    "speech_prep.tatoeba_dir": "a path, as above",
    "text.comparison.variants": "which pipelines run",
    "text.comparison.main": "which pipelines run",
    "text.comparison.seeds": "which pipelines run",
    "text_prep.libreoffice_dir": "a path, as above",
    "text_prep.tatoeba_dir": "a path, as above",
    "text_prep.ud_dir": "a path, as above",
    "text_prep.parallel": "a user's files: tested in tests/text/test_prep.py",
    "text_prep.monolingual": "a user's files, as above",
    "text.tokenizer.model": "a path, as above",
    "text.base.init_from": "a path, as above (tested in the text flow tests)",
    "motion_prep.bandai_dir": "a path, as above",
    "motion.text_encoder.clip": "a path, as above",
    "motion.ratio_study": "which pipelines run",
    "motion.comparison.variants": "which pipelines run",
    "motion.comparison.main": "which pipelines run",
    "motion.comparison.seeds": "which pipelines run",
}


def _changed(value):
    """A valid value other than ``value`` for most fields: the next choice, a little more, or the same list reversed."""
    choices = {
        "tiny": "small",
        "char": "sentencepiece",
        "max": "nonblank",
        "topk": "sample",
        "auto": "fp32",
        "eng": "deu",
        "en": "de",
        "yweweler": "theo",
        "pre": "post",
        "span": "word",
        "ddim": "ddpm",
        "random": "none",
        "mlm": "lem",
        "none": "time",
    }  # the last three: a comparison's baseline, another of its variants
    if isinstance(value, bool):
        return not value
    if value is None:  # an optional count, e.g. the distractors
        return 5
    if isinstance(value, str):
        return choices[value]
    if isinstance(value, float):
        return value * 0.5 if value else 0.5
    if isinstance(value, int):
        return value + 1
    if value and dataclasses.is_dataclass(value[0]):  # the references: drop the last
        return [dataclasses.asdict(item) for item in value[:-1]]
    if value and isinstance(value[0], str):  # corpora
        return ["fsdd", "espeak"] if list(value) != ["fsdd", "espeak"] else ["fsdd"]
    return list(value)[::-1] if len(value) > 1 else list(value) * 2


@pytest.mark.parametrize("key", sorted(key for key, _ in _leaf_keys(ExperimentConfig()) if key not in NOT_IN_ANY_KEY))
def test_every_field_is_read_by_some_stage(key):
    """Changing any field changes the config slice (and so the key) of at least one stage of the compare flows."""
    from seqmask.motion.pipeline import motion_compare_plan
    from seqmask.speech.pipeline import speech_compare_plan as compare_plan
    from seqmask.stage import plain
    from seqmask.text.pipeline import text_compare_plan

    base = load_experiment("tiny")
    value = dict(_leaf_keys(base))[key]
    overrides = {key: _changed(value)}
    if key == "speech.pretrain.gumbel_temperature":
        overrides = {key: [1.0, 0.5]}
    if key == "motion.masks":  # one entry per kind the comparison names: change a ratio instead
        overrides = {key: [{"kind": "none"}, {"kind": "time", "ratio": 0.4}, {"kind": "body", "ratio": 0.3}]}
    if key in (
        "text.encoder.hidden",
        "text.encoder.heads",
        "motion.denoiser.hidden",
        "motion.denoiser.heads",
    ):  # the width must stay a multiple of the heads
        overrides = {key: value * 2}
    changed = with_overrides(base, overrides, origin="test")

    def slices(config):
        pipelines = [
            pipeline for plan in (compare_plan, text_compare_plan, motion_compare_plan) for pipeline, _ in plan(config)
        ]
        return {
            f"{pipeline.name}/{stage.name}": plain(stage.config_of(config))
            for pipeline in pipelines
            for stage in pipeline.stages
            if stage.enabled(config)
        }

    before, after = slices(base), slices(changed)
    assert any(before[name] != after.get(name) for name in before), f"no stage reads {key}"


def test_exponent_floats_are_floats_in_presets_and_overrides(tmp_path):
    preset = tmp_path / "mine.yaml"
    preset.write_text("speech:\n  pretrain: {train: {lr: 5e-4}}\n")
    assert load_experiment(preset).speech.pretrain.train.lr == 5e-4
    assert load_experiment("tiny", ["speech.finetune.train.lr=1e-3"]).speech.finetune.train.lr == 1e-3


def test_override_errors_name_the_override(tmp_path):
    with pytest.raises(
        ConfigError, match=r"^--set speech\.pretrain\.train\.lr=fast: speech\.pretrain\.train\.lr: expected float"
    ):
        load_experiment("tiny", ["speech.pretrain.train.lr=fast"])
    preset = tmp_path / "mine.yaml"
    preset.write_text("speech:\n  pretrain: {train: {lr: fast}}\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(preset))}: speech\.pretrain\.train\.lr: expected float"):
        load_experiment(preset)


def test_command_line_paths_resolve_against_the_given_directory(tmp_path):
    from seqmask.config import absolute_paths

    resolved = absolute_paths(
        ExperimentConfig,
        {"speech_prep.user.manifest": "m.jsonl", "speech.scorer.checkpoint": "/abs/s.pt", "speech_prep.seed": 3},
        tmp_path,
    )
    assert resolved == {
        "speech_prep.user.manifest": str(tmp_path / "m.jsonl"),
        "speech.scorer.checkpoint": "/abs/s.pt",
        "speech_prep.seed": 3,
    }
