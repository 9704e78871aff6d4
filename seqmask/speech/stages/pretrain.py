"""Stage ``pretrain-<variant>-s<seed>``: wav2vec 2.0 pretraining of one masking variant on the pretraining corpora's
audio (train and unlabelled splits, text ignored)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from safetensors.torch import load_file


from seqmask.files import write_json
from seqmask.speech.features import encoder_frames_in
from seqmask.speech.packing import pack_short_utterances
from seqmask.speech.pretrain import pretrain
from seqmask.speech.stages.inputs import PRETRAIN_SPLITS, utterances
from seqmask.training.device import default_device

if TYPE_CHECKING:
    from seqmask.stage import StageContext


def build(ctx: StageContext) -> None:
    """``model.pt`` and ``metrics.jsonl``; Ask2Mask variants read the ``scores`` input."""
    config, variant = ctx.config["pretrain"], ctx.config["variant"]
    found = utterances(ctx, PRETRAIN_SPLITS, ctx.config["corpora"])
    scores = None
    if variant != "random":
        scores = {k: v.float() for k, v in load_file(str(ctx.input_path("scores") / "scores.safetensors")).items()}
    found, scores = pack_short_utterances(found, scores, min_encoder_frames=encoder_frames_in(ctx.config["pack_seconds"]))
    summary = pretrain(
        config, ctx.config["encoder"], variant, found, scores, out_dir=ctx.out, work_dir=ctx.scratch, device=default_device(),
        progress=ctx.step_progress("steps"),
    )
    write_json(ctx.out / "summary.json", summary)
