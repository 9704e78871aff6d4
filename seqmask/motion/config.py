"""Config sections of the motion (MMDM) pipeline: data prep, the text encoder, the denoiser and its masks, the
evaluator, sampling and the gates (no torch imports)."""

from __future__ import annotations

from dataclasses import dataclass, field

from seqmask.experiment.comparison import ComparisonConfig
from seqmask.masking.params.motion import MOTION_MASKS, MotionMaskParams
from seqmask.schema import PATH, require
from seqmask.training.config import TrainingConfig

BASELINE = "none"
"""The mask every other is compared against (MDM)."""
SAMPLERS = ("ddim", "ddpm")
SPLITS = ("train", "valid", "test")
MAX_BVH_BYTES = 64 * 2**20
"""Default cap on a BVH file's text, in bytes (the largest Bandai clip is 2.4 MB of text, Bandai-2's about 0.6 MB)."""


@dataclass(frozen=True, kw_only=True)
class BodyPart:
    """One body part of MMDM-b's mask: its name and its skeleton joints (the root's height and velocity go with the
    root's part)."""

    name: str = ""
    joints: tuple[str, ...] = ()

    def validate(self) -> None:
        require(bool(self.name), "name", "a part name", self.name)
        require(bool(self.joints), "joints", "at least one joint name", list(self.joints))


BANDAI_PARTS = (
    BodyPart(name="torso", joints=("Hips", "Spine", "Chest", "Neck", "Head")),
    BodyPart(name="left arm", joints=("Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L")),
    BodyPart(name="right arm", joints=("Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R")),
    BodyPart(name="left leg", joints=("UpperLeg_L", "LowerLeg_L", "Foot_L", "Toes_L")),
    BodyPart(name="right leg", joints=("UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R")),
)


@dataclass(frozen=True, kw_only=True)
class MotionPrepConfig:
    """BVH clips to fixed-length windows of root-relative joint positions, with captions and clip-level splits."""

    bandai_dir: str = field(default="data/motion/bandai-1", metadata=PATH)
    """Bandai-Namco-Research-Motiondataset-1: ``data/*.bvh`` with a ``{content, style}`` JSON each, label names in
    ``cfg/``."""
    drop_joints: tuple[str, ...] = ("joint_Root",)
    """Joints left out of the features (Bandai's ground-projection helper joint); the first kept joint is the root."""
    scale: float = 0.01
    """Metres per BVH unit (Bandai: centimetres)."""
    fps: int = 20
    """Frames per second of the windows (clips are resampled)."""
    window: int = 60
    """Frames per window; a shorter clip is padded with its last pose and its ``length`` kept."""
    min_frames: int = 20
    """Clips with fewer frames (after resampling) are rejected (``too_short``)."""
    stride: int = 10
    """Frames between window starts."""
    max_windows_per_clip: int = 8
    """Windows kept per clip, evenly spaced (so a long dance does not outweigh every other clip)."""
    test_clips: int = 35
    """Whole clips held out for testing."""
    valid_clips: int = 17
    """Whole clips held out for choosing settings."""
    body_parts: tuple[BodyPart, ...] = BANDAI_PARTS
    """MMDM-b's parts; every kept joint in exactly one."""
    seed: int = 0
    """Seed of the split."""
    max_bvh_bytes: int = MAX_BVH_BYTES
    """Largest text a clip's BVH may hold, in bytes (after decompression); a larger clip is rejected (``too_large``)."""
    max_position: float = 1000.0
    """Largest absolute joint coordinate (x, y or z) in any frame, in metres; a clip beyond it is rejected
    (``implausible``)."""

    def validate(self) -> None:
        require(all(self.drop_joints), "drop_joints", "joint names", list(self.drop_joints))
        require(self.seed >= 0, "seed", ">= 0", self.seed)
        require(self.scale > 0, "scale", "> 0", self.scale)
        require(self.fps >= 1, "fps", ">= 1", self.fps)
        require(self.window >= 8, "window", ">= 8", self.window)
        require(1 <= self.min_frames <= self.window, "min_frames", f"in [1, window = {self.window}]", self.min_frames)
        require(self.stride >= 1, "stride", ">= 1", self.stride)
        require(self.max_windows_per_clip >= 1, "max_windows_per_clip", ">= 1", self.max_windows_per_clip)
        require(self.test_clips >= 1, "test_clips", ">= 1", self.test_clips)
        require(self.valid_clips >= 1, "valid_clips", ">= 1", self.valid_clips)
        require(self.max_bvh_bytes >= 1, "max_bvh_bytes", ">= 1", self.max_bvh_bytes)
        require(0 < self.max_position < 1e30, "max_position", "a number of metres in (0, 1e30)", self.max_position)
        names = [part.name for part in self.body_parts]
        require(len(names) >= 2 and len(set(names)) == len(names), "body_parts", "two or more distinct parts", names)


@dataclass(frozen=True, kw_only=True)
class TextEncoderConfig:
    """The frozen sentence encoder the denoiser is conditioned on: trained here (word embeddings, contrastive against
    the training windows), or a local CLIP."""

    clip: str | None = field(default=None, metadata=PATH)
    """A local Hugging Face CLIP directory (text tower and tokenizer); None trains the encoder here."""
    dim: int = 128
    """Width of the trained encoder's embedding."""
    batch_size: int = 64
    train: TrainingConfig = field(default_factory=lambda: TrainingConfig(steps=400, lr=1e-3, warmup_steps=40, seed=100))
    """Contrastive training (ignored with ``clip``)."""

    def validate(self) -> None:
        require(self.dim >= 8, "dim", ">= 8", self.dim)
        require(self.batch_size >= 2, "batch_size", ">= 2", self.batch_size)


@dataclass(frozen=True, kw_only=True)
class DenoiserConfig:
    """The MDM transformer encoder (MDM: 8 x 512). On 2 cores, valid FID after the same ~200 s of training: 3 x 96 for
    1,500 steps 0.365, 4 x 128 for 800 steps 0.408, 2 x 96 for 2,200 steps 0.433 (lr 1e-3)."""

    hidden: int = 96
    layers: int = 3
    heads: int = 4
    ffn: int = 384
    """Feed-forward width."""
    dropout: float = 0.1

    def validate(self) -> None:
        require(self.layers >= 1, "layers", ">= 1", self.layers)
        require(self.heads >= 1, "heads", ">= 1", self.heads)
        require(
            self.hidden >= 8 and self.hidden % self.heads == 0 and self.hidden % 2 == 0,
            "hidden",
            f"an even number >= 8, a multiple of heads = {self.heads}",
            self.hidden,
        )
        require(self.ffn >= 1, "ffn", ">= 1", self.ffn)
        require(0 <= self.dropout < 1, "dropout", "in [0, 1)", self.dropout)


@dataclass(frozen=True, kw_only=True)
class DiffusionConfig:
    """x0-prediction diffusion with a cosine schedule and condition dropout for classifier-free guidance."""

    steps: int = 1000
    """Diffusion steps T."""
    condition_dropout: float = 0.1
    """Share of training examples whose text is dropped."""
    batch_size: int = 32
    train: TrainingConfig = field(default_factory=lambda: TrainingConfig(steps=1500, lr=2e-3, warmup_steps=100))
    """Valid FID of the 3 x 96 denoiser by peak lr: 1e-3 0.365, 2e-3 0.286, 3e-3 0.307, 4e-3 0.290 (EMA of the weights,
    0.995: 0.377 at 1e-3; an x0 velocity loss: 0.492; 2,500 steps at 1e-3: 0.335 but over the time budget)."""

    def validate(self) -> None:
        require(self.steps >= 2, "steps", ">= 2", self.steps)
        require(0 <= self.condition_dropout < 1, "condition_dropout", "in [0, 1)", self.condition_dropout)
        require(self.batch_size >= 1, "batch_size", ">= 1", self.batch_size)


@dataclass(frozen=True, kw_only=True)
class EvaluatorConfig:
    """The text-motion contrastive evaluator (Guo et al. style: conv + GRU motion encoder, GRU text encoder), metrics
    only."""

    hidden: int = 128
    dim: int = 128
    """Embedding width."""
    temperature: float = 0.1
    batch_size: int = 64
    train: TrainingConfig = field(default_factory=lambda: TrainingConfig(steps=600, lr=1e-3, warmup_steps=50, seed=200))

    def validate(self) -> None:
        require(self.hidden >= 8, "hidden", ">= 8", self.hidden)
        require(self.dim >= 8, "dim", ">= 8", self.dim)
        require(self.temperature > 0, "temperature", "> 0", self.temperature)
        require(self.batch_size >= 2, "batch_size", ">= 2", self.batch_size)


@dataclass(frozen=True, kw_only=True)
class SamplingConfig:
    """How motions are generated for the metrics."""

    guidance: float = 2.5
    """Classifier-free guidance scale (1: conditional only)."""
    sampler: str = "ddim"
    """``ddim`` (``ddim_steps`` steps, deterministic) or ``ddpm`` (every diffusion step)."""
    ddim_steps: int = 50
    sampling_seeds: tuple[int, ...] = (0, 1)
    """One generated motion per test window and seed: more seeds, a steadier FID."""
    multimodality_captions: int = 10
    """Test captions that get ``multimodality_samples`` motions each for multimodality."""
    multimodality_samples: int = 10
    r_precision_batch: int = 32
    """R-precision's batch (MDM: 32)."""
    bootstrap: int = 200
    """Resamples of every FID's bootstrap interval."""

    def steps_and_eta(self, diffusion_steps: int) -> tuple[int, float]:
        """The sampler's ``(steps, eta)``: DDIM's few deterministic steps, or DDPM's every step."""
        return (self.ddim_steps, 0.0) if self.sampler == "ddim" else (diffusion_steps, 1.0)

    def validate(self) -> None:
        require(self.guidance >= 1, "guidance", ">= 1", self.guidance)
        require(self.sampler in SAMPLERS, "sampler", f"one of {SAMPLERS}", self.sampler)
        require(self.ddim_steps >= 1, "ddim_steps", ">= 1", self.ddim_steps)
        require(
            bool(self.sampling_seeds) and len(set(self.sampling_seeds)) == len(self.sampling_seeds),
            "sampling_seeds",
            "distinct seeds",
            list(self.sampling_seeds),
        )
        require(self.multimodality_captions >= 1, "multimodality_captions", ">= 1", self.multimodality_captions)
        require(self.multimodality_samples >= 2, "multimodality_samples", ">= 2", self.multimodality_samples)
        require(self.r_precision_batch >= 2, "r_precision_batch", ">= 2", self.r_precision_batch)
        require(self.bootstrap >= 10, "bootstrap", ">= 10", self.bootstrap)


@dataclass(frozen=True, kw_only=True)
class MotionGates:
    """When a comparison of masks means something (the evaluator and the baseline work)."""

    evaluator_r3: float = 0.5
    """The evaluator's R@3 on real test windows must reach this."""
    static_floor_share: float = 0.5
    """The baseline's FID must be at most this share of the static-mean-pose floor."""
    other_caption_share: float = 1.25
    """... and at most this multiple of the other-caption floor (a real training window of another caption)."""
    generated_r3: float = 0.5
    """The baseline's generated R@3 must reach this."""

    def validate(self) -> None:
        for name in ("evaluator_r3", "generated_r3"):
            require(0 <= getattr(self, name) <= 1, name, "in [0, 1]", getattr(self, name))
        require(self.static_floor_share > 0, "static_floor_share", "> 0", self.static_floor_share)
        require(self.other_caption_share > 0, "other_caption_share", "> 0", self.other_caption_share)


@dataclass(frozen=True, kw_only=True)
class MotionConfig:
    """MMDM: text encoder, denoiser per mask, evaluator, sampling, rendering and the comparison."""

    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    evaluator: EvaluatorConfig = field(default_factory=EvaluatorConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    gates: MotionGates = field(default_factory=MotionGates)
    masks: tuple[MotionMaskParams, ...] = (
        MotionMaskParams(kind="none"),
        MotionMaskParams(kind="time", ratio=0.3),
        MotionMaskParams(kind="body", ratio=0.3),
    )
    """Each mask kind's parameters (one entry per kind); the comparison names the kinds it trains."""
    ratio_study: tuple[float, ...] = (0.15, 0.5)
    """Further ratios of every masked kind that ``motion-compare`` trains with seed 0 (the FID-by-ratio plot)."""
    render_captions: int = 3
    """Test captions rendered (generated beside real) per run."""
    comparison: ComparisonConfig = field(
        default_factory=lambda: ComparisonConfig(variants=MOTION_MASKS, baseline=BASELINE)
    )
    """The mask kinds ``motion-compare`` trains over its seeds (``motion``: the ``main`` ones, seed 0)."""

    def validate(self) -> None:
        kinds = [mask.kind for mask in self.masks]
        require(len(set(kinds)) == len(kinds), "masks", "one entry per kind", kinds)
        self.comparison.check_variants(kinds)
        require(all(0 < r < 1 for r in self.ratio_study), "ratio_study", "ratios in (0, 1)", list(self.ratio_study))
        require(self.render_captions >= 1, "render_captions", ">= 1", self.render_captions)
