"""Test-suite configuration.

Under CI (``CI`` set in the environment) hypothesis is derandomized, so a run
is reproducible and free of timing flakes: a property test that fails there
fails the same way locally with ``CI=1 python -m pytest``. Locally hypothesis
keeps exploring new examples.

``dask_client`` is the local cluster of the dask tests (``tests/test_dask.py``).
"""

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def dask_client():
    """A ``distributed`` client on a local cluster of 2 worker processes.

    Bound to 127.0.0.1, one thread per worker, no dashboard; started the first
    time a test asks for it and closed at the end of the session. Tests that
    use it skip when the ``dask`` extra is not installed.
    """
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
