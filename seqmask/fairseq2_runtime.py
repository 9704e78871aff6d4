"""fairseq2's process-wide runtime, set up once, on one thread, before stages use it from several.

fairseq2 keeps one global dependency resolver whose singletons (the gang, data type and
device contexts a model reads while it is built) are made on first use, and a
registration being made raises ``DependencyCycleError`` in any other thread that asks
for it meanwhile: two stages building wav2vec 2.0 models at once in the threads of one
flow process (or of one Dask worker) fail that way. :func:`init_fairseq2_runtime` makes
the resolver and those singletons under a lock; once made, resolving them only reads.
The command line, the flows, every Dask worker at start-up (:class:`Fairseq2WorkerPlugin`)
and ``seqmask train`` call it before any stage runs; model builders call it too, so a
library user who builds models from threads is covered as well.
"""

from __future__ import annotations

import threading
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

_SETUP = threading.Lock()
_initialised: Any = None
"""The resolver whose singletons were made (a test or a library that replaces fairseq2's resolver gets a fresh
set-up)."""


def init_fairseq2_runtime() -> None:
    """fairseq2's resolver with its gang, data type and device contexts made; a no-op once done in this process."""
    global _initialised
    from fairseq2.data_type import get_current_dtype
    from fairseq2.device import get_current_device
    from fairseq2.gang import get_current_gangs, get_default_gangs
    from fairseq2.runtime.dependency import get_dependency_resolver

    with _SETUP:
        resolver = get_dependency_resolver()
        if resolver is _initialised:
            return
        device = get_current_device()
        get_default_gangs(device)
        get_current_gangs(device)
        get_current_dtype()
        _initialised = resolver


class Fairseq2WorkerPlugin(WorkerPlugin):
    """Sets fairseq2 up in every worker of a cluster (``client.register_plugin``), now and as later ones start,
    before their threads run tasks."""

    name = "seqmask-fairseq2-runtime"
    idempotent = True

    def setup(self, worker: Any) -> None:
        init_fairseq2_runtime()
