"""Fixtures for the app's tests: the integration lab (relay, private bus, CLI, origins) plus
Xvfb and the real nfltr-app. See applab.py."""
import os
import sys
import types

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import applab  # noqa: E402
from nfltrlab import Agent, Lab, Origin, Relay  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def lab(request):
    lab = Lab(request.node.name[:40].replace("/", "_"))
    yield lab
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed:
        lab.dump_logs()
    left = lab.close()
    assert not left, f"processes left behind after the test: {left}"


@pytest.fixture
def relay(lab):
    return Relay(lab).start()


@pytest.fixture
def agent(lab):
    return Agent(lab)


@pytest.fixture
def origin(lab):
    return Origin(lab)


@pytest.fixture
def logged_in(lab, relay, agent):
    agent.login(relay)
    return agent


@pytest.fixture
def xvfb(lab):
    return applab.Xvfb(lab)


@pytest.fixture
def world(lab, relay, logged_in, origin, xvfb):
    """Relay, logged-in agent (service running on its private bus), local origin, X screen."""
    return types.SimpleNamespace(lab=lab, relay=relay, agent=logged_in, origin=origin, xvfb=xvfb)
