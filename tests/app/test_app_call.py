"""Issue 14: two app instances (two agents, each with its own service, bus and X screen) call
each other with test sources: Alice offers a code (app.start-call ""), Bob joins it
(app.join-call CODE). Each window must show the *other* side's test pattern — Alice sends SMPTE
bars, Bob solid blue — checked by sampling the pixels of each window's screenshot along a row
through the middle of the remote video, and both sides must decode audio packets."""
import os
import subprocess
import sys

from gi.repository import GLib

import applab
from nfltrlab import Relay

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from test_p2p_transfer import P2pAgent, service_log  # noqa: E402

TITLE = "NFLTR Call"
# webrtcbin's libnice agent runs gupnp-igd (webrtcbin 1.22 gives no way to turn UPnP off), and two
# agents on one host race for the same SSDP port: gupnp then logs a warning, which G_DEBUG's
# fatal-warnings would turn into an abort. Everything else stays as the suite sets it.
MEDIA_ENV = {"G_DEBUG": "gc-friendly"}


def call_state(app):
    app.activate("test-call-state", timeout_ms=30000)
    r = app.call_actions("Describe", GLib.Variant("(s)", ("test-call-state",)), 30000)
    state = r.unpack()[0][2]
    calls = state[0].get("calls", []) if state else []
    return calls[0] if calls else {}


def wait_call(app, predicate, timeout, what):
    return applab.wait_until(lambda: predicate(call_state(app)), timeout, what, interval=0.5)


def pixels(path):
    """(width, height, bytes RGB) of a PNG, through ImageMagick."""
    size = subprocess.run(["identify", "-format", "%w %h", path], capture_output=True, text=True,
                          check=True, timeout=30).stdout.split()
    w, h = int(size[0]), int(size[1])
    raw = subprocess.run(["convert", path, "-depth", "8", "rgb:-"], capture_output=True, check=True,
                         timeout=30).stdout
    assert len(raw) == w * h * 3
    return w, h, raw


def classify(r, g, b):
    """The SMPTE bar colours (and blue) as VP8 at a few hundred kbit/s gives them back."""
    hi, lo = 130, 90
    if r > hi and g > hi and b > hi:
        return "white"
    if r > hi and g > hi and b < lo:
        return "yellow"
    if r < lo and g > hi and b > hi:
        return "cyan"
    if r < lo and g > hi and b < lo:
        return "green"
    if r > hi and g < lo and b > hi:
        return "magenta"
    if r > hi and g < lo and b < lo:
        return "red"
    if r < lo and g < lo and b > hi:
        return "blue"
    return None


def row_runs(path, fraction):
    """The colour runs (name, length) along the row at fraction of the window's height, longer
    than 8 pixels."""
    w, h, raw = pixels(path)
    y = int(h * fraction)
    runs = []
    for x in range(w):
        i = (y * w + x) * 3
        c = classify(raw[i], raw[i + 1], raw[i + 2])
        if runs and runs[-1][0] == c:
            runs[-1][1] += 1
        else:
            runs.append([c, 1])
    return [(c, n) for c, n in runs if c is not None and n > 8]


def test_two_apps_call_each_other(lab):
    relay = Relay(lab).start()
    alice, bob = P2pAgent(lab, "alice"), P2pAgent(lab, "bob")
    alice.login(relay)
    bob.login(relay)
    xa, xb = applab.Xvfb(lab), applab.Xvfb(lab)
    app_a = applab.App(lab, alice, xa, extra_env={**MEDIA_ENV, "NFLTR_CALL_TEST_SOURCES": "1",
                                                    "NFLTR_CALL_TEST_PATTERN": "smpte"})
    app_b = applab.App(lab, bob, xb, extra_env={**MEDIA_ENV, "NFLTR_CALL_TEST_SOURCES": "1",
                                                    "NFLTR_CALL_TEST_PATTERN": "blue"})
    for app in (app_a, app_b):
        app.state(timeout_ms=60000)  # started: the main window is up
    app_a.activate("start-call", GLib.Variant("s", ""), timeout_ms=30000)
    code = wait_call(app_a, lambda c: c.get("code"), 30, "Alice's call window with a code")
    app_b.activate("join-call", GLib.Variant("s", code), timeout_ms=30000)
    try:
        for app, who in ((app_a, "Alice"), (app_b, "Bob")):
            # media-path comes with the first stats that name the ICE pair (once a second):
            # it can lag the frames by a moment.
            wait_call(app, lambda c: c.get("remote-frames-shown", 0) >= 5 and c.get("audio-packets-received", 0) >= 50
                      and c.get("media-path"),
                      300, f"{who}'s window to show the peer's video and decode audio")
    except AssertionError as e:
        raise AssertionError(f"{e}\nAlice: {call_state(app_a)}\nBob: {call_state(app_b)}\n"
                             f"{service_log(alice)}\n{service_log(bob)}") from None
    sa, sb = call_state(app_a), call_state(app_b)
    for s in (sa, sb):
        assert s["state"] == "connected", s
        assert s["badge"] == "Direct · Verified", s
        assert s["media-path"] == "direct", s
        assert s["local-frames-shown"] > 0, s
    app_a.settle(1.5)
    shot_a = xa.screenshot("call-alice", title=TITLE)
    shot_b = xb.screenshot("call-bob", title=TITLE)
    # A row through the remote video's upper half (the preview sits in the bottom right corner).
    runs_a = row_runs(shot_a, 0.3)
    runs_b = row_runs(shot_b, 0.3)
    print(f"\nAlice's row: {runs_a}\nBob's row: {runs_b}\nAlice: {sa}\nBob: {sb}")
    # Alice sees Bob's blue, wide; none of her own bars cross that row of her window.
    assert max((n for c, n in runs_a if c == "blue"), default=0) > 200, runs_a
    assert not {"yellow", "cyan", "magenta"} & {c for c, n in runs_a}, runs_a
    # Bob sees Alice's SMPTE bars in their order.
    order = [c for c, n in runs_b if c in ("yellow", "cyan", "green", "magenta", "red")]
    assert order[:5] == ["yellow", "cyan", "green", "magenta", "red"], runs_b
    # Hanging up in one window ends the other's call.
    app_b.conn.call_sync(applab.APP_ID, applab.APP_PATH, "org.gtk.Actions", "Activate",
                         GLib.Variant("(sava{sv})", ("decline-call", [GLib.Variant("s", sb["path"])], {})),
                         None, 0, 5000, None)
    wait_call(app_a, lambda c: c.get("state") == "ended", 30, "Alice's call to end when Bob hangs up")
