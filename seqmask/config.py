"""Experiment configuration: frozen keyword-only dataclasses loaded from YAML presets.

A preset (``configs/<name>.yaml``) holds overrides only; everything else is the
dataclass default.  Loading checks every key and type before any work starts and
names the offending key in the error.  ``fingerprint()`` is the canonical hash a
stage's artifact key is built from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import yaml

from seqmask.data.audio import AudioChecks
from seqmask.speech.finetune import FinetuneConfig
from seqmask.speech.pretrain import MASKERS, PretrainConfig
from seqmask.speech.scorer import CONFIDENCES
from seqmask.store import canonical_json

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PRESETS_DIR = PROJECT_ROOT / "configs"


PATH = {"path": True}
"""Metadata of a field that holds a filesystem path. A relative path in a preset resolves against the project
root; on the command line (``--set KEY=PATH``, ``--manifest`` ...) against the current directory."""


class ConfigError(ValueError):
    """A configuration key is unknown, has the wrong type or an invalid value."""


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader, but numbers in exponent form without a dot (``1e-3``) are floats, as in YAML 1.2."""


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789")
)


def load_yaml(text: str) -> Any:
    """Parse YAML text (safe: plain data only) with YAML 1.2 floats."""
    return yaml.load(text, Loader=_Yaml12Loader)


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
        key = "speech_prep.synth."
        for name in ("tatoeba_language", "espeak_language"):
            _require(bool(getattr(self, name).strip()), key + name, f"a language code, found {getattr(self, name)!r}")
        _require(bool(self.voices) and all(v.strip() for v in self.voices), key + "voices", f"at least one voice name, found {list(self.voices)}")
        _require(all(v.strip() for v in self.heldout_voices), key + "heldout_voices", f"voice names, found {list(self.heldout_voices)}")
        overlap = set(self.voices) & set(self.heldout_voices)
        _require(not overlap, key + "heldout_voices", f"no voice also in voices, found {sorted(overlap)}")
        _require(bool(self.speeds) and all(80 <= s <= 450 for s in self.speeds), key + "speeds", f"espeak-ng rates in [80, 450] words per minute, found {list(self.speeds)}")
        _require(bool(self.pitches) and all(0 <= p <= 99 for p in self.pitches), key + "pitches", f"espeak-ng pitches in [0, 99], found {list(self.pitches)}")
        _require(self.target_hours > 0, key + "target_hours", f"> 0, found {self.target_hours}")
        _require(self.seconds_per_char > 0, key + "seconds_per_char", f"> 0, found {self.seconds_per_char}")
        _require(self.valid_share >= 0, key + "valid_share", f">= 0, found {self.valid_share}")
        shares = self.test_share + self.valid_share
        _require(0 < self.test_share and shares < 1, key + "test_share", f"0 < test_share and test_share + valid_share < 1, found {shares}")
        _require(math.isfinite(self.mismatched_snr_db), key + "mismatched_snr_db", f"a finite SNR in dB, found {self.mismatched_snr_db}")
        _require(self.jobs_per_task >= 1, key + "jobs_per_task", f">= 1, found {self.jobs_per_task}")


@dataclass(frozen=True, kw_only=True)
class UserCorpusConfig:
    """A user's own corpus: a JSONL manifest, or a directory of audio with a transcript TSV."""

    manifest: str | None = field(default=None, metadata=PATH)
    """JSONL with at least ``id`` and ``audio`` per line."""
    audio_dir: str | None = field(default=None, metadata=PATH)
    """Directory searched recursively for audio files."""
    transcripts: str | None = field(default=None, metadata=PATH)
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

    fsdd_dir: str = field(default="data/speech/fsdd", metadata=PATH)
    """Free Spoken Digit Dataset recordings."""
    fsdd_heldout_speaker: str = "yweweler"
    """FSDD speaker held out of training: the mismatched FSDD test set."""
    ljspeech_dir: str = field(default="data/speech/ljspeech", metadata=PATH)
    """LJSpeech sample clips with ``metadata.csv``."""
    tatoeba_dir: str = field(default="data/text/tatoeba", metadata=PATH)
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
        _require(bool(self.fsdd_heldout_speaker), "speech_prep.fsdd_heldout_speaker", "an FSDD speaker name, found ''")
        _section("speech_prep.checks", self.checks)
        self.synth.validate()
        self.user.validate()
        _require(self.shard_seconds > 0, "speech_prep.shard_seconds", f"> 0, found {self.shard_seconds}")
        _require(self.seed >= 0, "speech_prep.seed", f">= 0, found {self.seed}")


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
        address = self.dask_address
        _require(address is None or bool(re.fullmatch(r"[a-z+]+://\S+", address)), "orchestration.dask_address",
                 f"a scheduler address such as tcp://host:8786, found {address!r}")
        _require(self.retries >= 0, "orchestration.retries", f">= 0, found {self.retries}")
        _require(self.retry_delay_seconds >= 0, "orchestration.retry_delay_seconds", f">= 0, found {self.retry_delay_seconds}")


@dataclass(frozen=True, kw_only=True)
class ScorerConfig:
    """The external ASR model whose frame confidences guide Ask2Mask."""

    checkpoint: str | None = field(default=None, metadata=PATH)
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
            _section(f"speech.{name}", section)
        _require(self.pack_seconds > 0, "speech.pack_seconds", f"> 0, found {self.pack_seconds}")
        _require(self.scorer.confidence in CONFIDENCES, "speech.scorer.confidence", f"one of {CONFIDENCES}, found {self.scorer.confidence!r}")
        _require(self.finetune.arch == self.pretrain.arch, "speech.finetune.arch", f"the pretrained arch {self.pretrain.arch!r}, found {self.finetune.arch!r}")
        allowed = ("none", *MASKERS)
        for key, variants in (("variants", self.variants), ("compare_variants", self.compare_variants)):
            unknown = sorted(set(variants) - set(allowed))
            _require(bool(variants) and not unknown, f"speech.{key}", f"variants among {allowed}, found {unknown or 'none'}")
        _require(bool(self.seeds) and min(self.seeds) >= 0 and len(set(self.seeds)) == len(self.seeds), "speech.seeds",
                 f"distinct seeds >= 0, found {list(self.seeds)}")


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
        for key, path in path_values(self):
            _require(resolve_path(path).exists(), key, f"an existing file or directory, found no {resolve_path(path)}")


def _require(ok: bool, key: str, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: expected {expected}")


def _section(key: str, section: Any) -> None:
    """``section.validate()``, its ``ValueError`` ("field: expected ...") raised as a ``ConfigError`` under ``key``."""
    try:
        section.validate()
    except ValueError as err:
        raise ConfigError(f"{key}.{err}") from err


def path_values(config: Any, prefix: str = "") -> list[tuple[str, str]]:
    """``(dotted key, value)`` of every path field (:data:`PATH`) that is set in a config dataclass."""
    found = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            found += path_values(value, f"{prefix}{f.name}.")
        elif f.metadata.get("path") and value is not None:
            found.append((prefix + f.name, value))
    return found


def _field_at(cls: type, dotted: str) -> dataclasses.Field | None:
    """The dataclass field a dotted key names, or None when it names none."""
    *parents, leaf = dotted.split(".")
    for name in parents:
        hint = typing.get_type_hints(cls).get(name)
        if not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
            return None
        cls = hint
    return next((f for f in dataclasses.fields(cls) if f.name == leaf), None)


def absolute_paths(overrides: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """``overrides`` with every relative path value of a path field made absolute against ``base``
    (the command line's paths mean what they mean in the user's shell, not in the project root)."""
    resolved = {}
    for key, value in overrides.items():
        f = _field_at(ExperimentConfig, key)
        if f is not None and f.metadata.get("path") and isinstance(value, str) and not Path(value).expanduser().is_absolute():
            value = str((base / value).resolve())
        resolved[key] = value
    return resolved


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
    """Load a preset (name in ``configs/`` or a YAML path) and apply ``key.sub=value`` overrides.

    An error names where the bad value came from: the preset file, or the override (``--set KEY=VALUE``).
    """
    preset_path = Path(preset) if str(preset).endswith((".yaml", ".yml")) else PRESETS_DIR / f"{preset}.yaml"
    if not preset_path.is_file():
        known = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
        raise ConfigError(f"preset {str(preset)!r}: no file {preset_path} (known presets: {', '.join(known)})")
    try:
        data = load_yaml(preset_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{preset_path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{preset_path}: expected a mapping at the top level, found {type(data).__name__}")
    data.setdefault("preset", preset_path.stem)
    parsed = parse_overrides(overrides)
    for key, value in parsed.items():
        _set_dotted(data, key, value)
    labels = {key: f"override {key}" for key in parsed} if isinstance(overrides, Mapping) else {
        item.partition("=")[0].strip(): f"--set {item}" for item in overrides
    }

    def origin(key: str) -> str:
        """Where the value of ``key`` (or of the section it names) was given."""
        for overridden, label in labels.items():
            if key == overridden or key.startswith(overridden + ".") or overridden.startswith(key + "."):
                return label
        return str(preset_path)

    config = from_dict(ExperimentConfig, data, origin=origin)
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
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. speech_prep.synth.target_hours=0.5")
        try:
            parsed[key.strip()] = load_yaml(raw)
        except yaml.YAMLError as err:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML: {err}") from err
    return parsed


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for name in parents:
        node = node.setdefault(name, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted!r}: {name!r} is not a section")
    node[leaf] = value


def from_dict(cls: type, data: Mapping[str, Any], *, origin: Callable[[str], str] = lambda key: "config", prefix: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``, checking every key and type; ``origin(key)`` names where a key was given."""
    if not isinstance(data, Mapping):
        key = prefix.rstrip(".") or "config"
        raise ConfigError(f"{origin(key)}: {key}: expected a mapping, found {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = prefix + unknown[0]
        raise ConfigError(f"{origin(key)}: unknown key {key!r} (expected one of: {', '.join(prefix + f for f in fields)})")
    kwargs = {name: _convert(hints[name], value, origin, prefix + name) for name, value in data.items()}
    return cls(**kwargs)


def _convert(hint: Any, value: Any, origin: Callable[[str], str], key: str) -> Any:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        return _convert(non_none[0], value, origin, key)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, origin=origin, prefix=key + ".")
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, (list, tuple)):
            raise _type_error(origin(key), key, hint, value)
        return tuple(_convert(args[0], item, origin, f"{key}[{i}]") for i, item in enumerate(value))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float) and isinstance(value, bool):
        raise _type_error(origin(key), key, hint, value)
    if not isinstance(value, hint):
        raise _type_error(origin(key), key, hint, value)
    return value


def _type_error(where: str, key: str, hint: Any, value: Any) -> ConfigError:
    expected = getattr(hint, "__name__", str(hint))
    return ConfigError(f"{where}: {key}: expected {expected}, found {type(value).__name__} {value!r}")
