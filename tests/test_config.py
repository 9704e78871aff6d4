"""Presets load into frozen dataclasses; bad keys, types and values fail before any work."""

from __future__ import annotations

import dataclasses

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
