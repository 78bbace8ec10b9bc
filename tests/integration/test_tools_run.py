"""The README's first command, `./tools/run`, as a new user meets it: with no session bus it
starts one, then a relay, a login, a demo server and `nfltr http`; the printed URL serves the
demo page over the agent's certificate; Ctrl-C (SIGINT to its process group, as a terminal
sends it) stops everything it started. Package installation is left out (NFLTR_RUN_NO_SETUP):
the build under test is used as it is."""
import os
import re
import signal
import urllib.parse
import uuid

import pytest

from nfltrlab import (BUILD_ROOT, Bus, binary, tagged_pids, curl, der_fingerprint, free_port,
                      pem_to_der, served_cert_pem, wait_until)

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_tools_run_serves_the_demo_and_stops_on_ctrl_c(lab):
    home = lab.mkdir("home")
    relay_port, demo_port = free_port(), free_port()
    env = lab.env(HOME=home, XDG_RUNTIME_DIR=lab.mkdir("runtime"), XDG_DATA_HOME=None,
                  XDG_CONFIG_HOME=None, NFLTR_RUN_NO_SETUP="1", NFLTR_BUILDDIR=BUILD_ROOT,
                  NFLTR_RELAY_PORT=str(relay_port), NFLTR_DEMO_PORT=str(demo_port),
                  NFLTR_DEMO_NAME="smoke")
    run = lab.spawn("tools/run", [os.path.join(TOP, "tools", "run")], env=env)

    url = run.wait_line(r"^URL:\s+(https://\S+)", 90).group(1)
    assert url.rstrip("/") == f"https://smoke.nfltr.localhost:{relay_port}", url
    run.wait_line(r"no session bus; starting a private one", 1)
    fingerprint = run.wait_line(r"^Fingerprint:\s+(sha256:[0-9a-f]{64})", 10).group(1)
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    r = curl(url + "/", "-k", resolve=(host, port))
    assert r.status == 200 and b"Hello through NFLTR" in r.body, r
    assert der_fingerprint(pem_to_der(served_cert_pem(host, port))) == fingerprint
    # The relay's state went where the README says.
    assert os.path.exists(os.path.join(home, ".local", "share", "nfltr-relay", "relay.db"))

    os.killpg(run.pid, signal.SIGINT)
    run.wait_exit(30)
    run.wait_line(r"run: stopping", 1)
    wait_until(lambda: not tagged_pids(lab.tag), 15,
               "every process tools/run started to end after Ctrl-C")
    assert curl(url + "/", "-k", resolve=(host, port), timeout=5).curl_rc != 0
    # The tunnel was removed cleanly, without a word about a closed connection (issue 8 §8).
    text = run.text()
    assert "Tunnel removed." in text and "could not remove the tunnel" not in text, text


# --------------------------------------------------------------------------------------
# Issue 18: stopped by SIGTERM, SIGHUP or SIGINT, on either bus path, nothing of the run is left.

RUN_MARK = "NFLTR_RUN_TEST_MARK"


def marked_processes(mark):
    """{pid: executable name} of every process whose environment carries RUN_MARK=mark: all
    that one tools/run started (the environment is inherited by the relay, the demo server,
    `nfltr http`, the service the CLI spawns, dbus-run-session's dbus-daemon and the app)."""
    needle = f"{RUN_MARK}={mark}".encode()
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The executable's name (comm is cut at 15 characters: "dbus-run-sessio"); a zombie
        # (state Z, no exe any more) is a process its parent did not wait for: left behind too.
        comm = stat[stat.index(b"(") + 1:stat.rindex(b")")].decode()
        state = stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3].decode()
        try:
            name = os.path.basename(os.readlink(f"/proc/{entry}/exe"))
        except OSError:
            name = comm
        name = re.sub(r"^python3\.\d+$", "python3", name)
        out[int(entry)] = name + (" <defunct>" if state == "Z" else "")
    return out


def start_xvfb(lab):
    for n in range(190, 290):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            break
    lab.spawn("xvfb", ["Xvfb", f":{n}", "-screen", "0", "1024x768x24", "-nolisten", "tcp"])
    wait_until(lambda: os.path.exists(f"/tmp/.X11-unix/X{n}"), 15, "Xvfb's socket")
    return f":{n}"


# (signal, how it is delivered, bus path, with the app)
#   "pid":   kill PID, as `kill`, systemd or `timeout --foreground` do — only the script gets it;
#   "group": to the whole process group, as a terminal does on Ctrl-C or when it is closed.
STOP_CASES = [
    ("SIGTERM", "pid", "private", True),
    ("SIGHUP", "group", "private", True),
    ("SIGINT", "pid", "private", False),
    ("SIGHUP", "pid", "session", False),
    ("SIGTERM", "group", "session", False),
]


@pytest.mark.parametrize("signame,delivery,bus,with_app", STOP_CASES,
                         ids=["-".join(str(x) for x in c[:3]) + ("-app" if c[3] else "")
                              for c in STOP_CASES])
def test_tools_run_stops_everything_on_a_signal(lab, signame, delivery, bus, with_app):
    sig = getattr(signal, signame)
    mark = uuid.uuid4().hex
    relay_port, demo_port = free_port(), free_port()
    extra = {RUN_MARK: mark}
    if bus == "session":
        session = Bus(lab, "session-bus")
        extra["DBUS_SESSION_BUS_ADDRESS"] = session.address
    if with_app:
        binary("app/nfltr-app")   # a clear failure when the app was not built
        extra.update(DISPLAY=start_xvfb(lab), GDK_BACKEND="x11", GSK_RENDERER="cairo",
                     GSETTINGS_BACKEND="memory", NO_AT_BRIDGE="1", GTK_A11Y="none")
    home = lab.mkdir("home")
    if with_app:
        # With a display, the private bus would activate gnome-keyring for the service's
        # libsecret call and its unlock prompt would wait on the screen for nobody. A service
        # file in $XDG_DATA_HOME (searched before /usr/share; dbus-daemon takes the home from
        # the password database, so it is named explicitly, at its default place) makes that
        # activation fail at once: the service then keeps the key in its 0600 file.
        extra["XDG_DATA_HOME"] = os.path.join(home, ".local", "share")
        services = lab.mkdir("home", ".local", "share", "dbus-1", "services")
        with open(os.path.join(services, "org.freedesktop.secrets.service"), "w") as f:
            f.write("[D-BUS Service]\nName=org.freedesktop.secrets\nExec=/bin/false\n")
    env = lab.env(HOME=home, XDG_RUNTIME_DIR=lab.mkdir("runtime"),
                  XDG_CONFIG_HOME=None, NFLTR_RUN_NO_SETUP="1", NFLTR_BUILDDIR=BUILD_ROOT,
                  NFLTR_RELAY_PORT=str(relay_port), NFLTR_DEMO_PORT=str(demo_port),
                  NFLTR_DEMO_NAME="stop", **{"XDG_DATA_HOME": None, **extra})
    run = lab.spawn("tools/run", [os.path.join(TOP, "tools", "run")], env=env)
    url = run.wait_line(r"^URL:\s+(https://\S+)", 90).group(1)
    if bus == "private":
        run.wait_line(r"no session bus; starting a private one", 1)
    else:
        run.wait_line(r"using the session bus at", 1)
    if with_app:
        run.wait_line(r"run: nfltr-app started", 1)

    # Everything the issue names is running, and seen by the mark, before the signal.
    expected = {"nfltr-relay", "nfltr-service", "nfltr", "python3"}
    if bus == "private":
        expected |= {"dbus-run-session", "dbus-daemon"}
    if with_app:
        expected.add("nfltr-app")
    running = wait_until(lambda: (lambda p: p if expected <= set(p.values()) else None)(
        marked_processes(mark)), 20, f"all of {sorted(expected)} running")
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    assert curl(url + "/", "-k", resolve=(host, port)).status == 200

    if delivery == "pid":
        os.kill(run.pid, sig)
    else:
        os.killpg(run.pid, sig)
    status = run.wait_exit(40)
    assert status == 128 + sig or status == -sig, f"tools/run exited with {status}:\n{run.text()}"
    try:
        wait_until(lambda: not marked_processes(mark), 15,
                   f"every process of the run to end after {signame} ({delivery})")
    except AssertionError:
        raise AssertionError(f"left after {signame} to the {delivery}: {marked_processes(mark)} "
                             f"(running before: {running})\n{run.text()}") from None
    if bus == "session":
        # The session bus itself is the caller's: still there.
        assert session.proc.alive()
    assert curl(url + "/", "-k", resolve=(host, port), timeout=5).curl_rc != 0
