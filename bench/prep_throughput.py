"""Speech prep throughput (utterances/s): a plain loop vs Dask with 1 and 2 workers, same shards, one run.

    .venv/bin/python bench/prep_throughput.py [--repeat 2] [--shard-seconds 120] [--synth-hours 0.5] [--quick]

Work: every embedded FSDD and LJSpeech file plus a freshly synthesized espeak-ng corpus
(``--synth-hours``, made before timing) decoded, validated, resampled to 16 kHz and
written to safetensors shards: the pure ``prepare_shard`` the speech-prep stages map.
Cluster start-up is excluded: both clusters are started and warmed before anything is
timed, and stay up while the three settings take turns, round after round, in an order
that rotates every round (loop, 1, 2; 1, 2, loop; ...) so that load from elsewhere on the
machine falls on all three alike. Seconds: the best of ``--repeat`` rounds; speed-up: the
median over rounds of the per-round paired ratio (loop seconds / setting seconds).
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
import time
from pathlib import Path

import torch
from _common import (  # bench/ is first on sys.path
    bench_parser,
    median_ratio,
    order_note,
    parse_args,
    print_table,
    run_rounds,
)
from distributed import Client

from seqmask.app.root import load_experiment
from seqmask.data.audio import shard_batches
from seqmask.data.config import AudioChecks
from seqmask.data.espeak import plan_synthesis, synthesize
from seqmask.data.fsdd import collect_fsdd
from seqmask.data.ljspeech import collect_ljspeech
from seqmask.data.manifest import RawAudio
from seqmask.data.tatoeba import tatoeba_sentences
from seqmask.executor import Executor, local_cluster
from seqmask.paths import resolve_path
from seqmask.speech.corpus_prep import prepare_shard_task

QUICK = {"repeat": 1, "shard_seconds": 10.0, "synth_hours": 0.003, "per_corpus": 16, "synth_workers": 0}
"""``--quick``: a few shards of a few utterances of each corpus, synthesized in this process."""


def add_work_options(parser) -> None:
    """The options of the work (shared with bench/dask_cluster.py)."""
    parser.add_argument(
        "--repeat", type=int, default=2, help="timed rounds (each setting once per round; best is reported)"
    )
    parser.add_argument("--shard-seconds", type=float, default=120.0)
    parser.add_argument("--synth-hours", type=float, default=0.5)
    parser.add_argument(
        "--per-corpus", type=int, default=0, help="at most this many utterances of each corpus (default 0: all)"
    )
    parser.add_argument(
        "--synth-workers", type=int, default=2, help="Dask workers that synthesize (untimed; 0: in this process)"
    )


def synthesize_corpus(out: Path, hours: float, workers: int = 2) -> list[RawAudio]:
    """The small preset's espeak-ng corpus, cut to ``hours``, synthesized on a ``workers``-worker cluster (0: a plain
    loop)."""
    synth = load_experiment("small").speech_prep.synth
    sentences = tatoeba_sentences(resolve_path("data/text/tatoeba"), synth.tatoeba_language)
    jobs = plan_synthesis(
        sentences,
        voices=synth.voices,
        heldout_voices=synth.heldout_voices,
        speeds=synth.speeds,
        pitches=synth.pitches,
        target_seconds=hours * 3600,
        seconds_per_char=synth.seconds_per_char,
        test_share=synth.test_share,
        valid_share=synth.valid_share,
        mismatched_snr_db=synth.mismatched_snr_db,
        language=synth.espeak_language,
        seed=0,
    )
    work = functools.partial(synthesize, out_dir=out)
    if workers == 0:
        return Executor(show_bars=False).map(work, jobs, desc="synth")
    with local_cluster(workers) as cluster, Client(cluster) as client:
        return Executor(client, show_bars=False).map(work, jobs, desc="synth")


def make_tasks(
    out: Path, shard_seconds: float, synth_hours: float, *, per_corpus: int = 0, synth_workers: int = 2
) -> tuple[list[tuple], int]:
    """The prep tasks (``prepare_shard_task``'s tuples) over FSDD, LJSpeech and the synthesized corpus, each cut to
    ``per_corpus`` utterances when it is not 0; and the number of utterances."""
    corpora = [
        collect_fsdd(resolve_path("data/speech/fsdd"), heldout_speaker="yweweler"),
        collect_ljspeech(resolve_path("data/speech/ljspeech")),
        synthesize_corpus(out / "audio", synth_hours, synth_workers),
    ]
    raw = [record for corpus in corpora for record in (corpus[:per_corpus] if per_corpus else corpus)]
    batches = shard_batches(raw, shard_seconds)
    checks = AudioChecks()
    tasks = [
        (batch, out / f"{i:05d}.safetensors", f"{i:05d}.safetensors", checks, False, 0)
        for i, batch in enumerate(batches)
    ]
    return tasks, len(raw)


def timed(executor: Executor, tasks: list[tuple]) -> float:
    started = time.perf_counter()
    executor.map(prepare_shard_task, tasks, desc="prep")
    return time.perf_counter() - started


def print_results(
    seconds: dict[str, list[float]], utterances: int, base: str, header: tuple[str, ...], align: tuple[str, ...]
) -> None:
    """How the settings took turns, then each one's best seconds, utterances/s and median paired speed-up against
    ``base``."""
    print(order_note(list(seconds), len(seconds[base])))
    print_table(
        header,
        align,
        [
            (name, f"{min(found):.2f}", f"{utterances / min(found):.0f}", f"{median_ratio(seconds[base], found):.2f}x")
            for name, found in seconds.items()
        ],
    )


def main() -> None:
    parser = bench_parser(__doc__)
    add_work_options(parser)
    args = parse_args(parser, QUICK)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="seqmask-bench-") as tmp, contextlib.ExitStack() as stack:
        tasks, utterances = make_tasks(
            Path(tmp),
            args.shard_seconds,
            args.synth_hours,
            per_corpus=args.per_corpus,
            synth_workers=args.synth_workers,
        )
        print(
            f"{utterances} utterances in {len(tasks)} shards{' (--quick: numbers mean nothing)' if args.quick else ''}"
        )
        executors = {"plain loop": Executor(show_bars=False)}
        timed(executors["plain loop"], tasks[:2])  # warm imports and caches
        for workers in (1, 2):
            client = stack.enter_context(Client(stack.enter_context(local_cluster(workers))))
            executors[f"dask, {workers} worker{'s' if workers > 1 else ''}"] = executor = Executor(
                client, show_bars=False
            )
            timed(executor, tasks[: 2 * workers])  # warm the workers
        seconds = run_rounds(
            {name: lambda e=executor: timed(e, tasks) for name, executor in executors.items()}, args.repeat
        )
    print(f"\nseconds: best of {args.repeat} round{'s' if args.repeat > 1 else ''}")
    print_results(
        seconds, utterances, "plain loop", ("setting", "seconds", "utterances/s", "speed-up vs loop"), ("", "", "", "")
    )


if __name__ == "__main__":
    main()
