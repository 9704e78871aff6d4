"""Speech prep throughput on an external Dask cluster (``dask scheduler`` and ``dask worker`` processes, as
``seqmask run --dask-address`` uses one): 1 worker against 2, same shards, one run.

    .venv/bin/python bench/dask_cluster.py [--repeat 2] [--shard-seconds 120] [--synth-hours 0.5] [--quick]

Work: that of bench/prep_throughput.py (its ``make_tasks``: every embedded FSDD and LJSpeech file plus a freshly
synthesized espeak-ng corpus, decoded, validated, resampled to 16 kHz and written to safetensors shards by the pure
``prepare_shard`` the speech-prep stages map), mapped by seqmask's Executor through a client of the external
scheduler. Each cluster (tests/ops/dask_processes.py: single-threaded workers without a nanny) is started and warmed
before anything is timed; both stay up and take turns, the order alternating from round to round (1, 2; 2, 1; ...),
so that load from elsewhere on the machine falls on both alike. Seconds: the best of ``--repeat`` rounds; the ratio:
the median over rounds of the per-round paired ratio (1-worker seconds / 2-worker seconds).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch
from _common import bench_parser, parse_args, run_rounds  # bench/ is the script's folder, first on sys.path
from distributed import Client
from prep_throughput import QUICK, add_work_options, make_tasks, print_results, timed

from seqmask.executor import Executor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "ops"))
from dask_processes import external_dask  # the external cluster the tests start


@contextlib.contextmanager
def warm_executor(workers: int, tasks: list[tuple], logs: Path) -> Iterator[Executor]:
    """An Executor on a fresh external cluster of ``workers`` workers, each worker warmed by a few shards."""
    with external_dask(workers, logs) as cluster, Client(cluster.address) as client:
        executor = Executor(client, show_bars=False)
        timed(executor, tasks[: 2 * workers])
        yield executor


def round_seconds(tasks: list[tuple], rounds: int, tmp: Path) -> dict[str, list[float]]:
    """Seconds of every round's map of ``tasks`` on 1 and on 2 workers; both clusters are up and take turns in an order
    that alternates every round."""
    with contextlib.ExitStack() as stack:
        executors = {
            workers: stack.enter_context(warm_executor(workers, tasks, tmp / f"dask-{workers}")) for workers in (1, 2)
        }
        return run_rounds(
            {str(workers): lambda e=executor: timed(e, tasks) for workers, executor in executors.items()}, rounds
        )


def main() -> None:
    parser = bench_parser(__doc__)
    add_work_options(parser)
    args = parse_args(parser, QUICK)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="seqmask-bench-") as tmp:
        tasks, utterances = make_tasks(
            Path(tmp),
            args.shard_seconds,
            args.synth_hours,
            per_corpus=args.per_corpus,
            synth_workers=args.synth_workers,
        )
        seconds = round_seconds(tasks, args.repeat, Path(tmp))
    print(
        f"{utterances} utterances in {len(tasks)} shards of {args.shard_seconds:g} s,"
        f" {args.synth_hours:g} h of espeak-ng speech"
        f" (synthesis seed 0, shard seed 0), seconds: best of {args.repeat}"
        f"{' (--quick: numbers mean nothing)' if args.quick else ''}"
    )
    print()
    print_results(
        seconds, utterances, "1", ("workers", "seconds", "records/s", "ratio vs 1 worker"), ("r", "r", "r", "r")
    )


if __name__ == "__main__":
    main()
