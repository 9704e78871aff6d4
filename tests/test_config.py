"""Presets load into frozen dataclasses; bad keys, types and values fail before any work."""

from __future__ import annotations

import dataclasses
import json
import re
import typing

import pytest

from seqmask.config import ConfigError, ExperimentConfig, PRESETS_DIR, fingerprint, load_config


@pytest.mark.parametrize("preset", sorted(p.stem for p in PRESETS_DIR.glob("*.yaml")))
def test_every_preset_loads_and_documents_its_command(preset):
    config = load_config(preset)
    assert config.preset == preset
    first_line = (PRESETS_DIR / f"{preset}.yaml").read_text().splitlines()[0]
    assert first_line.startswith("# seqmask run") and f"--preset {preset}" in first_line


def test_configs_are_frozen_and_keyword_only():
    config = load_config("tiny")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.preset = "x"
    with pytest.raises(TypeError):
        ExperimentConfig("tiny")


def test_overrides_apply_with_yaml_types():
    config = load_config("tiny", ["speech_prep.synth.target_hours=0.5", "speech_prep.synth.voices=[en-us, en-gb]"])
    assert config.speech_prep.synth.target_hours == 0.5
    assert config.speech_prep.synth.voices == ("en-us", "en-gb")


def test_unknown_key_names_the_key_and_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown key 'speech_prep\.shard_secs'.*speech_prep\.shard_seconds"):
        load_config("tiny", ["speech_prep.shard_secs=3"])


def test_wrong_type_names_key_and_expected_type():
    with pytest.raises(ConfigError, match=r"speech_prep\.synth\.target_hours: expected float, found str 'lots'"):
        load_config("tiny", ["speech_prep.synth.target_hours=lots"])
    with pytest.raises(ConfigError, match=r"orchestration\.dask_workers: expected int, found bool"):
        load_config("tiny", ["orchestration.dask_workers=true"])


def test_invalid_values_are_rejected():
    with pytest.raises(ConfigError, match="heldout_voices"):
        load_config("tiny", ["speech_prep.synth.heldout_voices=[en-us]"])
    with pytest.raises(ConfigError, match="shard_seconds"):
        load_config("tiny", ["speech_prep.shard_seconds=0"])


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ConfigError, match="known presets: .*tiny"):
        load_config("nope")


def test_malformed_override():
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config("tiny", ["speech_prep.seed"])


def test_fingerprint_tracks_values():
    a = load_config("tiny")
    assert fingerprint(a) == fingerprint(load_config("tiny"))
    assert fingerprint(a) != fingerprint(load_config("tiny", ["speech_prep.seed=1"]))


def _leaf_keys(cls, prefix=""):
    """Dotted keys and types of every leaf field of a config dataclass."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            yield from _leaf_keys(hint, f"{prefix}{f.name}.")
        else:
            yield prefix + f.name, hint


BAD_VALUES = {
    "speech_prep.fsdd_dir": "/no/such/dir", "speech_prep.ljspeech_dir": "/no/such/dir", "speech_prep.tatoeba_dir": "no/such",
    "speech_prep.fsdd_heldout_speaker": "", "speech_prep.checks.sample_rate": -16000, "speech_prep.checks.min_seconds": -1.0,
    "speech_prep.checks.max_seconds": 0.05, "speech_prep.checks.silence_dbfs": 3.0, "speech_prep.checks.max_channels": 0,
    "speech_prep.synth.tatoeba_language": " ", "speech_prep.synth.espeak_language": "", "speech_prep.synth.voices": [],
    "speech_prep.synth.heldout_voices": ["en-us"], "speech_prep.synth.speeds": [20], "speech_prep.synth.pitches": [120],
    "speech_prep.synth.target_hours": 0.0, "speech_prep.synth.seconds_per_char": -0.1, "speech_prep.synth.test_share": 0.0,
    "speech_prep.synth.valid_share": -0.1, "speech_prep.synth.mismatched_snr_db": ".inf", "speech_prep.synth.jobs_per_task": 0,
    "speech_prep.user.manifest": "/no/such.jsonl", "speech_prep.user.audio_dir": "/no/such/dir", "speech_prep.user.transcripts": "x.tsv",
    "speech_prep.shard_seconds": 0.0, "speech_prep.seed": -1, "speech.scorer.checkpoint": "/no/model.pt",
    "speech.scorer.confidence": "mean", "speech.pretrain.init_checkpoint": "/no/w2v.pt", "speech.pretrain.masker": "lem",
    "speech.pretrain.mask.span_len": 0, "speech.pretrain.mask.max_mask_prob": 1.5, "speech.pretrain.mask.min_num_spans": -1,
    "speech.pretrain.mask.selection": "best", "speech.pretrain.mask.tau": 0.0, "speech.pretrain.mask.random_share": 2.0,
    "speech.pretrain.max_nan_steps": -1, "speech.pretrain.diversity_weight": -1.0, "speech.pretrain.features_penalty_weight": -1.0,
    "speech.pack_seconds": 0.0, "speech.variants": ["best"], "speech.compare_variants": [], "speech.seeds": [0, 0],
    "orchestration.dask_workers": 0, "orchestration.dask_address": "localhost", "orchestration.retries": -1,
    "orchestration.retry_delay_seconds": -5.0,
}
for _section in ("speech.scorer.train", "speech.pretrain", "speech.finetune"):
    BAD_VALUES |= {
        f"{_section}.arch": "huge", f"{_section}.steps": 0, f"{_section}.lr": 0.0, f"{_section}.warmup_steps": -1,
        f"{_section}.weight_decay": -0.1, f"{_section}.clip_norm": 0.0, f"{_section}.max_frames": 0,
        f"{_section}.max_batch_size": 0, f"{_section}.seed": -3, f"{_section}.checkpoint_every": 0, f"{_section}.log_every": 0,
    }
for _section in ("speech.scorer.train", "speech.finetune"):
    BAD_VALUES |= {f"{_section}.units": "words", f"{_section}.sp_vocab_size": 1, f"{_section}.freeze_encoder_steps": -1}
ANY_VALUE_IS_VALID = {"preset", "speech_prep.checks.require_text", "speech_prep.synth.enabled"}


def test_every_field_has_a_value_it_refuses():
    """A new field must come with its validation (and a row here): values are checked before any work."""
    assert {key for key, _ in _leaf_keys(ExperimentConfig)} - ANY_VALUE_IS_VALID == set(BAD_VALUES)


@pytest.mark.parametrize("key", sorted(BAD_VALUES))
def test_a_bad_value_fails_at_load_naming_its_key(key):
    value = BAD_VALUES[key]
    override = f"{key}={value}" if isinstance(value, str) and value.startswith(".") else f"{key}={json.dumps(value)}"
    with pytest.raises(ConfigError, match=rf"(^|: ){re.escape(key)}[.:\[]"):
        load_config("tiny", [override])


def test_exponent_floats_are_floats_in_presets_and_overrides(tmp_path):
    preset = tmp_path / "mine.yaml"
    preset.write_text("speech:\n  pretrain: {lr: 5e-4}\n")
    assert load_config(preset).speech.pretrain.lr == 5e-4
    assert load_config("tiny", ["speech.finetune.lr=1e-3"]).speech.finetune.lr == 1e-3


def test_override_errors_name_the_override(tmp_path):
    with pytest.raises(ConfigError, match=r"^--set speech\.pretrain\.lr=fast: speech\.pretrain\.lr: expected float"):
        load_config("tiny", ["speech.pretrain.lr=fast"])
    preset = tmp_path / "mine.yaml"
    preset.write_text("speech:\n  pretrain: {lr: fast}\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(preset))}: speech\.pretrain\.lr: expected float"):
        load_config(preset)


def test_command_line_paths_resolve_against_the_given_directory(tmp_path):
    from seqmask.config import absolute_paths

    resolved = absolute_paths({"speech_prep.user.manifest": "m.jsonl", "speech.scorer.checkpoint": "/abs/s.pt", "speech_prep.seed": 3}, tmp_path)
    assert resolved == {"speech_prep.user.manifest": str(tmp_path / "m.jsonl"), "speech.scorer.checkpoint": "/abs/s.pt", "speech_prep.seed": 3}
