"""Stage ``motion-render-<run>``: for a few test captions, the generated motion beside the real window as a
stick-figure GIF and a frame strip (PNG), and the generated motion as a BVH on the clips' hierarchy (read back)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqmask.files import write_json
from seqmask.motion.artifacts import BVH, GIF, INDEX, MODEL, PNG, PREP, RENDER_KINDS, SKELETON_BVH, TEXT, render_file
from seqmask.motion.config import SamplingConfig
from seqmask.motion.diffusion_unit import sample_motions
from seqmask.motion.export import export_bvh, positions_of
from seqmask.motion.readers import denoiser, normalizer, prep_file, skeleton, text_encoder, windows
from seqmask.motion.render import render_frames_png, render_gif
from seqmask.training.device import default_device

if TYPE_CHECKING:
    from seqmask.stage import StageContext

VERSION = 1
ROLES = (PREP, TEXT, MODEL)
WRITES = (INDEX,)


@dataclass(frozen=True, kw_only=True)
class Config:
    """What rendering a denoiser's motions reads."""

    sampling: SamplingConfig
    """The sampler, its guidance and the first sampling seed."""
    captions: int
    """Test captions rendered."""
    scale: float
    """Metres per BVH unit of the clips (the exported BVH's)."""


def build(ctx: StageContext) -> None:
    """``<n>.gif``, ``<n>.png``, ``<n>.bvh`` per caption and ``index.json`` (caption, clip, files)."""
    sampling, count, scale = ctx.config.sampling, ctx.config.captions, ctx.config.scale
    trained, encoder, skeleton_, stats, test = (
        denoiser(ctx),
        text_encoder(ctx),
        skeleton(ctx),
        normalizer(ctx),
        windows(ctx, "test"),
    )
    first_window = {}
    for i in range(len(test.records)):
        first_window.setdefault(test.caption(i), i)
    captions, first = list(first_window)[:count], list(first_window.values())[:count]
    steps, eta = sampling.steps_and_eta(trained.diffusion_steps)
    device = default_device()
    motions = sample_motions(
        trained,
        encoder.embed(captions),
        skeleton_.window,
        guidance=sampling.guidance,
        steps=steps,
        eta=eta,
        seed=sampling.sampling_seeds[0],
        device=device,
    )
    generated = positions_of(motions, stats)  # (C, T, J, 3)
    real = positions_of(test.features[first], stats)  # (C, T, J, 3)
    index = []
    for n, (caption, window) in enumerate(zip(captions, first)):
        length = int(test.lengths[window])
        panels = [real[n, :length], generated[n]]
        titles = ["real", "generated"]
        files = {kind: render_file(n, kind) for kind in RENDER_KINDS}
        render_gif(ctx.out / files[GIF], panels, parents=skeleton_.parents, titles=titles, fps=skeleton_.fps)
        render_frames_png(ctx.out / files[PNG], panels, parents=skeleton_.parents, titles=titles)
        export_bvh(
            ctx.out / files[BVH],
            generated[n],
            skeleton_.joints,
            prep_file(ctx, SKELETON_BVH),
            fps=skeleton_.fps,
            scale=scale,
        )
        index.append({"caption": caption, "clip": test.records[window].clip, **files})
    write_json(ctx.out / INDEX, index)
