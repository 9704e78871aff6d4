"""Text to motion with a trained denoiser (``seqmask generate``): a BVH on the clips' hierarchy and a stick-figure GIF."""

from __future__ import annotations

from pathlib import Path

from seqmask.motion.diffusion_unit import sample_motions
from seqmask.motion.export import export_bvh, positions_of
from seqmask.motion.models import load_denoiser, load_text_encoder
from seqmask.motion.prep import SKELETON_BVH
from seqmask.motion.render import render_gif
from seqmask.motion.windows import Normalizer, Skeleton
from seqmask.store import ArtifactNotFound, ArtifactStore
from seqmask.training.device import default_device


def resolve_model(spec: str, store: ArtifactStore) -> Path:
    """The folder of a ``motion-train-*`` artifact given its key (prefix) or its directory."""
    path = Path(spec)
    if not path.is_dir():
        try:
            ref = store.get(store.resolve(spec))
        except (ArtifactNotFound, ValueError):
            raise FileNotFoundError(f"--model {spec}: no such directory, and no artifact key in {store.objects} starts with it") from None
        if ref is None:
            raise ValueError(f"artifact {spec} does not verify; rerun the flow that makes it")
        path = ref.path
    if not (path / "model" / "model.pt").is_file() or not (path / "prep" / "skeleton.json").is_file():
        raise ValueError(f"--model {spec}: expected a motion-train artifact (model/, text_encoder/, prep/), found {sorted(p.name for p in path.iterdir())}")
    return path


def generate_files(folder: Path, text: str, out: Path, *, seed: int = 0, guidance: float = 2.5, steps: int = 50, scale: float = 0.01) -> list[Path]:
    """``<out>.bvh`` and ``<out>.gif`` of one motion for ``text`` (DDIM with ``steps`` steps, classifier-free guided)."""
    if not text.strip():
        raise ValueError("--text: expected a caption, found an empty one")
    skeleton = Skeleton.load(folder / "prep")
    encoder = load_text_encoder(folder / "text_encoder", skeleton.features)
    trained = load_denoiser(folder / "model", skeleton, text=encoder.identity)
    if encoder.vocabulary is not None and encoder.vocabulary.unknown([text]):
        print(f"seqmask: words the text encoder never saw (read as unknown): {', '.join(encoder.vocabulary.unknown([text]))}")
    device = default_device()
    motion = sample_motions(trained, encoder.embed([text]), skeleton.window, guidance=guidance, steps=steps, eta=0.0, seed=seed, device=device)
    positions = positions_of(motion, Normalizer.load(folder / "prep"))[0]  # (T, J, 3)
    out.parent.mkdir(parents=True, exist_ok=True)
    bvh = export_bvh(out.with_suffix(".bvh"), positions, skeleton.joints, folder / "prep" / SKELETON_BVH, fps=skeleton.fps, scale=scale)
    gif = render_gif(out.with_suffix(".gif"), [positions], parents=skeleton.parents, titles=[text], fps=skeleton.fps)
    return [bvh, gif]
