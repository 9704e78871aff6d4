"""A fully cached rerun of speech-prep against its cold run (target: under 5% of cold).

    .venv/bin/python bench/cached_rerun.py [--preset small]

One process, one fresh artifact store.  The embedded Prefect API (SQLite) is started
first and timed on its own; both flow runs then use it, and each includes starting
its Dask LocalCluster, as every real run does.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="small")
    args = parser.parse_args()
    os.environ["SEQMASK_HOME"] = tempfile.mkdtemp(prefix="seqmask-bench-store-")

    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.speech import speech_prep
    from seqmask.config import load_config, to_dict

    started = time.perf_counter()
    server = SubprocessASGIServer()
    server.start(timeout=120)
    api_seconds = time.perf_counter() - started
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            started = time.perf_counter()
            speech_prep(config=to_dict(load_config(args.preset)))
            cold = time.perf_counter() - started
            started = time.perf_counter()
            speech_prep(config=to_dict(load_config(args.preset)))
            cached = time.perf_counter() - started
    finally:
        server.stop()
    print("\n| preset | Prefect API start-up | cold run | cached rerun | rerun / cold |\n|---|---|---|---|---|")
    print(f"| {args.preset} | {api_seconds:.1f} s | {cold:.1f} s | {cached:.1f} s | {100 * cached / cold:.1f}% |")


if __name__ == "__main__":
    main()
