"""The request inspector's page in headless Chromium (issue 9 §8; Debian's chromium driven by
npm playwright-core from tests/browser/): a request made through the real relay is listed; a
new one appears without a reload (server-sent events); the detail shows its headers and body;
filter and search narrow the list; an edited replay reaches the local server and is listed
as a replay; no console errors. Screenshots: $NFLTR_SCREENSHOTS, else the lab folder."""
import json
import os
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from nfltrlab import Agent, Origin, Relay, curl_tunnel  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = "/usr/bin/chromium"


def test_inspector_page_in_chromium(lab):
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        pytest.skip("tests/browser/node_modules missing: run `npm ci` in tests/browser (tools/setup does)")
    if not os.path.exists(CHROMIUM):
        pytest.skip("no /usr/bin/chromium")
    relay = Relay(lab).start()
    agent = Agent(lab)
    agent.login(relay)
    origin = Origin(lab)
    t = agent.http(origin.port, "--inspect", "0", "--inspect-bodies")
    assert curl_tunnel(t, "/before-the-page", "--http1.1").status == 200

    go = lab.path("go")
    shots = os.environ.get("NFLTR_SCREENSHOTS") or lab.mkdir("screenshots")
    os.makedirs(shots, exist_ok=True)
    job = {"url": t.ready["inspect_url"], "go": go, "shots": shots, "chromium": CHROMIUM}

    def visitor():
        # The live request, once the page is listening.
        deadline = time.monotonic() + 60
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.05)
        curl_tunnel(t, "/live-one?q=1", "--http2")
    th = threading.Thread(target=visitor, daemon=True)
    th.start()

    r = subprocess.run(["node", os.path.join(HERE, "inspect-page.js"), json.dumps(job)],
                       capture_output=True, text=True, timeout=180, cwd=HERE)
    th.join(10)
    assert r.returncode == 0, r.stdout + r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    steps = seen["steps"]
    assert "/before-the-page" in steps["initialPaths"], steps
    assert "/live-one?q=1" in steps["liveRow"] and "200" in steps["liveRow"], steps
    assert steps["reloaded"] is False, steps
    assert steps["detailTitle"].startswith("GET /live-one?q=1 → 200"), steps
    assert "user-agent" in steps["requestHeaders"], steps
    assert '"path": "/live-one?q=1"' in steps["responseBody"], steps
    assert steps["filteredRows"] == 0 and steps["searchRows"] >= 2, steps
    assert steps["replayResult"].startswith("Replayed as #"), steps
    assert steps["phoneScrollWidth"] <= 390, steps
    assert seen["consoleErrors"] == [], seen["consoleErrors"]
    # The replay reached the local server, with the edit.
    assert any(q["path"] == "/replayed-from-browser" for q in origin.requests), origin.requests
