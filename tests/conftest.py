"""Shared fixtures: one Prefect test API and one Dask LocalCluster for the whole session."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def prefect_api():
    """A real, temporary Prefect API on SQLite; yields its URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def dask_address():
    """Scheduler address of a real two-process Dask LocalCluster."""
    from seqmask.executor import local_cluster

    with local_cluster(2) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def store_home(tmp_path_factory):
    """One artifact store for a test module: what its first run publishes, later tests reuse."""
    home = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEQMASK_HOME", str(home))
        yield home


@pytest.fixture(autouse=True)
def _single_thread_torch():
    """Tests share 2 cores with Dask workers; keep torch to one thread."""
    import torch

    torch.set_num_threads(1)
    yield


def pytest_configure(config):
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
