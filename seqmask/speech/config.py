"""Config sections of the speech pipelines: data prep, the scorer, pretraining, fine-tuning (no torch imports)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from seqmask.data.config import AudioChecks
from seqmask.experiment.comparison import ComparisonConfig
from seqmask.masking.params.spans import Ask2MaskParams, SpanMask
from seqmask.schema import PATH, require
from seqmask.speech.archs import ARCHS
from seqmask.training.config import TrainingConfig

CORPORA = ("fsdd", "ljspeech", "espeak", "user")
"""Speech corpus stages, in the order ``splits`` reads them (a later duplicate id is rejected)."""
MASKERS = ("random", "ask2mask", "ask2mask+utt")
"""Pretraining maskers: fairseq2's random spans, Ask2Mask's confident spans, and those plus utterance weights."""
NO_PRETRAINING = "none"
"""The variant that fine-tunes from scratch."""
VARIANTS = (NO_PRETRAINING, *MASKERS)
"""What a comparison runs."""
BASELINE = "random"
"""The variant every masker is compared against."""
CONFIDENCES = ("max", "nonblank", "speech")
"""Frame confidences: ``max_v p_t(v)`` (the paper's), the max over every class but the CTC blank, or
``1 - p_t(blank)``."""
UNITS = ("char", "sentencepiece")
"""CTC output units."""
NORM_ORDERS = ("pre", "post")
"""Where each Transformer layer normalises: before its sublayers or after them."""


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
        "en-us",
        "en-us+f3",
        "en-gb+m3",
        "en-gb-x-rp+f2",
        "en-gb-x-gbclan+m1",
        "en-us+m7",
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
        require(
            bool(self.voices) and all(v.strip() for v in self.voices),
            "voices",
            "at least one voice name",
            list(self.voices),
        )
        require(all(v.strip() for v in self.heldout_voices), "heldout_voices", "voice names", list(self.heldout_voices))
        overlap = sorted(set(self.voices) & set(self.heldout_voices))
        require(not overlap, "heldout_voices", "no voice also in voices", overlap)
        require(
            bool(self.speeds) and all(80 <= s <= 450 for s in self.speeds),
            "speeds",
            "espeak-ng rates in [80, 450] words per minute",
            list(self.speeds),
        )
        require(
            bool(self.pitches) and all(0 <= p <= 99 for p in self.pitches),
            "pitches",
            "espeak-ng pitches in [0, 99]",
            list(self.pitches),
        )
        require(self.target_hours > 0, "target_hours", "> 0", self.target_hours)
        require(self.seconds_per_char > 0, "seconds_per_char", "> 0", self.seconds_per_char)
        require(self.valid_share >= 0, "valid_share", ">= 0", self.valid_share)
        shares = self.test_share + self.valid_share
        require(
            0 < self.test_share and shares < 1, "test_share", "0 < test_share and test_share + valid_share < 1", shares
        )
        require(
            math.isfinite(self.mismatched_snr_db), "mismatched_snr_db", "a finite SNR in dB", self.mismatched_snr_db
        )
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
        require(
            not (self.manifest and self.audio_dir), "manifest", "either manifest or audio_dir, not both", self.manifest
        )
        require(
            self.transcripts is None or self.audio_dir is not None,
            "transcripts",
            "only together with audio_dir",
            self.transcripts,
        )


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
        require(
            bool(self.fsdd_heldout_speaker), "fsdd_heldout_speaker", "an FSDD speaker name", self.fsdd_heldout_speaker
        )
        require(self.shard_seconds > 0, "shard_seconds", "> 0", self.shard_seconds)
        require(self.seed >= 0, "seed", ">= 0", self.seed)


# --- models ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EncoderConfig:
    """A wav2vec 2.0 encoder: its sizes, layer-norm placement and dropout."""

    arch: str = "mini"
    """Sizes, a key of ``seqmask.speech.archs.ARCHS``."""
    norm_order: str = "pre"
    """``"pre"``: layer norm before each sublayer (stable at higher learning rates on short runs);
    ``"post"``: wav2vec 2.0 base's order."""
    dropout: float = 0.1
    """Dropout in the Transformer (attention and feed-forward)."""

    def validate(self) -> None:
        require(self.arch in ARCHS, "arch", f"one of {sorted(ARCHS)}", self.arch)
        require(self.norm_order in NORM_ORDERS, "norm_order", f"one of {NORM_ORDERS}", self.norm_order)
        require(0 <= self.dropout < 1, "dropout", "a probability in [0, 1)", self.dropout)


@dataclass(frozen=True, kw_only=True)
class SpeechModelConfig:
    """How a wav2vec 2.0 model's batches are made and how it trains."""

    max_frames: int = 8000
    """Padded filterbank frames (10 ms) per batch."""
    max_batch_size: int = 32
    """Utterances per batch at most."""
    train: TrainingConfig = field(default_factory=lambda: TrainingConfig(steps=1000, lr=2e-3, warmup_steps=100))
    """Optimiser, schedule, steps, precision, checkpoints."""

    def validate(self) -> None:
        require(self.max_frames >= 1, "max_frames", ">= 1", self.max_frames)
        require(self.max_batch_size >= 1, "max_batch_size", ">= 1", self.max_batch_size)


@dataclass(frozen=True, kw_only=True)
class CtcConfig(SpeechModelConfig):
    """A CTC model: the encoder, a linear head and fairseq2's masking of its input features while it trains."""

    time_mask: SpanMask = field(default_factory=lambda: SpanMask(span_len=3, max_mask_prob=0.3, min_num_spans=1))
    """Spans of encoder frames replaced by the learned mask embedding; short, so that a 0.4 s digit (20 frames) gets one
    (a batch too short for them trains unmasked)."""
    channel_mask: SpanMask = field(default_factory=lambda: SpanMask(span_len=8, max_mask_prob=0.1, min_num_spans=1))
    """Spans of feature channels zeroed."""
    final_dropout: float = 0.1
    """Dropout before the CTC head."""

    def validate(self) -> None:
        super().validate()
        require(0 <= self.final_dropout < 1, "final_dropout", "a probability in [0, 1)", self.final_dropout)


@dataclass(frozen=True, kw_only=True)
class ScorerConfig(CtcConfig):
    """The external ASR model whose frame confidences guide Ask2Mask: a CTC model on characters."""

    checkpoint: str | None = field(default=None, metadata=PATH)
    """A seqmask wav2vec2 CTC checkpoint to use as the scorer; None trains one from scratch on the labelled target
    subset."""
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """The scorer's own encoder (it need not match the pretrained one)."""


@dataclass(frozen=True, kw_only=True)
class ScoresConfig:
    """How the scorer's posteriors become the frame confidences that pretraining reads."""

    confidence: str = "max"
    """``"max"`` = ``max_v p_t(v)`` (the paper); ``"nonblank"`` leaves the CTC blank out of the max; ``"speech"`` =
    ``1 - p_t(blank)``. A CTC scorer's blank peaks on silence, so ``max`` ranks silence as confident."""

    def validate(self) -> None:
        require(self.confidence in CONFIDENCES, "confidence", f"one of {CONFIDENCES}", self.confidence)


@dataclass(frozen=True, kw_only=True)
class PretrainConfig(SpeechModelConfig):
    """wav2vec 2.0 pretraining; the masker is the variant's (random, ask2mask, ask2mask+utt)."""

    mask: Ask2MaskParams = field(default_factory=Ask2MaskParams)
    """Span masking; ``span_len``, ``max_mask_prob`` and ``min_num_spans`` also configure ``random``."""
    max_frames: int = 4000
    """Padded filterbank frames (10 ms) per batch (pretraining utterances are packed to 3 s)."""
    max_batch_size: int = 16
    """Utterances per batch at most."""
    train: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(steps=1000, lr=1e-3, warmup_steps=100, betas=(0.9, 0.98), eps=1e-6)
    )
    """How the encoder is pretrained."""
    num_distractors: int | None = None
    """Negatives per masked frame in the contrastive loss; None: the architecture's."""
    gumbel_temperature: tuple[float, float] = (2.0, 0.5)
    """The quantizer's Gumbel-softmax temperature, decayed geometrically from the first to the second over
    ``train.steps``."""
    diversity_weight: float = 0.1
    """Weight of fairseq2's codebook diversity loss."""
    features_penalty_weight: float = 0.0
    """Weight of fairseq2's L2 penalty on the front-end features (10 for the waveform CNN; with the
    filterbank front end the penalised features are the fixed inputs, so it only offsets the loss)."""
    init_checkpoint: str | None = field(default=None, metadata=PATH)
    """Local fairseq2/fairseq wav2vec2 checkpoint to continue pretraining from; ``None``: random initialisation."""

    def validate(self) -> None:
        super().validate()
        require(
            self.num_distractors is None or self.num_distractors >= 1,
            "num_distractors",
            ">= 1 or null",
            self.num_distractors,
        )
        high, low = self.gumbel_temperature if len(self.gumbel_temperature) == 2 else (0, 0)
        require(high >= low > 0, "gumbel_temperature", "(start, end) with start >= end > 0", self.gumbel_temperature)
        require(self.diversity_weight >= 0, "diversity_weight", ">= 0", self.diversity_weight)
        require(self.features_penalty_weight >= 0, "features_penalty_weight", ">= 0", self.features_penalty_weight)


@dataclass(frozen=True, kw_only=True)
class FinetuneConfig(CtcConfig):
    """CTC fine-tuning of each pretrained encoder on the labelled target subset."""

    units: str = "char"
    """Output units: ``"char"`` or ``"sentencepiece"``."""
    sp_vocab_size: int = 48
    """Sentencepiece pieces (at most) when ``units`` is ``"sentencepiece"``."""
    freeze_encoder_steps: int = 200
    """First steps during which only the CTC head trains (front end and Transformer frozen), so that a random head
    does not wash out a pretrained encoder; one recipe for every variant, ``none`` included; a reference does not
    freeze."""

    def validate(self) -> None:
        super().validate()
        require(self.units in UNITS, "units", f"one of {UNITS}", self.units)
        require(self.sp_vocab_size >= 2, "sp_vocab_size", ">= 2", self.sp_vocab_size)
        steps = self.train.steps
        require(
            0 <= self.freeze_encoder_steps <= steps,
            "freeze_encoder_steps",
            f"in [0, train.steps = {steps}]",
            self.freeze_encoder_steps,
        )


@dataclass(frozen=True, kw_only=True)
class SpeechDataConfig:
    """Who reads what: the target domain's labelled subset, valid and tests, and the audio pretraining reads."""

    target: tuple[str, ...] = ("fsdd",)
    """Corpora of the target domain: the scorer and fine-tuning train on their labelled subset; valid and tests are
    theirs."""
    pretrain: tuple[str, ...] = ("espeak",)
    """Corpora whose audio pretraining reads (train and unlabelled splits, text ignored). Another domain than
    ``target`` is the paper's mismatched setting; the target's own corpora, the matched one."""
    labelled_per_speaker: int | None = 50
    """Labelled target utterances per speaker (drawn with ``labelled_seed``, kept by the ``labelled`` stage); None:
    all."""
    labelled_seed: int = 0
    """Seed of that draw; the same subset serves every variant and seed."""

    def validate(self) -> None:
        for name in ("target", "pretrain"):
            corpora = getattr(self, name)
            require(bool(corpora) and set(corpora) <= set(CORPORA), name, f"corpora among {CORPORA}", list(corpora))
        require(
            self.labelled_per_speaker is None or self.labelled_per_speaker >= 1,
            "labelled_per_speaker",
            ">= 1 or null",
            self.labelled_per_speaker,
        )
        require(self.labelled_seed >= 0, "labelled_seed", ">= 0", self.labelled_seed)


@dataclass(frozen=True, kw_only=True)
class ReferenceConfig:
    """A supervised reference: the fine-tuning CTC model trained on all labelled train audio of one corpus, no
    pretraining; the ceiling low-resource runs are read against, and a gate on whether the regime learns at all."""

    corpus: str = "fsdd"
    """The corpus it trains on and is read on."""
    metric: str = "wer"
    """``"wer"`` or ``"cer"``: what the gate reads on the corpus's valid split."""
    max_valid: float = 10.0
    """The gate: the reference's valid error rate must be at most this (%)."""
    steps: int | None = None
    """Its training steps (it has more labelled data than a low-resource run); None: fine-tuning's."""

    def validate(self) -> None:
        require(self.corpus in CORPORA, "corpus", f"one of {CORPORA}", self.corpus)
        require(self.steps is None or self.steps >= 1, "steps", ">= 1 or null", self.steps)
        require(self.metric in ("wer", "cer"), "metric", "'wer' or 'cer'", self.metric)
        require(0 < self.max_valid, "max_valid", "> 0 (%)", self.max_valid)


@dataclass(frozen=True, kw_only=True)
class SpeechConfig:
    """Ask2Mask experiments: scorer, scores, pretraining, CTC fine-tuning and evaluation."""

    data: SpeechDataConfig = field(default_factory=SpeechDataConfig)
    """The target domain, its labelled subset, and the audio pretraining reads."""
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """The encoder pretraining, fine-tuning and the references share."""
    scorer: ScorerConfig = field(default_factory=ScorerConfig)
    """The scorer."""
    scores: ScoresConfig = field(default_factory=ScoresConfig)
    """Frame confidences from the scorer."""
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    """wav2vec 2.0 pretraining of each masking variant."""
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    """CTC fine-tuning from each pretrained encoder."""
    references: tuple[ReferenceConfig, ...] = (
        ReferenceConfig(corpus="fsdd", metric="wer", max_valid=10.0, steps=2000),
        ReferenceConfig(corpus="espeak", metric="cer", max_valid=30.0, steps=1000),
    )
    """Supervised references, printed beside the variants; a comparison is not meaningful while one fails its gate."""
    pack_seconds: float = 3.0
    """Short pretraining utterances of one speaker (FSDD digits) are concatenated up to this length."""
    comparison: ComparisonConfig = field(
        default_factory=lambda: ComparisonConfig(
            variants=(NO_PRETRAINING, BASELINE, "ask2mask", "ask2mask+utt"),
            baseline=BASELINE,
            main=(NO_PRETRAINING, BASELINE, "ask2mask+utt"),
        )
    )
    """Variants of ``speech-compare`` over its seeds (``none`` fine-tunes without pretraining) and the ``main`` ones
    ``speech`` runs with seed 0."""

    def validate(self) -> None:
        corpora = [reference.corpus for reference in self.references]
        require(len(set(corpora)) == len(corpora), "references", "one reference per corpus", corpora)
        require(self.pack_seconds > 0, "pack_seconds", "> 0", self.pack_seconds)
        self.comparison.check_variants(VARIANTS)
