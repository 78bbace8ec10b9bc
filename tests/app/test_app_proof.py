"""Issue 11: the tunnel row shows the relay's own check of the tunnel — verified with its time
for an honest tunnel, a MISMATCH and a red "Flagged" badge when what answered the relay's check
was not the agent's certificate (a tampering path between the agent and the relay, as in
tests/integration/test_proof.py)."""
import os
import sys

import applab
from nfltrlab import DOMAIN, Agent

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from test_proof import TamperingPath, make_cert  # noqa: E402


def test_row_shows_the_relay_check_verified(world):
    world.agent.http(world.origin.port, "--name", "checked")
    app = applab.App(world.lab, world.agent, world.xvfb)
    app.wait(lambda w: len(w.get("rows", [])) == 1, 20, "the tunnel's row")
    app.wait(lambda w: w["rows"][0].get("proof", "").startswith("Relay check: verified at "), 30,
             "the row to show the relay's check")
    assert app.rows()[0]["badge"] == "Verified end-to-end"
    app.settle(0.5)
    world.xvfb.screenshot("proof-verified-row")


def test_row_shows_a_flagged_tunnel(lab, relay, origin, xvfb):
    cert, key, forged = make_cert(lab, "forged", f"flagged.{DOMAIN}")
    path = TamperingPath(relay, cert, key)
    try:
        agent = Agent(lab)
        r = agent.run("login", "--relay", f"{DOMAIN}:{path.port}", "--fingerprint", relay.fingerprint(),
                      env={"NFLTR_API_KEY": relay.create_key()})
        assert r.returncode == 0, r
        agent.http(origin.port, "--name", "flagged")
        app = applab.App(lab, agent, xvfb)
        app.wait(lambda w: len(w.get("rows", [])) == 1, 20, "the tunnel's row")
        app.wait(lambda w: "MISMATCH" in w["rows"][0].get("proof", ""), 30, "the row to show the mismatch")
        row = app.rows()[0]
        assert forged in row["proof"], row
        assert row["badge"] == "Flagged: certificate mismatch", row
        app.settle(0.5)
        xvfb.screenshot("proof-flagged-row")
    finally:
        path.close()
