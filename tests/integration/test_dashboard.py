"""The operator dashboard (issue 11 item 4) on the real relay, in headless Chromium through
playwright-core (tests/browser/dashboard.mjs): login required, wrong password refused, secure
cookies, CSRF refused (403, nothing created), a fleet token created and its secret shown once,
the live tunnel listed, phone width, no console errors; screenshots under build/screenshots/.
Plus what needs no browser: the one-time link, the login rate limit, CSRF on logout."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nfltrlab import DOMAIN, Relay, curl, relay_bin, wait_until  # noqa: E402
from test_proof import ProofAgent, make_cert  # noqa: E402  (the tampering agent of issue 11)

PASSWORD = "correct horse battery staple"
HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "..", "browser")
SHOTS = os.path.join(os.environ.get("NFLTR_BUILD_ROOT", os.path.join(HERE, "..", "..", "build")),
                     "screenshots")


def set_password(relay, password=PASSWORD):
    r = subprocess.run([relay_bin(), "admin", "set-password", "--data-dir", relay.data_dir],
                       input=password + "\n", env=relay.lab.env(), capture_output=True, text=True,
                       timeout=60)
    return r


def playwright_ready():
    """tests/browser's node_modules, installed from its lock file when missing."""
    if shutil.which("node") is None or not os.access("/usr/bin/chromium", os.X_OK):
        pytest.skip("node or /usr/bin/chromium is missing (tools/packages.txt installs them)")
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"npm ci in tests/browser failed: {r.stderr}"


def base(relay):
    return f"https://{DOMAIN}:{relay.port}"


def test_dashboard_in_chromium(lab, relay, logged_in, origin):
    playwright_ready()
    r = set_password(relay)
    assert r.returncode == 0, r.stderr
    tunnel = logged_in.http(origin.port, "--name", "dash-demo")
    # An agent that declares one certificate and serves another: the relay's check flags it.
    _, _, declared = make_cert(lab, "declared", f"tamper.{DOMAIN}")
    cert, key, _ = make_cert(lab, "served", f"tamper.{DOMAIN}")
    tamper = ProofAgent(relay, relay.create_key(), "tamper", declared, cert, key)
    wait_until(lambda: relay.api("/api/v1/proof/tamper")[1]["result"] == "mismatch", 60,
               "the relay's check to flag the tampering agent", interval=0.3)
    os.makedirs(SHOTS, exist_ok=True)
    try:
        r = subprocess.run(["node", os.path.join(BROWSER_DIR, "dashboard.mjs"), base(relay),
                            str(relay.port), PASSWORD, SHOTS, tunnel.host, tamper.host],
                           capture_output=True, text=True, timeout=180, cwd=BROWSER_DIR)
    finally:
        tamper.stop()
    assert r.returncode == 0, f"dashboard.mjs failed:\n{r.stdout}\n{r.stderr}"
    out = json.loads(r.stdout.strip().splitlines()[-1])
    steps = out["steps"]

    anonymous = steps["anonymous"]
    assert anonymous["status"] == 200 and anonymous["hasPassword"] == 1, anonymous
    assert anonymous["hasTables"] == 0, "data shown before login"
    assert "Wrong password" in steps["wrong"]["text"], steps["wrong"]

    login = steps["login"]
    assert login["url"].endswith("/dashboard"), login
    assert login["cookie"] == {"secure": True, "httpOnly": True, "sameSite": "Strict"}, login
    assert {"Tunnels", "Connected agents", "API keys", "Fleet tokens", "Recent refusals"} <= \
        set(login["headings"]), login
    assert login["tunnelRow"] == 1, login
    # Mode, and the relay's own check through the tunnel (relay/proof/): verified, or still
    # pending if the first check has not finished when the page loads.
    assert re.search(r"verified.*(verified|pending)", login["tunnelText"], re.S), login
    # The tampering agent's tunnel is flagged on the dashboard, never shown as checked fine.
    assert "verified, FLAGGED" in login["tamperText"] and "mismatch" in login["tamperText"], login
    assert "verified 20" not in login["tamperText"], login

    csrf = steps["csrf"]
    assert csrf["noToken"] == 403 and csrf["badToken"] == 403, csrf
    assert csrf["keysAfter"] == csrf["keysBefore"], csrf

    token = steps["token"]
    assert re.fullmatch(r"nfltr_ft_[0-9a-f]{64}", token["secret"].strip()), token
    assert token["row"] == 1 and token["afterReload"] == 0, token
    listing = subprocess.run([relay_bin(), "tokens", "list", "--data-dir", relay.data_dir],
                             env=lab.env(), capture_output=True, text=True, timeout=30).stdout
    assert re.search(r"browser-fleet\s+web-\s+0/3", listing), listing

    assert steps["phone"]["scrollWidth"] <= 390, steps["phone"]
    # No console error or warning at all, but the browser's own note on the two answers that
    # refuse on purpose (401 for the wrong password, 403 for the forms without a CSRF token).
    expected = {"wrong": "401", "csrf": "403"}
    unexpected = [m for m in out["console"]
                  if not (m["step"] in expected and re.fullmatch(
                      r"error: Failed to load resource: the server responded with a status of "
                      + expected[m["step"]] + r" \(\w+\)", m["text"]))]
    assert unexpected == [], out["console"]
    # The refusals the browser caused are on the dashboard's list, with their reasons.
    assert re.search(r"reason=dashboard-csrf", relay.log())
    for name in ("dashboard-login", "dashboard-desktop", "dashboard-phone"):
        assert os.path.getsize(os.path.join(SHOTS, name + ".png")) > 1000


def test_one_time_link_works_once(lab):
    relay = Relay(lab).start()
    m = re.search(r"one-time login link .*: (https://\S+)", relay.log())
    assert m, relay.log()
    link = m.group(1)
    assert link.startswith(base(relay) + "/dashboard/login?once=")
    jar = lab.path("jar")
    r = curl(link, "-k", "-c", jar, resolve=(DOMAIN, relay.port))
    assert r.status == 303, r
    r = curl(base(relay) + "/dashboard", "-k", "-b", jar, resolve=(DOMAIN, relay.port))
    assert r.status == 200 and b"<h2>API keys</h2>" in r.body
    # Spent.
    r = curl(link, "-k", resolve=(DOMAIN, relay.port))
    assert r.status == 401 and b"not valid" in r.body
    # With a password set, a restarted relay prints no link.
    assert set_password(relay).returncode == 0
    relay.stop()
    relay.start()
    assert len(re.findall(r"one-time login link", relay.log())) == 1


def login_form_token(relay, jar):
    r = curl(base(relay) + "/dashboard", "-k", "-c", jar, resolve=(DOMAIN, relay.port))
    return re.search(rb'name="csrf" value="([0-9a-f]+)"', r.body).group(1).decode()


def test_login_rate_limit_and_csrf_without_browser(lab, relay):
    assert set_password(relay).returncode == 0
    jar = lab.path("jar")
    token = login_form_token(relay, jar)
    url = base(relay) + "/dashboard/login"
    # Without the double-submit token: 403 whatever the password.
    r = curl(url, "-k", "-b", jar, "--data-urlencode", f"password={PASSWORD}",
             resolve=(DOMAIN, relay.port))
    assert r.status == 403, r
    statuses = []
    for _ in range(6):
        r = curl(url, "-k", "-b", jar, "--data-urlencode", f"csrf={token}",
                 "--data-urlencode", "password=wrong-password-guess", resolve=(DOMAIN, relay.port))
        statuses.append(r.status)
    assert statuses[:5] == [401] * 5 and statuses[5] == 429, statuses
    # Even the right password waits out the window now.
    r = curl(url, "-k", "-b", jar, "--data-urlencode", f"csrf={token}",
             "--data-urlencode", f"password={PASSWORD}", resolve=(DOMAIN, relay.port))
    assert r.status == 429, r
    # A POST to any dashboard action without a session is refused too.
    r = curl(base(relay) + "/dashboard/action", "-k", "-d", "op=key-create",
             resolve=(DOMAIN, relay.port))
    assert r.status == 403
    assert "nfltr_" not in subprocess.run([relay_bin(), "keys", "list", "--data-dir",
                                           relay.data_dir], env=lab.env(), capture_output=True,
                                          text=True).stdout


def test_short_password_is_refused(relay):
    r = set_password(relay, "short")
    assert r.returncode == 2 and "at least 12" in r.stderr, r.stderr
