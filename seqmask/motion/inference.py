"""Text to motion with a trained denoiser (``seqmask generate``): a BVH on the clips' hierarchy and a stick-figure
GIF."""

from __future__ import annotations

import math
from pathlib import Path

from seqmask.motion.artifacts import MODEL_DIR, MODEL_WEIGHTS, PREP_DIR, SKELETON, SKELETON_BVH, TEXT_ENCODER_DIR
from seqmask.motion.diffusion_unit import sample_motions
from seqmask.motion.export import export_bvh, positions_of
from seqmask.motion.models import load_denoiser, load_text_encoder
from seqmask.motion.readers import read_normalizer, read_skeleton
from seqmask.motion.render import render_gif
from seqmask.store import ArtifactNotFound, ArtifactStore
from seqmask.training.device import default_device


def resolve_model(spec: str, store: ArtifactStore) -> Path:
    """The folder of a ``motion-train-*`` artifact given its key (prefix) or its directory."""
    path = Path(spec)
    if not path.is_dir():
        try:
            ref = store.get(store.resolve(spec))
        except (ArtifactNotFound, ValueError):
            raise FileNotFoundError(
                f"--model {spec}: no such directory, and no artifact key in {store.objects} starts with it"
            ) from None
        if ref is None:
            raise ValueError(f"artifact {spec} does not verify; rerun the flow that makes it")
        path = ref.path
    if not (path / MODEL_WEIGHTS).is_file() or not (path / PREP_DIR / SKELETON).is_file():
        layout, found = f"{MODEL_DIR}/, {TEXT_ENCODER_DIR}/, {PREP_DIR}/", sorted(p.name for p in path.iterdir())
        raise ValueError(f"--model {spec}: expected a motion-train artifact ({layout}), found {found}")
    return path


DEFAULT_STEPS = 50
"""DDIM steps when none are asked for (the model's diffusion steps when it has fewer)."""
MAX_TEXT_CHARS = 1000
"""Longest caption accepted (the Bandai captions have under 60 characters)."""


def check_request(text: str, guidance: float, out: Path, store: ArtifactStore) -> None:
    """Refuse, before any model is loaded, an empty or overlong ``--text``, a ``--guidance`` that is not a finite scale
    >= 1, and an ``--out`` inside the store's published artifacts (writing there corrupts them)."""
    if not text.strip():
        raise ValueError("--text: expected a caption, found an empty one")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"--text: expected a caption of at most {MAX_TEXT_CHARS} characters, found {len(text)}")
    if not (math.isfinite(guidance) and guidance >= 1):
        raise ValueError(
            f"--guidance: expected a finite classifier-free guidance scale >= 1 (1: none), found {guidance}"
        )
    objects = store.objects.resolve()
    if out.resolve().is_relative_to(objects):
        raise ValueError(
            f"--out {out}: expected a path outside the artifact store's published artifacts {objects} (writing there "
            f"corrupts them), found one inside it"
        )


def sampling_steps(steps: int | None, diffusion_steps: int) -> int:
    """The DDIM steps to take: ``steps`` checked against the model's ``diffusion_steps``, or by default
    ``min(DEFAULT_STEPS, diffusion_steps)``."""
    if steps is None:
        return min(DEFAULT_STEPS, diffusion_steps)
    if not 1 <= steps <= diffusion_steps:
        raise ValueError(
            f"--steps: expected a number of DDIM steps in [1, {diffusion_steps}] (the model was trained with "
            f"{diffusion_steps} diffusion steps), found {steps}"
        )
    return steps


def generate_files(
    folder: Path,
    text: str,
    out: Path,
    *,
    store: ArtifactStore,
    seed: int = 0,
    guidance: float = 2.5,
    steps: int | None = None,
    scale: float = 0.01,
) -> list[Path]:
    """``<out>.bvh`` and ``<out>.gif`` of one motion for ``text`` (DDIM with ``steps`` steps, see
    :func:`sampling_steps`, classifier-free guided); the request is checked first (:func:`check_request`)."""
    check_request(text, guidance, out, store)
    skeleton = read_skeleton(folder / PREP_DIR)
    encoder = load_text_encoder(folder / TEXT_ENCODER_DIR, skeleton.features)
    trained = load_denoiser(folder / MODEL_DIR, skeleton, text=encoder.identity)
    steps = sampling_steps(steps, trained.diffusion_steps)
    if encoder.vocabulary is not None and encoder.vocabulary.unknown([text]):
        print(
            "seqmask: words the text encoder never saw (read as unknown): "
            f"{', '.join(encoder.vocabulary.unknown([text]))}"
        )
    device = default_device()
    motion = sample_motions(
        trained,
        encoder.embed([text]),
        skeleton.window,
        guidance=guidance,
        steps=steps,
        eta=0.0,
        seed=seed,
        device=device,
    )
    positions = positions_of(motion, read_normalizer(folder / PREP_DIR))[0]  # (T, J, 3)
    out.parent.mkdir(parents=True, exist_ok=True)
    bvh = export_bvh(
        out.with_suffix(".bvh"),
        positions,
        skeleton.joints,
        folder / PREP_DIR / SKELETON_BVH,
        fps=skeleton.fps,
        scale=scale,
    )
    gif = render_gif(out.with_suffix(".gif"), [positions], parents=skeleton.parents, titles=[text], fps=skeleton.fps)
    return [bvh, gif]
