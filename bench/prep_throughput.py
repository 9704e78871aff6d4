"""Speech prep throughput (utterances/s): a plain loop vs Dask with 1 and 2 workers, same shards, one run.

    .venv/bin/python bench/prep_throughput.py [--repeat 2]

Work: every embedded FSDD and LJSpeech file plus a freshly synthesized espeak-ng corpus
(``--synth-hours``, made before timing) decoded, validated, resampled to 16 kHz and
written to safetensors shards: the pure ``prepare_shard`` the speech-prep stages map.
Cluster start-up is excluded: each cluster is started and warmed before it is timed.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import tempfile
import time
from pathlib import Path

import torch
from distributed import Client

from seqmask.config import load_config
from seqmask.data.audio import shard_batches
from seqmask.data.config import AudioChecks
from seqmask.data.espeak import plan_synthesis, synthesize
from seqmask.data.fsdd import collect_fsdd
from seqmask.data.ljspeech import collect_ljspeech
from seqmask.data.manifest import RawAudio
from seqmask.data.tatoeba import tatoeba_sentences
from seqmask.executor import Executor, local_cluster
from seqmask.paths import resolve_path
from seqmask.speech.stages.corpus import prepare_shard_task


def synthesize_corpus(out: Path, hours: float) -> list[RawAudio]:
    """The small preset's espeak-ng corpus, cut to ``hours``, synthesized on a 2-worker cluster."""
    synth = load_config("small").speech_prep.synth
    sentences = tatoeba_sentences(resolve_path("data/text/tatoeba"), synth.tatoeba_language)
    jobs = plan_synthesis(
        sentences, voices=synth.voices, heldout_voices=synth.heldout_voices, speeds=synth.speeds, pitches=synth.pitches,
        target_seconds=hours * 3600, seconds_per_char=synth.seconds_per_char, test_share=synth.test_share,
        valid_share=synth.valid_share, mismatched_snr_db=synth.mismatched_snr_db, language=synth.espeak_language, seed=0,
    )
    with local_cluster(2) as cluster, Client(cluster) as client:
        return Executor(client, show_bars=False).map(functools.partial(synthesize, out_dir=out), jobs, desc="synth")


def make_tasks(out: Path, shard_seconds: float, synth_hours: float) -> tuple[list[tuple], int]:
    raw = collect_fsdd(resolve_path("data/speech/fsdd"), heldout_speaker="yweweler") + collect_ljspeech(resolve_path("data/speech/ljspeech"))
    raw += synthesize_corpus(out / "audio", synth_hours)
    batches = shard_batches(raw, shard_seconds)
    checks = AudioChecks()
    tasks = [(batch, out / f"{i:05d}.safetensors", f"{i:05d}.safetensors", checks, False, 0) for i, batch in enumerate(batches)]
    return tasks, len(raw)


def timed(executor: Executor, tasks: list[tuple]) -> float:
    started = time.perf_counter()
    executor.map(prepare_shard_task, tasks, desc="prep")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2, help="timed repetitions per setting (best is reported)")
    parser.add_argument("--shard-seconds", type=float, default=120.0)
    parser.add_argument("--synth-hours", type=float, default=0.5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(tempfile.mkdtemp(prefix="seqmask-bench-"))
    tasks, utterances = make_tasks(out, args.shard_seconds, args.synth_hours)
    print(f"{utterances} utterances in {len(tasks)} shards")
    results = {}
    loop = Executor(show_bars=False)
    timed(loop, tasks[:2])  # warm imports and caches
    results["plain loop"] = min(timed(loop, tasks) for _ in range(args.repeat))
    for workers in (1, 2):
        with local_cluster(workers) as cluster, Client(cluster) as client:
            executor = Executor(client, show_bars=False)
            timed(executor, tasks[: 2 * workers])  # warm the workers
            results[f"dask, {workers} worker{'s' if workers > 1 else ''}"] = min(timed(executor, tasks) for _ in range(args.repeat))
    shutil.rmtree(out)
    base = results["plain loop"]
    print("\n| setting | seconds | utterances/s | speed-up vs loop |\n|---|---|---|---|")
    for name, seconds in results.items():
        print(f"| {name} | {seconds:.2f} | {utterances / seconds:.0f} | {base / seconds:.2f}x |")


if __name__ == "__main__":
    main()
