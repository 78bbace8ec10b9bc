"""Fixtures for the app's tests: the integration suite's own (relay, private bus, CLI, origins —
tests/integration/conftest.py, loaded as is, not copied) plus Xvfb and the real nfltr-app.
See applab.py."""
import os
import sys
import types

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import applab  # noqa: E402
import nfltrlab  # noqa: E402
from nfltrlab import Agent, Origin, Relay  # noqa: E402


nfltrlab.use_integration_fixtures(globals())


@pytest.fixture
def xvfb(lab):
    return applab.Xvfb(lab)


@pytest.fixture
def world(lab, relay, logged_in, origin, xvfb):
    """Relay, logged-in agent (service running on its private bus), local origin, X screen."""
    return types.SimpleNamespace(lab=lab, relay=relay, agent=logged_in, origin=origin, xvfb=xvfb)
