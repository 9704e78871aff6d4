"""Bitext mining N x N: dense torch, chunked torch and faiss flat, time and peak memory.

    .venv/bin/python bench/mining.py [--sizes 10000 100000] [--dim 128] [--k 4] [--noise 2.25] [--seed 0] [--threads 2]
                                     [--dense-max-gib 4] [--rounds 1] [--quick]

Synthetic aligned embeddings: ``source`` is ``N`` random unit vectors, ``target`` is
``normalise(source + noise)`` with Gaussian noise of expected norm ``--noise`` (the
source rows have norm 1), so xSIM error is neither 0 nor 100 and grows with ``N``.
Each (N, backend) runs in a fresh child process, which generates the (seeded, so
identical) data, frees its temporaries, resets its peak RSS (``/proc/self/clear_refs``)
and then mines once with ``seqmask.text.mining.mine``: ``seconds`` is the wall time of
that call and ``peak extra MiB`` the child's peak RSS (``ru_maxrss``) minus its RSS just
before it, so faiss and torch allocations are both counted and imports are not.

Backends: ``faiss`` (``backend="faiss"``, flat inner product, exact) and ``torch
chunked`` (``backend="torch"``, ``SEARCH_CHUNK`` query rows at a time) hold no N x N
matrix; ``torch dense`` is the naive baseline, one ``(N, N)`` matmul with top-k taken
along both axes, run only where its ``N * N * 4`` bytes fit under ``--dense-max-gib``.
The xSIM error of every backend must match (asserted). Ratios are against faiss at the
same N; the memory growth from the smallest to the largest N shows that the chunked
backends grow about linearly in N, not quadratically. torch and faiss (OpenMP) both
use ``--threads`` threads. Each of ``--rounds`` rounds measures every backend once at each N, the order of the
backends rotating from one round (and one N) to the next, so that no backend always runs first; seconds and memory
are each backend's median round, the ratios the median over rounds of the per-round paired ratios against faiss.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from _common import bench_parser, median_ratio, parse_args, rotated  # bench/ is first on sys.path

BACKENDS = ("torch dense", "torch chunked", "faiss")
MINE_BACKEND = {"torch chunked": "torch", "faiss": "faiss"}
GIB = 1024**3


def embeddings(n: int, dim: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Aligned unit-vector embeddings ``(N, D)``: random sources and their noisy copies as targets."""
    from seqmask.text.mining import normalise

    rng = np.random.default_rng(seed)
    source = normalise(rng.standard_normal((n, dim), dtype=np.float32))
    perturbation = rng.standard_normal((n, dim), dtype=np.float32)
    perturbation *= noise / np.sqrt(dim)  # expected norm ``noise``
    perturbation += source
    target = normalise(perturbation)
    return source, target


def mine_dense(source: np.ndarray, target: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    """``mine``'s ratio margin from one dense ``(N, N)`` similarity matrix: xSIM error % and matches ``(N,)``."""
    import torch

    similarities = torch.from_numpy(source) @ torch.from_numpy(target).T  # (N, N): the whole matrix at once
    forward = similarities.topk(k, dim=1)  # targets near each source
    backward = similarities.T.topk(k, dim=1)  # sources near each target
    del similarities
    forward_sim, forward_idx = forward.values.numpy(), forward.indices.numpy()  # (N, k)
    backward_sim = backward.values.numpy()  # (N, k)
    pairs = len(source)
    source_density = forward_sim.mean(axis=1) / 2  # (N,)
    target_density = backward_sim.mean(axis=1) / 2  # (N,)
    margins = forward_sim / (source_density[:, None] + target_density[forward_idx])  # (N, k)
    matches = forward_idx[np.arange(pairs), margins.argmax(axis=1)]  # (N,)
    return 100.0 * float(np.mean(matches != np.arange(pairs))), matches


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def child(backend: str, n: int, dim: int, k: int, noise: float, seed: int, threads: int, matches_path: str) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    import faiss
    import torch

    from seqmask.text.mining import mine

    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    source, target = embeddings(n, dim, noise, seed)
    try:  # forget the peak of imports and data generation: the peak after the call is then the call's own
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        baseline_kib, peak_reset = rss_kib(), True
    except OSError:  # fall back to the peak so far as baseline (may hide a call peak below the generation peak)
        baseline_kib, peak_reset = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, False
    started = time.perf_counter()
    if backend == "torch dense":
        xsim_error, matches = mine_dense(source, target, k)
    else:
        result = mine(source, target, k=k, backend=MINE_BACKEND[backend])
        xsim_error, matches = result.xsim_error, result.matches
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    np.save(matches_path, matches)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "extra_mib": (peak_kib - baseline_kib) / 1024,
                "xsim_error": xsim_error,
                "peak_reset": peak_reset,
            }
        )
    )


def measure(backend: str, n: int, args: argparse.Namespace, matches_path: str) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        backend,
        "--sizes",
        str(n),
        "--dim",
        str(args.dim),
        "--k",
        str(args.k),
    ]
    command += [
        "--noise",
        str(args.noise),
        "--seed",
        str(args.seed),
        "--threads",
        str(args.threads),
        "--matches",
        matches_path,
    ]
    threads = str(args.threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{backend} at N={n} failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument(
        "--noise", type=float, default=2.25, help="expected norm of the noise added to unit source rows"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--dense-max-gib", type=float, default=4.0, help="largest N x N float32 matrix the dense baseline may hold"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="measurements of every backend at every N (medians are reported)"
    )
    parser.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--matches", help=argparse.SUPPRESS)
    args = parse_args(parser, {"sizes": [2000], "rounds": 1})
    if args.child:
        child(args.child, args.sizes[0], args.dim, args.k, args.noise, args.seed, args.threads, args.matches)
        return

    started = time.perf_counter()
    measured: dict[tuple[int, str], list[dict]] = {}
    skipped: dict[int, str] = {}
    turn = 0  # rounds over every N: the order of the backends rotates with each
    with tempfile.TemporaryDirectory(prefix="seqmask-bench-mining-") as scratch:
        for n in args.sizes:
            backends = list(BACKENDS)
            dense_bytes = n * n * 4
            if dense_bytes > args.dense_max_gib * GIB:
                skipped[n] = (
                    f"needs N*N*4 B = {dense_bytes / GIB:.1f} GiB for the similarity matrix"
                    f" (> --dense-max-gib {args.dense_max_gib:g})"
                )
                backends.remove("torch dense")
            for _ in range(args.rounds):
                matches: dict[str, np.ndarray] = {}
                for backend in rotated(backends, turn):
                    path = os.path.join(scratch, f"{n}-{backend.replace(' ', '-')}.npy")
                    measured.setdefault((n, backend), []).append(measure(backend, n, args, path))
                    matches[backend] = np.load(path)
                turn += 1
                errors = {backend: measured[n, backend][-1]["xsim_error"] for backend in matches}
                assert len(set(errors.values())) == 1, f"xSIM error differs across backends at N={n}: {errors}"
                for backend in matches:
                    measured[n, backend][-1]["differing_matches"] = int(np.sum(matches[backend] != matches["faiss"]))
    total = time.perf_counter() - started
    rows = {key: summary(found, measured[key[0], "faiss"]) for key, found in measured.items()}

    print(
        f"dim {args.dim}, k {args.k}, noise norm {args.noise:g}, seed {args.seed}, {args.threads} threads"
        " (torch and faiss OpenMP), "
        f"one fresh process per measurement, {args.rounds} round{'s' if args.rounds > 1 else ''}"
        " (order of the backends rotating every round);"
        f" ratios against faiss at the same N{' (--quick: numbers mean nothing)' if args.quick else ''}"
    )
    if not all(m["peak_reset"] for found in measured.values() for m in found):
        print("(peak RSS could not be reset: baseline is the peak after data generation)")
    print("| N | backend | seconds | peak extra MiB | xSIM error % | time / faiss | memory / faiss |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        for backend in BACKENDS:
            if (n, backend) not in rows:
                print(f"| {n} | {backend} | skipped: {skipped[n]} | | | | |")
                continue
            row = rows[n, backend]
            print(
                f"| {n} | {backend} | {row['seconds']:.2f} | {row['extra_mib']:.0f} | {row['xsim_error']:.2f} "
                f"| {row['time_ratio']:.2f} | {row['memory_ratio']:.2f} |"
            )
    disagreements = {
        f"{backend} N={n}": row["differing_matches"] for (n, backend), row in rows.items() if row["differing_matches"]
    }
    print(f"\nxSIM error identical across backends at every N; matches differing from faiss: {disagreements or 'none'}")
    small, large = min(args.sizes), max(args.sizes)
    if small != large:
        print(f"\nGrowth from N={small} to N={large} (N x{large / small:g}, N*N x{(large / small) ** 2:g}):")
        print("| backend | memory growth | time growth |")
        print("|---|---:|---:|")
        for backend in ("torch chunked", "faiss"):
            low, high = rows[small, backend], rows[large, backend]
            memory_growth = high["extra_mib"] / max(low["extra_mib"], 1e-9)
            print(f"| {backend} | x{memory_growth:.1f} | x{high['seconds'] / low['seconds']:.1f} |")
    print(f"\ntotal bench wall time {total:.0f} s")


def summary(found: list[dict], faiss: list[dict]) -> dict:
    """One backend's rounds at one N: median seconds and memory, the median paired ratios against faiss's rounds, the
    (identical) xSIM error and the most matches that differed from faiss's in a round."""
    seconds, memory = [m["seconds"] for m in found], [m["extra_mib"] for m in found]
    return {
        "seconds": statistics.median(seconds),
        "extra_mib": statistics.median(memory),
        "xsim_error": found[0]["xsim_error"],
        "time_ratio": median_ratio(seconds, [m["seconds"] for m in faiss]),
        "memory_ratio": median_ratio(memory, [max(m["extra_mib"], 1e-9) for m in faiss]),
        "differing_matches": max(m["differing_matches"] for m in found),
    }


if __name__ == "__main__":
    main()
