"""Test-suite configuration.

Under CI (``CI`` set in the environment) hypothesis is derandomized, so a run
is reproducible and free of timing flakes: a property test that fails there
fails the same way locally with ``CI=1 python -m pytest``. Locally hypothesis
keeps exploring new examples.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
