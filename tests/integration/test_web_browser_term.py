"""Headless Chromium (Debian's, driven by npm playwright-core from tests/browser/term) on the
terminal, tail and watch pages through the relay: the terminal runs `echo` and shows its output
and survives a reload; the tail page shows a line appended after it loaded; the watch page
updates. No console errors. Screenshots are written to <build>/screenshots/."""
import json
import os
import shutil
import subprocess

import pytest

from nfltrlab import Tunnel, nfltr_bin

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "..", "browser", "term")


def start(lab, agent, kind, *args):
    proc = lab.spawn(f"{agent.name}:nfltr-{kind}", [nfltr_bin(), kind, "--json", *args],
                     env=agent.env(), split_stderr=True)
    tunnel = Tunnel(proc)
    tunnel.wait_ready(60)
    agent.tunnels.append(tunnel)
    return tunnel


def test_pages_in_chromium(lab, relay, logged_in):
    if not os.path.exists("/usr/bin/chromium"):
        pytest.fail("/usr/bin/chromium is missing (tools/packages.txt)")
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        pytest.fail("playwright-core is missing: run tools/setup (npm ci in tests/browser/term)")
    shots = os.path.join(os.environ.get("NFLTR_BUILD_ROOT", lab.path()), "screenshots")
    os.makedirs(shots, exist_ok=True)
    log = lab.path("service.log")
    with open(log, "w") as f:
        f.write("starting\nbefore load\n")

    term = start(lab, logged_in, "terminal", "--", "/bin/sh")
    tail = start(lab, logged_in, "tail", log)
    watch = start(lab, logged_in, "watch", "--interval", "1", "--", "date", "+%s%N")
    job = {"terminal": term.url, "tail": tail.url, "watch": watch.url, "tailFile": log,
           "shots": shots}
    r = subprocess.run(["node", os.path.join(BROWSER_DIR, "pages.mjs"), json.dumps(job)],
                       cwd=BROWSER_DIR, capture_output=True, text=True, timeout=180,
                       env={**os.environ, "HOME": logged_in.home})
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert "error" not in seen, seen["error"]
    assert seen["steps"] == ["terminal echo", "terminal survived reload", "tail appended line",
                             "watch updated"], seen
    # The token left the address bar for the cookie.
    assert "token=" not in seen["terminalUrlAfterLogin"]
    assert "browser-42" in seen["terminalText"] and "after-reload-49" in seen["terminalText"]
    assert seen["tailGreen"] == "green"
    assert seen["tailShownAfterFilter"] == 1
    assert seen["watchRuns"] >= 2 and seen["watchChanged"] >= 1
    assert seen["console"] == [], seen["console"]
