"""The ``text-taggers`` stage trains each tagger in a fresh process, so a rebuilt artifact holds the same tagger, byte
for byte; that process dies with the stage and never writes outside the stage's build directory."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

from seqmask.paths import resolve_path
from seqmask.processes import run_owned
from seqmask.text.artifacts import MODEL
from seqmask.text.config import TagConfig, TaggerSource
from seqmask.text.stages.taggers import _prepare, _source

TREEBANK = str(resolve_path("data/text/ud/UD_Tamil-MWTT"))
WAIT_SECONDS = 120.0
"""Bound on waiting for a process to start or end: generous, for a loaded machine (it takes seconds)."""
AFTERWARDS_SECONDS = 1.0
"""How long the killed stage's build directory is watched for writes (a survivor used to write within seconds)."""
STAGE = (
    "import sys; from seqmask.text.stages.taggers import _prepare;"
    " _prepare(('tam', 'treebank', sys.argv[1], sys.argv[2], 10**6, 0.1))"
)
"""The stage's task for one language, training far longer than any test waits."""


def files_of(folder) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_a_tagger_trained_twice_is_the_same_tagger(tmp_path) -> None:
    outs = [tmp_path / "a", tmp_path / "elsewhere" / "b"]
    outs[1].parent.mkdir()
    first, second = (_prepare(("tam", "treebank", TREEBANK, str(out), 30, 0.1)) for out in outs)
    assert first["heldout_upos_accuracy"] == second["heldout_upos_accuracy"] > first["majority_baseline_accuracy"]
    saved = [files_of(out / MODEL) for out in outs]
    assert "config.cfg" in saved[0] and saved[0].keys() == saved[1].keys()
    assert [name for name in saved[0] if saved[0][name] != saved[1][name]] == []  # weights, vocabulary, meta and config
    assert [
        name for name, data in saved[0].items() if str(tmp_path).encode() in data
    ] == []  # no path of where it was built


def test_a_language_with_neither_pipeline_nor_treebank_names_both_fixes() -> None:
    config = TagConfig(taggers=(TaggerSource(language="eng", treebank="data/text/ud/UD_English-EWT"),))
    assert _source(config, "eng") == ("treebank", str(resolve_path("data/text/ud/UD_English-EWT")))
    with pytest.raises(
        ValueError, match=r"language 'fra'.*\{language: fra, pipeline: NAME_OR_DIR\}.*\{language: fra, treebank: PATH\}"
    ):
        _source(config, "fra")


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {WAIT_SECONDS:.0f} s")
        time.sleep(0.1)


def group_members(group: int) -> list[int]:
    """Live (not zombie) processes of process group ``group``."""
    members = []
    for process in psutil.process_iter(["status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == group:
                members.append(process.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def test_a_training_dies_with_the_stage_process_and_writes_nothing_after(tmp_path) -> None:
    build = tmp_path / "build"  # the stage's build directory (the store's tmp/<key>)
    build.mkdir()
    stage = subprocess.Popen([sys.executable, "-c", STAGE, TREEBANK, str(build / "tam")])
    trainers: list[psutil.Process] = []
    try:
        wait_for(
            lambda: list(build.glob("tam/corpus-*/dev.spacy")) and psutil.Process(stage.pid).children(), "the training"
        )
        trainers = psutil.Process(stage.pid).children(recursive=True)
        group = os.getpgid(trainers[0].pid)
        assert group == trainers[0].pid != os.getpgid(stage.pid)  # its own process group
        stage.send_signal(signal.SIGKILL)
        stage.wait()
        wait_for(lambda: not group_members(group), "the training's process group to end after its stage was killed")
        shutil.rmtree(build)  # as the store clears a build directory no stage owns any more
        time.sleep(AFTERWARDS_SECONDS)
        assert not build.exists()
    finally:
        leftovers = trainers or (psutil.Process(stage.pid).children(recursive=True) if stage.poll() is None else [])
        stage.kill()
        stage.wait()
        for process in leftovers:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()


def test_an_interrupted_call_kills_the_whole_process_group(tmp_path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    caller = (
        "import signal, sys; from seqmask.processes import run_owned\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)  # even where the suite's launcher ignores SIGINT\n"
        "run_owned(['/bin/sh', '-c', sys.argv[1]], env={})"
    )
    shell = f"sleep 600 & echo $! > {pid_file}; wait"
    process = subprocess.Popen([sys.executable, "-c", caller, shell], stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: pid_file.is_file() and pid_file.read_text().strip(), "the grandchild")
        grandchild = psutil.Process(int(pid_file.read_text()))
        process.send_signal(signal.SIGINT)  # KeyboardInterrupt in the calling thread
        assert process.wait(timeout=WAIT_SECONDS) != 0
        wait_for(
            lambda: not grandchild.is_running() or grandchild.status() == psutil.STATUS_ZOMBIE,
            "the grandchild to be killed",
        )
    finally:
        process.kill()


def test_a_finished_call_gives_its_output_and_status() -> None:
    done = run_owned(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], env={})
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
