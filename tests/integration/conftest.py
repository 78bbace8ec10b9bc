"""Fixtures for the NFLTR integration tests. The machinery lives in nfltrlab.py."""
import os
import sys
import types

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from nfltrlab import Agent, Lab, Origin, Relay, TcpEcho  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _finish(lab, failed):
    if failed:
        lab.dump_logs()
    left = lab.close()
    assert not left, f"processes left behind after the test: {left}"


@pytest.fixture
def lab(request):
    lab = Lab(request.node.name)
    yield lab
    rep = getattr(request.node, "rep_call", None)
    _finish(lab, rep is None or rep.failed)


@pytest.fixture(scope="module")
def mlab(request):
    """A lab shared by a module's tests (one relay and tunnel for many cases)."""
    lab = Lab(request.module.__name__.split(".")[-1])
    yield lab
    failed = any(getattr(item, "rep_call", None) is not None and item.rep_call.failed
                 for item in request.session.items if item.module is request.module)
    _finish(lab, failed)


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
def tcp_echo(lab):
    return TcpEcho(lab)


@pytest.fixture
def logged_in(lab, relay, agent):
    agent.login(relay)
    return agent


@pytest.fixture
def http_tunnel(relay, logged_in, origin):
    """A verified HTTP tunnel to a local origin: .relay .agent .origin .tunnel"""
    tunnel = logged_in.http(origin.port)
    return types.SimpleNamespace(relay=relay, agent=logged_in, origin=origin, tunnel=tunnel)


@pytest.fixture(scope="module")
def shared_tunnel(mlab):
    """Module-wide: one relay, one logged-in agent, one verified HTTP tunnel."""
    relay = Relay(mlab).start()
    agent = Agent(mlab)
    agent.login(relay)
    origin = Origin(mlab)
    tunnel = agent.http(origin.port)
    return types.SimpleNamespace(lab=mlab, relay=relay, agent=agent, origin=origin,
                                 tunnel=tunnel)
