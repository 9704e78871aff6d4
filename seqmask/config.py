"""Experiment configuration: frozen keyword-only dataclasses loaded from YAML presets.

A preset (``configs/<name>.yaml``) holds overrides only; everything else is the
dataclass default.  Loading checks every key and type before any work starts and
names the offending key in the error.  ``fingerprint()`` is the canonical hash a
stage's artifact key is built from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from seqmask.data.audio import AudioChecks
from seqmask.speech.finetune import FinetuneConfig
from seqmask.speech.pretrain import MASKERS, PretrainConfig
from seqmask.speech.scorer import CONFIDENCES
from seqmask.store import canonical_json

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PRESETS_DIR = PROJECT_ROOT / "configs"


class ConfigError(ValueError):
    """A configuration key is unknown, has the wrong type or an invalid value."""


@dataclass(frozen=True, kw_only=True)
class SynthConfig:
    """Synthetic read speech spoken by espeak-ng from Tatoeba sentences."""

    enabled: bool = True
    """Synthesize the corpus at all."""
    tatoeba_language: str = "eng"
    """Tatoeba side to read sentences from (``tatoeba.*.<lang>``)."""
    espeak_language: str = "en"
    """Manifest language code of the synthesized speech."""
    voices: tuple[str, ...] = (
        "en-us", "en-us+f3", "en-gb+m3", "en-gb-x-rp+f2", "en-gb-x-gbclan+m1", "en-us+m7",
    )
    """espeak-ng voice specs used for train, valid and matched test."""
    heldout_voices: tuple[str, ...] = ("en-gb-scotland+f4", "en-029+m5")
    """Voices never trained on: the mismatched test split."""
    speeds: tuple[int, ...] = (140, 160, 180)
    """Speaking rates in words per minute, sampled per utterance."""
    pitches: tuple[int, ...] = (35, 50, 65)
    """Pitches (0-99), sampled per utterance."""
    target_hours: float = 3.0
    """Approximate total duration to synthesize."""
    seconds_per_char: float = 0.065
    """Duration estimate used to plan the amount of text."""
    test_share: float = 0.1
    """Share of sentences reserved for the test splits."""
    valid_share: float = 0.05
    """Share of sentences reserved for validation."""
    mismatched_snr_db: float = 15.0
    """White-noise SNR added to the held-out-voice test utterances."""
    jobs_per_task: int = 40
    """Utterances synthesized per Dask task."""

    def validate(self) -> None:
        if not self.enabled:
            return
        _require(bool(self.voices), "speech_prep.synth.voices", "at least one voice")
        overlap = set(self.voices) & set(self.heldout_voices)
        _require(not overlap, "speech_prep.synth.heldout_voices", f"no voice also in voices, found {sorted(overlap)}")
        _require(self.target_hours > 0, "speech_prep.synth.target_hours", f"> 0, found {self.target_hours}")
        shares = self.test_share + self.valid_share
        _require(0 < self.test_share and shares < 1, "speech_prep.synth.test_share", f"0 < test_share and test_share + valid_share < 1, found {shares}")
        _require(self.jobs_per_task >= 1, "speech_prep.synth.jobs_per_task", f">= 1, found {self.jobs_per_task}")


@dataclass(frozen=True, kw_only=True)
class UserCorpusConfig:
    """A user's own corpus: a JSONL manifest, or a directory of audio with a transcript TSV."""

    manifest: str | None = None
    """JSONL with at least ``id`` and ``audio`` per line."""
    audio_dir: str | None = None
    """Directory searched recursively for audio files."""
    transcripts: str | None = None
    """TSV ``id<TAB>text`` for ``audio_dir`` (id = file stem)."""

    @property
    def enabled(self) -> bool:
        return self.manifest is not None or self.audio_dir is not None

    def validate(self) -> None:
        _require(not (self.manifest and self.audio_dir), "speech_prep.user", "either manifest or audio_dir, not both")
        _require(self.transcripts is None or self.audio_dir is not None, "speech_prep.user.transcripts", "only together with audio_dir")


@dataclass(frozen=True, kw_only=True)
class SpeechPrepConfig:
    """Speech data preparation: manifests and 16 kHz shards for every corpus."""

    fsdd_dir: str = "data/speech/fsdd"
    """Free Spoken Digit Dataset recordings (relative to the project root)."""
    fsdd_heldout_speaker: str = "yweweler"
    """FSDD speaker held out of training: the mismatched FSDD test set."""
    ljspeech_dir: str = "data/speech/ljspeech"
    """LJSpeech sample clips with ``metadata.csv``."""
    tatoeba_dir: str = "data/text/tatoeba"
    """Tatoeba sentence files, the text source of the synthetic corpus."""
    checks: AudioChecks = field(default_factory=AudioChecks)
    """Decoding target and validation thresholds."""
    synth: SynthConfig = field(default_factory=SynthConfig)
    """The espeak-ng synthetic corpus."""
    user: UserCorpusConfig = field(default_factory=UserCorpusConfig)
    """An optional corpus of the user's own."""
    shard_seconds: float = 300.0
    """Audio seconds per shard (one Dask task each)."""
    seed: int = 0
    """Seed for synthesis planning and added noise."""

    def validate(self) -> None:
        _require(self.shard_seconds > 0, "speech_prep.shard_seconds", f"> 0, found {self.shard_seconds}")
        _require(self.checks.min_seconds < self.checks.max_seconds, "speech_prep.checks.min_seconds", "less than max_seconds")
        self.synth.validate()
        self.user.validate()


@dataclass(frozen=True, kw_only=True)
class OrchestrationConfig:
    """How stages run; never part of an artifact key."""

    dask_workers: int = 2
    """Worker processes of the default Dask LocalCluster."""
    dask_address: str | None = None
    """``tcp://host:8786`` of an existing Dask scheduler; None starts a LocalCluster."""
    retries: int = 1
    """Prefect retries of a stage that failed for a transient reason (I/O, lost worker)."""
    retry_delay_seconds: float = 5.0
    """Delay before such a retry."""

    def validate(self) -> None:
        _require(self.dask_workers >= 1, "orchestration.dask_workers", f">= 1, found {self.dask_workers}")
        _require(self.retries >= 0, "orchestration.retries", f">= 0, found {self.retries}")


@dataclass(frozen=True, kw_only=True)
class ScorerConfig:
    """The external ASR model whose frame confidences guide Ask2Mask."""

    checkpoint: str | None = None
    """A seqmask/fairseq2 wav2vec2 CTC checkpoint to use as the scorer; None trains one."""
    train: FinetuneConfig = field(default_factory=FinetuneConfig)
    """How the scorer is trained (from scratch) on the labelled training split."""
    confidence: str = "max"
    """Frame confidence: ``"max"`` = ``max_v p_t(v)`` (the paper); ``"nonblank"`` leaves the CTC blank out of the max."""


@dataclass(frozen=True, kw_only=True)
class SpeechConfig:
    """Ask2Mask experiments: scorer, pretraining, CTC fine-tuning and evaluation."""

    scorer: ScorerConfig = field(default_factory=ScorerConfig)
    """The scorer."""
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    """wav2vec 2.0 pretraining; ``masker`` is set per variant."""
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    """CTC fine-tuning from each pretrained encoder."""
    pack_seconds: float = 3.0
    """Short pretraining utterances of one speaker (FSDD digits) are concatenated up to this length."""
    variants: tuple[str, ...] = ("random", "ask2mask+utt")
    """Masking variants the ``speech`` flow runs (seed 0)."""
    compare_variants: tuple[str, ...] = ("none", "random", "ask2mask", "ask2mask+utt")
    """Variants of the ``compare`` experiment; ``none`` fine-tunes without pretraining."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Seeds of the ``compare`` experiment."""

    def validate(self) -> None:
        for name, section in (("scorer.train", self.scorer.train), ("pretrain", self.pretrain), ("finetune", self.finetune)):
            try:
                section.validate()
            except ValueError as err:
                raise ConfigError(f"speech.{name}.{err}") from err
        _require(self.scorer.confidence in CONFIDENCES, "speech.scorer.confidence", f"one of {CONFIDENCES}, found {self.scorer.confidence!r}")
        _require(self.finetune.arch == self.pretrain.arch, "speech.finetune.arch", f"the pretrained arch {self.pretrain.arch!r}, found {self.finetune.arch!r}")
        allowed = ("none", *MASKERS)
        for key, variants in (("variants", self.variants), ("compare_variants", self.compare_variants)):
            unknown = sorted(set(variants) - set(allowed))
            _require(bool(variants) and not unknown, f"speech.{key}", f"variants among {allowed}, found {unknown or 'none'}")
        _require(bool(self.seeds), "speech.seeds", "at least one seed")


@dataclass(frozen=True, kw_only=True)
class ExperimentConfig:
    """Everything one seqmask run needs."""

    preset: str = "small"
    """Name of the preset this config was loaded from."""
    speech_prep: SpeechPrepConfig = field(default_factory=SpeechPrepConfig)
    """Speech data preparation."""
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    """Ask2Mask pretraining, fine-tuning and evaluation."""
    orchestration: OrchestrationConfig = field(default_factory=OrchestrationConfig)
    """Dask and Prefect settings."""

    def validate(self) -> None:
        self.speech_prep.validate()
        self.speech.validate()
        self.orchestration.validate()


def _require(ok: bool, key: str, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: expected {expected}")


def fingerprint(config: Any) -> str:
    """sha256 of the canonical JSON of a config dataclass."""
    return hashlib.sha256(canonical_json(to_dict(config)).encode()).hexdigest()


def to_dict(config: Any) -> dict[str, Any]:
    """Plain nested dict of a config dataclass (tuples become lists)."""
    return dataclasses.asdict(config)


def resolve_path(path: str | Path) -> Path:
    """A config path: absolute as given, relative ones against the project root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def load_config(preset: str | Path = "small", overrides: Mapping[str, Any] | Sequence[str] = ()) -> ExperimentConfig:
    """Load a preset (name in ``configs/`` or a YAML path) and apply ``key.sub=value`` overrides."""
    preset_path = Path(preset) if str(preset).endswith((".yaml", ".yml")) else PRESETS_DIR / f"{preset}.yaml"
    if not preset_path.is_file():
        known = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
        raise ConfigError(f"preset {str(preset)!r}: no file {preset_path} (known presets: {', '.join(known)})")
    try:
        data = yaml.safe_load(preset_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{preset_path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{preset_path}: expected a mapping at the top level, found {type(data).__name__}")
    data.setdefault("preset", preset_path.stem)
    for key, value in parse_overrides(overrides).items():
        _set_dotted(data, key, value)
    config = from_dict(ExperimentConfig, data, where=str(preset_path))
    config.validate()
    return config


def parse_overrides(overrides: Mapping[str, Any] | Sequence[str]) -> dict[str, Any]:
    """``["a.b=VALUE", ...]`` (VALUE parsed as YAML) or a mapping -> ``{"a.b": value}``."""
    if isinstance(overrides, Mapping):
        return dict(overrides)
    parsed = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. speech_prep.synth.target_hours=0.5")
        parsed[key.strip()] = yaml.safe_load(raw)
    return parsed


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for name in parents:
        node = node.setdefault(name, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted!r}: {name!r} is not a section")
    node[leaf] = value


def from_dict(cls: type, data: Mapping[str, Any], *, where: str = "config", prefix: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``, checking every key and type."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: {prefix.rstrip('.') or 'config'}: expected a mapping, found {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {prefix + unknown[0]!r} (expected one of: {', '.join(prefix + f for f in fields)})"
        )
    kwargs = {name: _convert(hints[name], value, where, prefix + name) for name, value in data.items()}
    return cls(**kwargs)


def _convert(hint: Any, value: Any, where: str, key: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        return _convert(non_none[0], value, where, key)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where=where, prefix=key + ".")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _type_error(where, key, hint, value)
        return tuple(_convert(args[0], item, where, f"{key}[{i}]") for i, item in enumerate(value))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float) and isinstance(value, bool):
        raise _type_error(where, key, hint, value)
    if not isinstance(value, hint):
        raise _type_error(where, key, hint, value)
    return value


def _type_error(where: str, key: str, hint: Any, value: Any) -> ConfigError:
    expected = getattr(hint, "__name__", str(hint))
    return ConfigError(f"{where}: {key}: expected {expected}, found {type(value).__name__} {value!r}")
