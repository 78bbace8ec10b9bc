"""Keyboard shortcuts pressed on the real window (XTEST through xdotool), and the service going
away and coming back.

Ctrl+N opens the New Tunnel dialog and Escape closes it; Ctrl+, opens the relay settings. When
nfltr-service dies the window says so; Ctrl+R starts it again and the saved tunnels come back.
"""
import os
import signal

import applab
from nfltrlab import wait_until


def test_shortcuts_open_and_close_the_dialogs(world):
    app = applab.App(world.lab, world.agent, world.xvfb)
    app.wait(lambda w: w.get("page") == "empty", 20, "the empty page")

    world.xvfb.key("NFLTR", "ctrl+n")
    app.wait(lambda w: "new-tunnel-dialog" in w, 10, "Ctrl+N to open the New Tunnel dialog")
    world.xvfb.key("New Tunnel", "Escape")
    app.wait(lambda w: "new-tunnel-dialog" not in w, 10, "Escape to close it")

    world.xvfb.key("NFLTR", "ctrl+comma")
    app.wait(lambda w: "relay-dialog" in w, 10, "Ctrl+, to open the relay settings")
    world.xvfb.key("Relay", "Escape")
    app.wait(lambda w: "relay-dialog" not in w, 10, "Escape to close them")


def test_service_restart_with_ctrl_r(world):
    app = applab.App(world.lab, world.agent, world.xvfb)
    app.wait(lambda w: w.get("page") == "empty", 20, "the empty page")
    app.create_tunnel(target=str(world.origin.port), name="survivor")

    pid = app.service_pid()
    assert pid
    os.kill(pid, signal.SIGTERM)
    app.wait(lambda w: w.get("page") == "service-error", 20, "the window to say the service stopped")
    assert app.window()["rows"] == [], "rows of a service that is gone"

    world.xvfb.key("NFLTR", "ctrl+r")
    app.wait(lambda w: w.get("page") == "tunnels" and len(w.get("rows", [])) == 1, 30,
             "Ctrl+R to start the service again and show the saved tunnel")
    wait_until(lambda: app.service_pid() not in (None, pid), 10, "a new service process")
    app.wait(lambda w: w["rows"][0]["name"] == "survivor" and w["rows"][0]["switch-state"], 30,
             "the saved tunnel back online")


def test_ctrl_q_quits_cleanly_after_use(world):
    """Quit after a tunnel row, both dialogs and an expanded row existed: every dispose path
    runs, and under G_DEBUG=fatal-warnings (and ASan in the sanitizer build) the exit is 0."""
    world.agent.http(world.origin.port, "--name", "quitter")
    app = applab.App(world.lab, world.agent, world.xvfb)
    app.wait(lambda w: len(w.get("rows", [])) == 1, 20, "the tunnel's row")
    app.expand("quitter")
    app.open_new_tunnel()
    app.activate("test-close-dialogs")
    app.activate("relay-settings")
    app.wait(lambda w: "relay-dialog" in w, 10, "the relay dialog")
    world.xvfb.key("Relay", "Escape")
    app.wait(lambda w: "relay-dialog" not in w, 10, "Escape to close the relay dialog")
    world.xvfb.key("NFLTR", "ctrl+q")
    assert app.proc.wait_exit(20) == 0, app.proc.text()
    assert "WARNING" not in app.proc.text() and "CRITICAL" not in app.proc.text(), app.proc.text()
