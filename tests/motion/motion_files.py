"""Helpers of the motion tests: synthetic BVH texts (deep chains, flat skeletons, files of many frames), copies of
Bandai folders, and running code in a fresh Python to measure its peak memory or to catch a hang."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from seqmask.executor import Executor
from seqmask.motion.artifacts import PREP_DIR
from seqmask.motion.stages import prep
from seqmask.paths import resolve_path
from seqmask.stage import StageContext, stage_name

BANDAI = resolve_path("data/motion/bandai-1")
BOW = BANDAI / "data" / "dataset-1_bow_active_001.bvh.gz"
"""A real clip: 128 frames of 132 channels at 30 fps."""


def _motion_lines(channels: int, frames: int) -> list[str]:
    return ["MOTION", f"Frames: {frames}", "Frame Time: 0.05", *[" ".join(["0"] * channels)] * frames]


def chain_bvh(depth: int, frames: int = 2) -> str:
    """A skeleton of ``depth`` joints, each the only child of the one before (``j0`` the root), without indentation."""
    lines = ["HIERARCHY", "ROOT j0", "{", "OFFSET 0 0 0", "CHANNELS 3 Xposition Yposition Zposition"]
    for k in range(1, depth):
        lines += [f"JOINT j{k}", "{", "OFFSET 0 1 0", "CHANNELS 1 Zrotation"]
    lines += ["End Site", "{", "OFFSET 0 1 0", "}", *["}"] * depth]
    return "\n".join(lines + _motion_lines(3 + depth - 1, frames)) + "\n"


def flat_bvh(joints: int, frames: int = 2) -> str:
    """A root with ``joints - 1`` children, each with one rotation channel and an End Site."""
    lines = ["HIERARCHY", "ROOT j0", "{", "OFFSET 0 0 0", "CHANNELS 3 Xposition Yposition Zposition"]
    for k in range(1, joints):
        lines += [f"JOINT j{k}", "{", "OFFSET 0 1 0", "CHANNELS 1 Zrotation", "End Site", "{", "OFFSET 0 1 0", "}", "}"]
    lines.append("}")
    return "\n".join(lines + _motion_lines(3 + joints - 1, frames)) + "\n"


def bow_lines() -> list[str]:
    """The lines of the real bow clip, decompressed."""
    return gzip.decompress(BOW.read_bytes()).decode().splitlines()


def bow_with_frames(rows: list[str], declared: int) -> str:
    """The bow clip's hierarchy with ``rows`` as its frame rows and ``declared`` in its ``Frames:`` line."""
    lines = bow_lines()
    motion = lines.index("MOTION")
    return "\n".join([*lines[: motion + 1], f"Frames: {declared}", lines[motion + 2], *rows]) + "\n"


def bandai_copy(folder: Path, clips: dict[str, Callable[[str], str] | None]) -> Path:
    """A Bandai folder in ``folder`` with ``cfg/`` and the real clips named in ``clips`` (``dataset-1_<name>``), each
    with its label; a clip with an edit is written as plain ``.bvh`` text edited by it."""
    shutil.copytree(BANDAI / "cfg", folder / "cfg")
    (folder / "data").mkdir()
    for name, edit in clips.items():
        real = BANDAI / "data" / f"dataset-1_{name}.bvh.gz"
        shutil.copy(real.with_name(f"dataset-1_{name}.json"), folder / "data")
        if edit is None:
            shutil.copy(real, folder / "data")
        else:
            (folder / "data" / f"dataset-1_{name}.bvh").write_text(edit(gzip.decompress(real.read_bytes()).decode()))
    return folder


PEAK_RSS_KIB = "int(next(line for line in open('/proc/self/status') if line.startswith('VmHWM:')).split()[1])"
"""The process's peak resident set size in KiB. Not ``getrusage``'s ``ru_maxrss``: Linux carries that over from the
process that started this one (here pytest, larger than what is measured), whereas ``VmHWM`` starts afresh at exec."""


def build_prep(folder: Path, work: Path) -> Path:
    """The ``motion-prep`` stage's files for the Bandai folder ``folder`` (one test and one valid clip), built in
    ``work/prep`` (where a denoiser's artifact holds its copies of them)."""
    out = work / PREP_DIR
    out.mkdir()
    config = prep.Config(bandai_dir=str(folder), test_clips=1, valid_clips=1)
    prep.build(
        StageContext(
            config=config,
            inputs={},
            out=out,
            executor=Executor(show_bars=False),
            stage=stage_name(prep),
            scratch=work / "scratch",
        )
    )
    return out


def run_measured(setup: str, body: str, *, timeout: float) -> dict:
    """Run ``setup`` then ``body`` (which sets ``result``, JSON-able) in a fresh Python; ``result`` with ``peak_mb``,
    how far ``body`` raised the peak resident set size over the peak after ``setup`` (in MiB). Fails on a timeout (a
    hang)."""
    script = "\n".join(
        [
            "import json",
            textwrap.dedent(setup),
            f"before = {PEAK_RSS_KIB}",
            textwrap.dedent(body),
            f"peak = {PEAK_RSS_KIB}",
            "print(json.dumps({'result': result, 'peak_mb': (peak - before) / 1024}))",
        ]
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])
