"""Issue #3: the app never blocks its main thread on the service.

Against a stand-in service that answers every call only after 6 seconds, the window keeps
painting (the frame clock ticks: its spinner animates) and keeps answering on the bus
(org.gtk.Actions) while it waits — at start-up and while a switch's Stop call is pending.
"""
import os
import time

import applab
from nfltrlab import Agent

DELAY = 6.0
HERE = os.path.dirname(os.path.abspath(__file__))


def assert_responsive(app, seconds, what):
    """For `seconds`: each round trip to the app's main loop is quick, and it keeps painting
    (when `painting`). Returns the frames counted."""
    end = time.monotonic() + seconds
    worst = 0.0
    first = app.window()["frames"]
    while time.monotonic() < end:
        t0 = time.monotonic()
        app.state(timeout_ms=2000)  # Activate + Describe on org.gtk.Actions, served by the main loop
        worst = max(worst, time.monotonic() - t0)
        time.sleep(0.1)
    frames = app.window()["frames"] - first
    assert worst < 0.5, f"{what}: the app took {worst:.2f}s to answer on the bus"
    return frames, worst


def test_slow_service_leaves_the_window_responsive(lab, xvfb):
    agent = Agent(lab)
    fake = lab.spawn("slow-service", ["/usr/bin/python3", os.path.join(HERE, "slow_service.py"),
                                      "--delay", str(DELAY), "--tunnels", "3"],
                     env=agent.env())
    fake.wait_line("^ready$", 20)

    app = applab.App(lab, agent, xvfb)
    t_start = time.monotonic()
    assert app.window()["page"] == "connecting"
    frames, worst = assert_responsive(app, DELAY - 2.5, "while the service's replies are pending")
    assert frames >= 20, f"the window painted only {frames} frames in {DELAY - 2.5:.1f}s (spinner)"
    assert app.window()["page"] == "connecting"
    print(f"start-up: worst bus round trip {worst * 1000:.0f} ms, {frames} frames painted")

    app.wait(lambda w: w.get("page") == "tunnels" and len(w.get("rows", [])) == 3, 3 * DELAY + 10,
             "the rows once the slow service answered")
    assert time.monotonic() - t_start >= DELAY - 1

    # A pending Stop: the switch shows what was asked at once, the state follows the reply.
    app.toggle("slow01", False)
    row = app.row("slow01")
    assert row["switch-active"] is False and row["switch-state"] is True, row
    _, worst = assert_responsive(app, DELAY - 2.5, "while Tunnel.Stop is pending")
    print(f"pending Stop: worst bus round trip {worst * 1000:.0f} ms")
    app.wait(lambda w: not [r for r in w["rows"] if r["id"] == "slow01"][0]["switch-state"],
             DELAY + 10, "the switch to follow the service's reply")
