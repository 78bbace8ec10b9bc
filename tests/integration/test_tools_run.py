"""The README's first command, `./tools/run`, as a new user meets it: with no session bus it
starts one, then a relay, a login, a demo server and `nfltr http`; the printed URL serves the
demo page over the agent's certificate; Ctrl-C (SIGINT to its process group, as a terminal
sends it) stops everything it started. Package installation is left out (NFLTR_RUN_NO_SETUP):
the build under test is used as it is."""
import os
import signal
import urllib.parse

from nfltrlab import (BUILD_ROOT, tagged_pids, curl, der_fingerprint, free_port, pem_to_der,
                      served_cert_pem, wait_until)

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
