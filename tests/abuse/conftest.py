"""Fixtures for the abuse tests: the integration suite's own (a real relay, a private bus, the
CLI, origins — tests/integration/conftest.py, loaded as is, not copied), plus a raised
descriptor limit for the floods."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

import abuselab  # noqa: E402
import nfltrlab  # noqa: E402

nfltrlab.use_integration_fixtures(globals())
abuselab.raise_fd_limit()
