"""The integration tests' lab (tests/integration/nfltrlab.py) for the browser tests."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from nfltrlab import Lab  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def lab(request):
    lab = Lab(request.node.name)
    yield lab
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed:
        lab.dump_logs()
    left = lab.close()
    assert not left, f"processes left behind after the test: {left}"
