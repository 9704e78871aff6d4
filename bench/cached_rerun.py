"""A fully cached rerun of speech-prep against its cold run (target: under 5% of cold).

    .venv/bin/python bench/cached_rerun.py [--preset small] [--quick]

One process, one fresh artifact store.  The embedded Prefect API (SQLite) is started
first and timed on its own; both flow runs then use it, and each includes starting
its Dask LocalCluster, as every real run does. The cold run has to come first, so there is no
order to alternate. The store is removed at the end. ``--quick`` runs the ``tiny`` preset (the
one the tests run) with a throw-away ``PREFECT_HOME`` (its database is created at start-up).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

from _common import bench_parser, parse_args  # bench/ is first on sys.path


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--preset", default="small")
    args = parse_args(parser, {"preset": "tiny"})
    store = tempfile.mkdtemp(prefix="seqmask-bench-store-")
    os.environ["SEQMASK_HOME"] = store
    if args.quick:  # before prefect is imported: its settings are read then
        os.environ["PREFECT_HOME"] = os.path.join(store, "prefect")

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.speech import speech_prep
    from seqmask.app.root import load_experiment
    from seqmask.config import to_dict

    started = time.perf_counter()
    server = SubprocessASGIServer()
    server.start(timeout=120)
    api_seconds = time.perf_counter() - started
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            started = time.perf_counter()
            speech_prep(config=to_dict(load_experiment(args.preset)))
            cold = time.perf_counter() - started
            started = time.perf_counter()
            speech_prep(config=to_dict(load_experiment(args.preset)))
            cached = time.perf_counter() - started
    finally:
        for worker in (APILogWorker, EventsWorker):  # logs and events still queued go out before the server stops
            worker.drain_all(timeout=10)
        server.stop()
        shutil.rmtree(store, ignore_errors=True)
    if args.quick:
        print("\n(--quick: the tiny preset; numbers mean nothing)")
    print("\n| preset | Prefect API start-up | cold run | cached rerun | rerun / cold |\n|---|---|---|---|---|")
    print(f"| {args.preset} | {api_seconds:.1f} s | {cold:.1f} s | {cached:.1f} s | {100 * cached / cold:.1f}% |")


if __name__ == "__main__":
    main()
