"""Speech prep throughput on an external Dask cluster (``dask scheduler`` and ``dask worker`` processes, as
``seqmask run --dask-address`` uses one): 1 worker against 2, same shards, one run.

    .venv/bin/python bench/dask_cluster.py [--repeat 2]

Work: that of bench/prep_throughput.py (its ``make_tasks``: every embedded FSDD and LJSpeech file plus a freshly
synthesized espeak-ng corpus, decoded, validated, resampled to 16 kHz and written to safetensors shards by the pure
``prepare_shard`` the speech-prep stages map), mapped by seqmask's Executor through a client of the external
scheduler. Each cluster (tests/ops/dask_processes.py: single-threaded workers without a nanny) is started and warmed
before it is timed; the two clusters take turns, and the best of ``--repeat`` timings of each is kept.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch
from distributed import Client
from prep_throughput import make_tasks, timed  # bench/ is the script's folder, first on sys.path

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


def best_seconds(tasks: list[tuple], repeat: int, tmp: Path) -> dict[int, float]:
    """Best time of ``repeat`` maps of ``tasks`` on 1 and on 2 workers; both clusters are up and take turns, so that
    load from elsewhere on the machine falls on both alike."""
    with contextlib.ExitStack() as stack:
        executors = {workers: stack.enter_context(warm_executor(workers, tasks, tmp / f"dask-{workers}")) for workers in (1, 2)}
        times: dict[int, list[float]] = {workers: [] for workers in executors}
        for _ in range(repeat):
            for workers, executor in executors.items():
                times[workers].append(timed(executor, tasks))
    return {workers: min(found) for workers, found in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="timed repetitions per cluster (best is reported)")
    parser.add_argument("--shard-seconds", type=float, default=120.0)
    parser.add_argument("--synth-hours", type=float, default=0.5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="seqmask-bench-") as tmp:
        tasks, utterances = make_tasks(Path(tmp), args.shard_seconds, args.synth_hours)
        seconds = best_seconds(tasks, args.repeat, Path(tmp))
    print(f"{utterances} utterances in {len(tasks)} shards of {args.shard_seconds:g} s, {args.synth_hours:g} h of espeak-ng speech"
          f" (synthesis seed 0, shard seed 0), best of {args.repeat}")
    print("\n| workers | seconds | records/s | ratio vs 1 worker |\n|---:|---:|---:|---:|")
    for workers, value in seconds.items():
        print(f"| {workers} | {value:.2f} | {utterances / value:.0f} | {seconds[1] / value:.2f}x |")


if __name__ == "__main__":
    main()
