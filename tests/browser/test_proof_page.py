"""The proof page in headless Chromium (issue 11): an honest tunnel and a tampering agent's,
at 360 px and at desktop width — no console errors or failed requests, no sideways scrolling,
the verdict in the page, a QR code that fits, no script. Screenshots go to
build/screenshots/proof-page-*.png (look at them)."""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import nfltrlab  # noqa: E402
from nfltrlab import DOMAIN, Relay  # noqa: E402
from test_proof import ProofAgent, make_cert, wait_result  # noqa: E402

nfltrlab.use_integration_fixtures(globals())

SCREENSHOTS = os.path.join(os.environ.get("NFLTR_BUILD_ROOT", HERE), "screenshots")


def open_page(relay, name):
    os.makedirs(SCREENSHOTS, exist_ok=True)
    r = subprocess.run(["node", os.path.join(HERE, "test_proof_page.mjs"),
                        f"https://{DOMAIN}:{relay.port}/proof/{name}", SCREENSHOTS, f"proof-page-{name}"],
                       cwd=HERE, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


@pytest.fixture
def relay(lab):
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        pytest.fail("tests/browser/node_modules is missing: run `npm ci` in tests/browser")
    return Relay(lab, extra_args=["--proof-interval", "2"]).start()


@pytest.mark.parametrize("honest", [True, False], ids=["honest", "tampering"])
def test_proof_page_in_chromium(lab, relay, honest):
    name = "honest" if honest else "tamper"
    host = f"{name}.{DOMAIN}"
    cert, key, served = make_cert(lab, "served", host)
    declared = served if honest else make_cert(lab, "declared", host)[2]
    agent = ProofAgent(relay, relay.create_key(), name, declared, cert, key)
    try:
        wait_result(relay, name, "verified" if honest else "mismatch")
        views = open_page(relay, name)
        assert [v["label"] for v in views] == ["phone", "desktop"]
        for v in views:
            assert v["status"] == 200, v
            assert v["errors"] == [] and v["failed"] == [], v
            assert v["overflow"] <= 0, f"the page scrolls sideways at {v['width']} px: {v}"
            assert v["scripts"] == 0, v
            assert v["qr"] and 100 <= v["qr"]["width"] <= min(v["width"], 300), v
            if honest:
                assert v["verdict"] == "verified" and v["verdictText"].startswith("Verified:"), v
            else:
                assert v["verdict"] == "flagged" and v["verdictText"].startswith("Flagged:"), v
            assert os.path.getsize(v["shot"]) > 10000
    finally:
        agent.stop()
