"""``torchrun --nproc-per-node 2 -m seqmask.cli train``: speech pretraining (fairseq2 wav2vec 2.0), text continual
pretraining and motion diffusion training on 2 gloo CPU processes follow the loss curve of one process with the same
global batch, at the tiny preset.

The curves are not equal bit for bit: the ranks draw their own noise, masks and dropout (a deterministic unit is
compared to float rounding in tests/training/test_data_parallel.py). The tolerance: the mean over steps of
``|loss(2 processes) - loss(1 process)| / loss(1 process)`` at most ``CURVE_TOLERANCE`` (3%); measured: motion 1.5%,
text 0.5% (MLM) and 0.2% (TLM), speech 0.8%.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from seqmask.store import ArtifactStore

CURVE_TOLERANCE = 0.03
BIN = Path(sys.executable).parent
JOBS = {
    "motion": ("motion-train-none-s0", ["motion.diffusion.train.steps=30", "motion.diffusion.batch_size=16"]),
    "text": (
        "text-continual-mlm-s0",
        [
            "text.continual.mlm.steps=10",
            "text.continual.tlm.steps=10",
            "text.continual.mlm.log_every=1",
            "text.continual.tlm.log_every=1",
        ],
    ),
    "speech": ("speech-pretrain-random-s0", ["speech.pretrain.train.steps=12"]),
}


def train(home: Path, flow: str, processes: int) -> dict:
    """Run ``seqmask train`` (under ``torchrun`` for more than one process); the published artifact's summary and
    lineage."""
    stage, overrides = JOBS[flow]
    prefix = (
        [str(BIN / "torchrun"), "--nproc-per-node", str(processes), "-m", "seqmask.cli"]
        if processes > 1
        else [str(BIN / "seqmask")]
    )
    args = [*prefix, "train", flow, stage, "--preset", "tiny", *(f"--set={o}" for o in overrides)]
    env = {**os.environ, "SEQMASK_HOME": str(home), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    key = next(line.split()[1] for line in result.stdout.splitlines() if line.startswith(f"{stage}: "))
    return {"path": ArtifactStore(home).ref(ArtifactStore(home).resolve(key)).path, "stdout": result.stdout}


def losses(path: Path, phase: str = "") -> list[float]:
    return [json.loads(line)["loss"] for line in (path / phase / "metrics.jsonl").read_text().splitlines()]


def curve_gap(alone: list[float], parallel: list[float]) -> float:
    """Mean relative difference of two loss curves of the same length."""
    assert len(alone) == len(parallel) > 0
    return sum(abs(p - a) / a for a, p in zip(alone, parallel)) / len(alone)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("torchrun-store")


@pytest.mark.parametrize("flow", ["motion", "text", "speech"])
def test_two_processes_follow_the_curve_of_one_with_the_same_global_batch(home, flow) -> None:
    alone, parallel = train(home, flow, 1), train(home, flow, 2)
    assert alone["path"] != parallel["path"]  # the number of processes is part of the key
    summary = json.loads((parallel["path"] / "summary.json").read_text())
    lineage = json.loads((parallel["path"] / "lineage.json").read_text())
    assert lineage["processes"] == 2
    phases = ["mlm", "tlm"] if flow == "text" else [""]
    for phase in phases:
        assert (summary[phase] if phase else summary)["processes"] == 2
        gap = curve_gap(losses(alone["path"], phase), losses(parallel["path"], phase))
        print(f"{flow} {phase or 'loss'}: mean relative gap {gap:.4f}")
        assert gap <= CURVE_TOLERANCE, f"{flow} {phase}: curves differ by {gap:.1%} on average"
    again = train(home, flow, 2)  # published once: a second torchrun job reuses it
    assert again["path"] == parallel["path"]


def test_a_stage_that_does_not_train_is_refused(home) -> None:
    result = subprocess.run(
        [str(BIN / "seqmask"), "train", "motion", "motion-report", "--preset", "tiny"],
        env={**os.environ, "SEQMASK_HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "does not train" in result.stderr
    assert shutil.which("torchrun", path=str(BIN))
