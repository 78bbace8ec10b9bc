"""The app's test lab: Xvfb, the real nfltr-app, and a way to drive and read it.

Builds on tests/integration/nfltrlab.py (relay, private bus, CLI, origins). The app runs on the
agent's private session bus with NFLTR_APP_TEST=1, so it exports extra app.test-* actions on
org.gtk.Actions (/xyz/nfltr/Nfltr): they flip the real GtkSwitch, type into the real dialogs and
report what the window shows (app.test-state). Screenshots come from the X server (ImageMagick
`import`), i.e. what a person would see.
"""
import os
import shutil
import subprocess
import sys
import time

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import nfltrlab  # noqa: E402
from nfltrlab import wait_until  # noqa: E402,F401

APP_ID = "xyz.nfltr.Nfltr"
APP_PATH = "/xyz/nfltr/Nfltr"
# Test runs write into the build tree so they never dirty the checkout; to refresh the
# committed pictures: NFLTR_SCREENSHOT_DIR=$PWD/docs/screenshots meson test -C build --suite app
SCREENSHOT_DIR = os.environ.get("NFLTR_SCREENSHOT_DIR") or os.path.join(
    os.environ.get("NFLTR_BUILD_ROOT", os.path.join(HERE, "..", "..", "build")), "screenshots")


def app_bin():
    return nfltrlab.binary("app/nfltr-app")


class Xvfb:
    """A virtual X screen of its own (a display number nobody uses)."""

    def __init__(self, lab, width=1280, height=800):
        for n in range(90, 190):
            if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
                break
        else:
            raise AssertionError("no free X display number")
        self.display = f":{n}"
        self.proc = lab.spawn("xvfb", ["Xvfb", self.display, "-screen", "0",
                                       f"{width}x{height}x24", "-nolisten", "tcp"])
        wait_until(lambda: os.path.exists(f"/tmp/.X11-unix/X{n}"), 15, "Xvfb's socket")
        self.env = {"DISPLAY": self.display}
        # The pointer starts mid-screen, over the window: park it in a corner so no hover
        # highlight or tooltip lands in the pictures.
        subprocess.run(["xdotool", "mousemove", str(width - 1), str(height - 1)],
                       timeout=10, env={**os.environ, "DISPLAY": self.display})

    def windows(self):
        """Mapped top-level windows: [(id, name, x, y, w, h)]."""
        out = subprocess.run(["xwininfo", "-root", "-children", "-display", self.display],
                             capture_output=True, text=True, timeout=10).stdout
        wins = []
        for line in out.splitlines():
            line = line.strip()
            if not line.startswith("0x") or "(has no name)" in line:
                continue
            wid = line.split()[0]
            info = subprocess.run(["xwininfo", "-id", wid, "-display", self.display],
                                  capture_output=True, text=True, timeout=10).stdout
            if "IsViewable" not in info:
                continue
            vals = {}
            for key in ("Absolute upper-left X", "Absolute upper-left Y", "Width", "Height"):
                for l in info.splitlines():
                    if l.strip().startswith(key + ":"):
                        vals[key] = int(l.split(":")[1])
            name = line.split('"')[1] if '"' in line else ""
            wins.append((wid, name, vals["Absolute upper-left X"], vals["Absolute upper-left Y"],
                         vals["Width"], vals["Height"]))
        return wins

    def resize(self, title, width, height):
        """Resizes the window titled `title` as a window manager would (ConfigureRequest)."""
        wins = [w for w in self.windows() if w[1] == title]
        assert wins, f"no window titled {title!r}: {self.windows()}"
        subprocess.run(["xdotool", "windowsize", wins[0][0], str(width), str(height)],
                       check=True, timeout=10, env={**os.environ, "DISPLAY": self.display})

    def key(self, title, keys):
        """Gives the window titled `title` the keyboard focus and presses `keys` (XTEST), as a
        person at the keyboard would."""
        wins = [w for w in self.windows() if w[1] == title]
        assert wins, f"no window titled {title!r}: {self.windows()}"
        env = {**os.environ, "DISPLAY": self.display}
        subprocess.run(["xdotool", "windowfocus", "--sync", wins[0][0]], check=True, timeout=10, env=env)
        subprocess.run(["xdotool", "key", "--clearmodifiers", keys], check=True, timeout=10, env=env)

    def screenshot(self, name, title=None):
        """Saves the area covered by the app's windows (or the one titled `title`) as
        NAME.png in SCREENSHOT_DIR."""
        os.makedirs(SCREENSHOT_DIR, exist_ok=True)
        path = os.path.join(SCREENSHOT_DIR, name + ".png")
        wins = [w for w in self.windows() if w[4] > 50 and w[5] > 50
                and (title is None or w[1] == title)]
        assert wins, f"no window {title or ''} on the screen to take a picture of"
        x0 = min(w[2] for w in wins)
        y0 = min(w[3] for w in wins)
        x1 = max(w[2] + w[4] for w in wins)
        y1 = max(w[3] + w[5] for w in wins)
        tmp = path + ".tmp.png"
        subprocess.run(["import", "-display", self.display, "-window", "root",
                        "-crop", f"{x1 - x0}x{y1 - y0}+{x0}+{y0}", "+repage", tmp],
                       check=True, timeout=30)
        os.replace(tmp, path)
        return path


def make_cert(lab, name, cn):
    """A self-signed certificate for cn and its key, in the lab: (crt path, key path)."""
    key, crt = lab.path(name + ".key"), lab.path(name + ".crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", f"/CN={cn}",
                    "-addext", f"subjectAltName=DNS:{cn}", "-keyout", key, "-out", crt],
                   check=True, capture_output=True, timeout=30)
    return crt, key


def _unpack(v):
    return v.unpack() if isinstance(v, GLib.Variant) else v


class App:
    """The real nfltr-app on an agent's bus and an Xvfb display."""

    def __init__(self, lab, agent, xvfb, extra_env=None, bus_address=None, timing=False, args=()):
        self.lab, self.agent, self.xvfb = lab, agent, xvfb
        build = nfltrlab.BUILD_ROOT
        env = agent.env() if agent else lab.env()
        env.update(xvfb.env)
        env.update({
            "NFLTR_APP_TEST": "1",
            "GSETTINGS_BACKEND": "memory",
            "GSETTINGS_SCHEMA_DIR": os.path.join(build, "data", "app"),
            "NO_AT_BRIDGE": "1",
            "GDK_BACKEND": "x11",
            "GSK_RENDERER": "cairo",
            "GTK_A11Y": "none",
            "LC_ALL": "C.UTF-8",
        })
        # In a sanitizer build: fontconfig and GTK keep process-lifetime caches that LSan
        # reports at exit (none of the leaks names nfltr code); errors still abort.
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        if bus_address:
            env["DBUS_SESSION_BUS_ADDRESS"] = bus_address
        if timing:
            env["NFLTR_APP_TIMING"] = "1"
        env.update(extra_env or {})
        self.bus_address = env["DBUS_SESSION_BUS_ADDRESS"]
        self.spawned_at = time.monotonic()
        self.proc = lab.spawn("nfltr-app", [app_bin(), *args], env=env)
        self.conn = Gio.DBusConnection.new_for_address_sync(
            self.bus_address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        wait_until(self._has_name, 20, "nfltr-app to own xyz.nfltr.Nfltr on the bus")

    def _has_name(self):
        assert self.proc.alive(), f"nfltr-app exited:\n{self.proc.text()}"
        r = self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "NameHasOwner",
                                GLib.Variant("(s)", (APP_ID,)), None, 0, 5000, None)
        return r.unpack()[0]

    def call_actions(self, method, args, timeout_ms=5000):
        return self.conn.call_sync(APP_ID, APP_PATH, "org.gtk.Actions", method, args,
                                   None, 0, timeout_ms, None)

    def activate(self, name, param=None, timeout_ms=5000):
        params = [param] if param is not None else []
        self.call_actions("Activate", GLib.Variant("(sava{sv})", (name, params, {})), timeout_ms)

    def activate_win(self, name, window_id=1):
        """Activates a win.* action of the main window (GtkApplicationWindow exports them)."""
        self.conn.call_sync(APP_ID, f"{APP_PATH}/window/{window_id}", "org.gtk.Actions",
                            "Activate", GLib.Variant("(sava{sv})", (name, [], {})),
                            None, 0, 5000, None)

    def state(self, timeout_ms=5000):
        """What the window shows now (app.test-state), as plain Python values."""
        self.activate("test-state", timeout_ms=timeout_ms)
        r = self.call_actions("Describe", GLib.Variant("(s)", ("test-state",)), timeout_ms)
        enabled, ptype, state = r.unpack()[0]
        return state[0] if state else {}

    def window(self):
        return self.state().get("window", {})

    def rows(self):
        return self.window().get("rows", [])

    def row(self, key):
        for r in self.rows():
            if key in (r.get("id"), r.get("name")):
                return r
        return None

    def wait(self, predicate, timeout, what):
        def check():
            assert self.proc.alive(), f"nfltr-app exited:\n{self.proc.text()}"
            return predicate(self.window())
        return wait_until(check, timeout, what, interval=0.1)

    def toggle(self, key, on):
        self.activate("test-toggle", GLib.Variant("(sb)", (key, on)))

    def row_action(self, key, action):
        self.activate("test-row-action", GLib.Variant("(ss)", (key, action)))

    def clipboard(self):
        """The X CLIPBOARD selection's text (what Ctrl+V would paste)."""
        r = subprocess.run(["xclip", "-o", "-selection", "clipboard"], capture_output=True,
                           text=True, timeout=10, env={**os.environ, "DISPLAY": self.xvfb.display})
        return r.stdout if r.returncode == 0 else None

    def expand(self, key, on=True):
        self.activate("test-expand", GLib.Variant("(sb)", (key, on)))

    def resize(self, width, height):
        self.xvfb.resize("NFLTR", width, height)

    def fill_new_tunnel(self, **fields):
        d = {k.replace("_", "-"): GLib.Variant("s", v) for k, v in fields.items()}
        self.activate("test-fill-new-tunnel", GLib.Variant("a{sv}", d))

    def open_new_tunnel(self, **fields):
        """Opens New Tunnel (app.new-tunnel, as the shell would) and fills in fields."""
        self.activate("new-tunnel")
        self.wait(lambda w: "new-tunnel-dialog" in w, 10, "the New Tunnel dialog")
        if fields:
            self.fill_new_tunnel(**fields)

    def create_tunnel(self, **fields):
        """New Tunnel with fields, Create, and a wait for the window's one row to be online."""
        self.open_new_tunnel(**fields)
        self.activate("test-create")
        self.wait(lambda w: len(w.get("rows", [])) == 1 and w["rows"][0]["switch-state"], 30,
                  f"the tunnel {fields.get('name', '')} online")

    def fill_relay(self, **fields):
        d = {k.replace("_", "-"): GLib.Variant("s", v) for k, v in fields.items()}
        self.activate("test-fill-relay", GLib.Variant("a{sv}", d))

    def settle(self, seconds=0.6):
        """Lets animations (revealers, crossfades: 250 ms in GTK) finish before a picture."""
        time.sleep(seconds)

    def bus_call(self, dest, path, iface, method, args=None, reply=None, timeout_ms=10000):
        return self.conn.call_sync(dest, path, iface, method, args,
                                   GLib.VariantType(reply) if reply else None, 0, timeout_ms,
                                   None).unpack()

    def service_pid(self):
        """The pid owning xyz.nfltr.Nfltr.Service on the app's bus, or None."""
        has = self.bus_call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                            "NameHasOwner", GLib.Variant("(s)", ("xyz.nfltr.Nfltr.Service",)))[0]
        if not has:
            return None
        return self.bus_call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                             "GetConnectionUnixProcessID",
                             GLib.Variant("(s)", ("xyz.nfltr.Nfltr.Service",)))[0]

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


def xdnd_drop(lab, agent, xvfb, paths, title):
    """A real drag and drop under Xvfb (p2papp): a GTK4 drag source in another process
    (drag-source.py, offering the paths as text/uri-list, as a file manager does) is dragged
    with the X pointer (xdotool: press, move in steps, release) onto the window titled `title`.
    Returns the source's process: the target reads the URIs from it after the release, so stop
    it only once the drop has been seen."""
    env = {**agent.env(), **xvfb.env, "GDK_BACKEND": "x11", "GSK_RENDERER": "cairo",
           "NO_AT_BRIDGE": "1", "GTK_A11Y": "none"}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    src = lab.spawn("drag-source", ["/usr/bin/python3", os.path.join(HERE, "drag-source.py"), *paths],
                    env=env)
    src.wait_line("ready", 20)
    xenv = {**os.environ, "DISPLAY": xvfb.display}

    def xdo(*args):
        subprocess.run(["xdotool", *map(str, args)], check=True, timeout=10, env=xenv)

    wins = wait_until(lambda: [w for w in xvfb.windows() if w[1] == "drag-source"], 10,
                      "the drag source's window")
    # No window manager: every window starts at 0,0; move the source clear of the target.
    xdo("windowmove", wins[0][0], 1000, 500)
    wait_until(lambda: [w for w in xvfb.windows() if w[1] == "drag-source" and w[2] >= 1000], 10,
               "the drag source moved clear of the target")
    target = [w for w in xvfb.windows() if w[1] == title][0]
    tx, ty = target[2] + target[4] // 2, target[3] + target[5] // 2
    # Each step waits for what the source saw: the pointer in, the drag begun (after GTK's drag
    # threshold), the target's acceptance of a position; only then the release.
    xdo("mousemove", 1100, 600)
    xdo("mousemove", 1101, 601)
    src.wait_line("pointer-in", 10)
    xdo("mousedown", 1)
    for i in range(1, 21):
        xdo("mousemove", 1100 + (tx - 1100) * i // 20, 600 + (ty - 600) * i // 20)
        if i == 2:
            src.wait_line("drag-begin", 10)
    # The target answers positions as they come: nudge the pointer until it has accepted one.
    for nudge in range(40):
        xdo("mousemove", tx + 3 + nudge % 4, ty + 3)
        try:
            src.wait_line("accepted", 0.25)
            break
        except AssertionError:
            continue
    else:
        raise AssertionError("the drop target never accepted the drag:\n" + src.text())
    xdo("mouseup", 1)
    xdo("mousemove", 1279, 799)
    return src
