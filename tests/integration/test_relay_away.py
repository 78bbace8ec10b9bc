"""A tunnel created while the relay is away (issue 8 §8): CreateTunnel answers at once (a
connect attempt to a relay that does not answer takes 30 s, longer than a D-Bus call's
default timeout), the tunnel's state says "connecting" and the CLI says so; when the relay is
back the same tunnel goes online and serves."""
import json
import socket
import time
import urllib.parse

from nfltrlab import curl, nfltr_bin, wait_until


def test_create_tunnel_while_the_relay_is_away(lab, relay, logged_in, origin):
    agent = logged_in
    relay.stop()
    # The relay's address accepts TCP and never answers TLS: the agent's connect attempts
    # hang until their timeout, as with a relay behind a dropped route.
    hole = socket.socket()
    hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hole.bind(("127.0.0.1", relay.port))
    hole.listen(64)
    try:
        wait_until(lambda: json.loads(agent.run("status", "--json").stdout)["state"]
                   in ("connecting", "unreachable"), 30, "the agent to notice the relay is away")

        started = time.monotonic()
        proc = lab.spawn("nfltr-http-away", [nfltr_bin(), "http", str(origin.port), "--name", "away"],
                         env=agent.env(), split_stderr=True)
        proc.wait_line(r"^Connecting to relay…$", 10)
        assert time.monotonic() - started < 10
        [tunnel] = json.loads(agent.run("list", "--json").stdout)
        assert (tunnel["name"], tunnel["state"]) == ("away", "connecting"), tunnel
    finally:
        hole.close()

    relay.start()
    url = proc.wait_line(r"^URL:\s+(https://\S+)", 90).group(1)
    assert url.startswith("https://away."), url

    host = urllib.parse.urlsplit(url).hostname
    r = curl(url.rstrip("/") + "/back", "-k", resolve=(host, relay.port))
    assert r.status == 200, r
