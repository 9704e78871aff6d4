"""Config sections of the speech pipelines: data prep, the scorer, pretraining, fine-tuning (no torch imports)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from seqmask.data.config import AudioChecks
from seqmask.masking.config import Ask2MaskParams
from seqmask.schema import PATH, require
from seqmask.speech.archs import ARCHS
from seqmask.training.config import TrainingConfig

MASKERS = ("random", "ask2mask", "ask2mask+utt")
"""Pretraining maskers: fairseq2's random spans, Ask2Mask's confident spans, and those plus utterance weights."""
VARIANTS = ("none", *MASKERS)
"""What a comparison runs: ``none`` fine-tunes without pretraining."""
BASELINE = "random"
"""The variant every masker is compared against."""
CONFIDENCES = ("max", "nonblank")
"""Frame confidences: ``max_v p_t(v)`` (the paper's) or the max over every class but the CTC blank."""
UNITS = ("char", "sentencepiece")
"""CTC output units."""


# --- data preparation ---------------------------------------------------------------------


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
        for name in ("tatoeba_language", "espeak_language"):
            require(bool(getattr(self, name).strip()), name, "a language code", getattr(self, name))
        require(bool(self.voices) and all(v.strip() for v in self.voices), "voices", "at least one voice name", list(self.voices))
        require(all(v.strip() for v in self.heldout_voices), "heldout_voices", "voice names", list(self.heldout_voices))
        overlap = sorted(set(self.voices) & set(self.heldout_voices))
        require(not overlap, "heldout_voices", "no voice also in voices", overlap)
        require(bool(self.speeds) and all(80 <= s <= 450 for s in self.speeds), "speeds", "espeak-ng rates in [80, 450] words per minute", list(self.speeds))
        require(bool(self.pitches) and all(0 <= p <= 99 for p in self.pitches), "pitches", "espeak-ng pitches in [0, 99]", list(self.pitches))
        require(self.target_hours > 0, "target_hours", "> 0", self.target_hours)
        require(self.seconds_per_char > 0, "seconds_per_char", "> 0", self.seconds_per_char)
        require(self.valid_share >= 0, "valid_share", ">= 0", self.valid_share)
        shares = self.test_share + self.valid_share
        require(0 < self.test_share and shares < 1, "test_share", "0 < test_share and test_share + valid_share < 1", shares)
        require(math.isfinite(self.mismatched_snr_db), "mismatched_snr_db", "a finite SNR in dB", self.mismatched_snr_db)
        require(self.jobs_per_task >= 1, "jobs_per_task", ">= 1", self.jobs_per_task)


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
        require(not (self.manifest and self.audio_dir), "manifest", "either manifest or audio_dir, not both", self.manifest)
        require(self.transcripts is None or self.audio_dir is not None, "transcripts", "only together with audio_dir", self.transcripts)


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
        require(bool(self.fsdd_heldout_speaker), "fsdd_heldout_speaker", "an FSDD speaker name", self.fsdd_heldout_speaker)
        require(self.shard_seconds > 0, "shard_seconds", "> 0", self.shard_seconds)
        require(self.seed >= 0, "seed", ">= 0", self.seed)


# --- models ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SpeechModelConfig:
    """A wav2vec 2.0 model and how its batches are made."""

    arch: str = "small"
    """Architecture, a key of ``seqmask.speech.archs.ARCHS``."""
    max_frames: int = 12000
    """Padded filterbank frames (10 ms) per batch."""
    max_batch_size: int = 16
    """Utterances per batch at most."""

    def validate(self) -> None:
        require(self.arch in ARCHS, "arch", f"one of {sorted(ARCHS)}", self.arch)
        require(self.max_frames >= 1, "max_frames", ">= 1", self.max_frames)
        require(self.max_batch_size >= 1, "max_batch_size", ">= 1", self.max_batch_size)


@dataclass(frozen=True, kw_only=True)
class ScorerConfig(SpeechModelConfig):
    """The external ASR model whose frame confidences guide Ask2Mask: a CTC model on characters."""

    checkpoint: str | None = field(default=None, metadata=PATH)
    """A seqmask wav2vec2 CTC checkpoint to use as the scorer; None trains one from scratch on the labelled train split."""
    train: TrainingConfig = field(default_factory=TrainingConfig)
    """How the scorer is trained."""


@dataclass(frozen=True, kw_only=True)
class ScoresConfig:
    """How the scorer's posteriors become the frame confidences that pretraining reads."""

    confidence: str = "max"
    """``"max"`` = ``max_v p_t(v)`` (the paper); ``"nonblank"`` leaves the CTC blank out of the max."""

    def validate(self) -> None:
        require(self.confidence in CONFIDENCES, "confidence", f"one of {CONFIDENCES}", self.confidence)


@dataclass(frozen=True, kw_only=True)
class PretrainConfig(SpeechModelConfig):
    """wav2vec 2.0 pretraining; the masker is the variant's (random, ask2mask, ask2mask+utt)."""

    mask: Ask2MaskParams = field(default_factory=Ask2MaskParams)
    """Span masking; ``span_len``, ``max_mask_prob`` and ``min_num_spans`` also configure ``random``."""
    train: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(steps=1500, lr=5e-4, warmup_steps=150, betas=(0.9, 0.98), eps=1e-6)
    )
    """How the encoder is pretrained."""
    diversity_weight: float = 0.1
    """Weight of fairseq2's codebook diversity loss."""
    features_penalty_weight: float = 0.0
    """Weight of fairseq2's L2 penalty on the front-end features (10 for the waveform CNN; with the
    filterbank front end the penalised features are the fixed inputs, so it only offsets the loss)."""
    init_checkpoint: str | None = field(default=None, metadata=PATH)
    """Local fairseq2/fairseq wav2vec2 checkpoint to continue pretraining from; ``None``: random initialisation."""

    def validate(self) -> None:
        super().validate()
        require(self.diversity_weight >= 0, "diversity_weight", ">= 0", self.diversity_weight)
        require(self.features_penalty_weight >= 0, "features_penalty_weight", ">= 0", self.features_penalty_weight)


@dataclass(frozen=True, kw_only=True)
class FinetuneConfig(SpeechModelConfig):
    """CTC fine-tuning of each pretrained encoder on the labelled train split."""

    units: str = "char"
    """Output units: ``"char"`` or ``"sentencepiece"``."""
    sp_vocab_size: int = 48
    """Sentencepiece pieces (at most) when ``units`` is ``"sentencepiece"``."""
    freeze_encoder_steps: int = 0
    """First steps during which only the CTC head trains (front end and Transformer frozen)."""
    train: TrainingConfig = field(default_factory=TrainingConfig)
    """How the CTC model is fine-tuned."""

    def validate(self) -> None:
        super().validate()
        require(self.units in UNITS, "units", f"one of {UNITS}", self.units)
        require(self.sp_vocab_size >= 2, "sp_vocab_size", ">= 2", self.sp_vocab_size)
        steps = self.train.steps
        require(0 <= self.freeze_encoder_steps <= steps, "freeze_encoder_steps", f"in [0, train.steps = {steps}]", self.freeze_encoder_steps)


@dataclass(frozen=True, kw_only=True)
class SpeechConfig:
    """Ask2Mask experiments: scorer, scores, pretraining, CTC fine-tuning and evaluation."""

    scorer: ScorerConfig = field(default_factory=ScorerConfig)
    """The scorer."""
    scores: ScoresConfig = field(default_factory=ScoresConfig)
    """Frame confidences from the scorer."""
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    """wav2vec 2.0 pretraining of each masking variant."""
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
        require(self.finetune.arch == self.pretrain.arch, "finetune.arch", f"the pretrained arch {self.pretrain.arch!r}", self.finetune.arch)
        require(self.pack_seconds > 0, "pack_seconds", "> 0", self.pack_seconds)
        for name in ("variants", "compare_variants"):
            variants = getattr(self, name)
            unknown = sorted(set(variants) - set(VARIANTS))
            require(bool(variants) and not unknown, name, f"variants among {VARIANTS}", list(variants))
        require(bool(self.seeds) and min(self.seeds) >= 0 and len(set(self.seeds)) == len(self.seeds), "seeds", "distinct seeds >= 0", list(self.seeds))
