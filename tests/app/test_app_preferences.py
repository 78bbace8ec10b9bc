"""Preferences and starting at login (issue 9 §7), in the real app against the real service.

Preferences shows the relay in use, writes and removes the XDG autostart entry that starts
`nfltr-app --background` at login, and "Keep Running When Closed" decides whether closing the
window ends the app. `nfltr-app --background` owns its name and watches the tunnels without
putting a window on the screen until asked."""
import configparser
import os

import applab
from nfltrlab import wait_until


def autostart_file(agent):
    return os.path.join(agent.home, ".config", "autostart", "xyz.nfltr.Nfltr.desktop")


def test_preferences_start_at_login_and_keep_running(world):
    app = applab.App(world.lab, world.agent, world.xvfb)
    app.wait(lambda w: w.get("page") == "empty", 20, "the main window")
    app.activate("preferences")
    app.wait(lambda w: "preferences" in w, 10, "the Preferences window")
    prefs = app.window()["preferences"]
    assert prefs["relay"] == world.relay.address, prefs
    assert not prefs["start-at-login"] and prefs["run-in-background"], prefs
    app.settle(0.5)
    world.xvfb.screenshot("preferences", title="Preferences")

    # Start at Login: an autostart entry that starts the app hidden; off removes it.
    path = autostart_file(world.agent)
    assert not os.path.exists(path)
    app.activate("test-pref", applab.GLib.Variant("(sb)", ("start-at-login", True)))
    wait_until(lambda: os.path.exists(path), 10, "the autostart entry")
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(path)
    assert entry["Desktop Entry"]["Exec"] == "nfltr-app --background", dict(entry["Desktop Entry"])
    assert entry["Desktop Entry"]["Type"] == "Application"
    app.activate("test-pref", applab.GLib.Variant("(sb)", ("start-at-login", False)))
    wait_until(lambda: not os.path.exists(path), 10, "the autostart entry to go")

    # Keep Running When Closed, off: closing the window ends the app.
    app.activate("test-pref", applab.GLib.Variant("(sb)", ("run-in-background", False)))
    app.activate("test-close-dialogs")
    app.activate("test-close")
    wait_until(lambda: not app.proc.alive(), 15, "the app to end with its window")


def test_background_start_shows_no_window_until_asked(world):
    app = applab.App(world.lab, world.agent, world.xvfb, args=["--background"])
    app.settle(1.0)
    assert app.proc.alive()
    assert not [w for w in world.xvfb.windows() if w[1] == "NFLTR"], world.xvfb.windows()
    assert not app.window().get("visible"), app.window()
    # A second start at login changes nothing and ends at once.
    second = world.lab.spawn("nfltr-app-again", [applab.app_bin(), "--background"],
                             env={**world.agent.env(), **world.xvfb.env, "GSETTINGS_BACKEND": "memory",
                                  "GSETTINGS_SCHEMA_DIR": os.path.join(applab.nfltrlab.BUILD_ROOT, "data", "app")})
    wait_until(lambda: not second.alive(), 15, "the second --background start to end")
    assert not [w for w in world.xvfb.windows() if w[1] == "NFLTR"]
    # Asked (the notification's action, or launching it from the shell): the window shows.
    app.activate("show-window")
    wait_until(lambda: [w for w in world.xvfb.windows() if w[1] == "NFLTR"], 15, "the window")
