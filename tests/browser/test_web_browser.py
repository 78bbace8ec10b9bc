"""Headless Chromium (Debian's, driven by npm playwright-core from tests/browser/) through the
relay: `nfltr serve` lists a folder, sorts it with the page's script, downloads a file whose
SHA-256 matches, fits a phone's width, has no console errors and shows the fingerprint the CLI
printed; a share link dies after its one download. Screenshots land in $NFLTR_SCREENSHOTS
(default: the lab folder, kept when the test fails)."""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from nfltrlab import Agent, Relay, Tunnel, nfltr_bin  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = "/usr/bin/chromium"


def test_serve_and_share_in_chromium(lab):
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        pytest.skip("tests/browser/node_modules missing: run `npm ci` in tests/browser (tools/setup does)")
    if not os.path.exists(CHROMIUM):
        pytest.skip("no /usr/bin/chromium")
    relay = Relay(lab).start()
    agent = Agent(lab)
    agent.login(relay)
    root = lab.mkdir("shared")
    data = os.urandom(2 * 1024 * 1024 + 7)
    open(os.path.join(root, "photo.bin"), "wb").write(data)
    open(os.path.join(root, "readme.txt"), "w").write("hello from nfltr serve\n")
    os.mkdir(os.path.join(root, "Documents"))
    serve = agent.start("serve", root)

    shared = lab.path("report.pdf")
    share_data = os.urandom(100000)
    open(shared, "wb").write(share_data)
    proc = lab.spawn("nfltr-share", [nfltr_bin(), "share", shared, "--max-downloads", "1", "--json"],
                     env=agent.env(), split_stderr=True)
    share = Tunnel(proc)
    share.wait_ready(60)

    shots = os.environ.get("NFLTR_SCREENSHOTS") or lab.mkdir("screenshots")
    os.makedirs(shots, exist_ok=True)
    job = {"serveUrl": serve.url + "/", "downloadHref": "photo.bin", "shareUrl": share.url,
           "shots": shots, "chromium": CHROMIUM}
    r = subprocess.run(["node", os.path.join(HERE, "web-pages.js"), json.dumps(job)],
                       capture_output=True, text=True, timeout=180, cwd=HERE)
    assert r.returncode == 0, r.stdout + r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    steps = seen["steps"]

    assert {"photo.bin", "readme.txt", "Documents/"} <= set(steps["listingNames"]), steps
    assert serve.fingerprint in steps["badge"] and "Verified end-to-end" in steps["badge"], steps
    assert steps["sortedBySizeFirst"] == "readme.txt" and steps["sortedBySizeDescFirst"] == "photo.bin", steps
    assert steps["sortKeptUrl"], steps
    assert steps["downloadSha256"] == hashlib.sha256(data).hexdigest(), steps
    assert steps["phoneScrollWidth"] <= 390, steps
    assert steps["shareFirst"]["status"] == 200, steps
    assert steps["shareFirst"]["sha256"] == hashlib.sha256(share_data).hexdigest(), steps
    second = steps["shareSecond"]
    assert second["status"] in (0, 404, 410), second
    assert proc.wait_exit(20) == 0
    assert seen["consoleErrors"] == [], seen["consoleErrors"]
    for name in ("serve-listing.png", "serve-phone.png"):
        assert os.path.getsize(os.path.join(shots, name)) > 1000
