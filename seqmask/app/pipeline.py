"""The end-to-end plan: the speech, text and motion main jobs (``make run``'s three flows) in one flow run."""

from __future__ import annotations

from seqmask.app.root import ExperimentConfig
from seqmask.motion.pipeline import motion_plan
from seqmask.speech.pipeline import speech_plan
from seqmask.stage import Plan
from seqmask.text.pipeline import text_plan


def pipeline_plan(config: ExperimentConfig) -> Plan:
    """Ask2Mask vs random (speech), LEM vs MLM+TLM (text), MMDM masks (motion), each at seed 0, with its own prep."""
    return [*speech_plan(config), *text_plan(config), *motion_plan(config)]
