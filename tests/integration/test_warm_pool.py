"""The warm pool (docs/protocol.md §5.1, issue 8 §7): nfltr-service keeps idle data connections
open at the relay, so a visitor's connection is paired at once instead of waiting for
CONN_OPEN and the agent's TCP handshake. What a user sees: the relay's log says the visitor
took a pooled connection, the pool refills (every later visitor is pooled too), the tunnel
counts visitors only (not the idle slots), and stopping the agent closes the slots at the
relay (its descriptors go back to what they were before the tunnel)."""
import json
import os
import re
import signal

from nfltrlab import curl_tunnel, tagged_processes, wait_until


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_visitors_take_pooled_connections(lab, relay, logged_in, origin):
    [relay_pid] = tagged_processes(lab.tag, "nfltr-relay")
    fds_before = open_fds(relay_pid)
    t = logged_in.http(origin.port)

    for i in range(4):
        r = curl_tunnel(t, f"/pooled-{i}")
        assert r.status == 200, r
    # Every visitor took a pooled connection: the pool refilled after each one. (The relay's
    # own proof check, from the relay's address, is a visitor too; it runs at BIND, before
    # the pool is there.)
    closed = rf"closed peer=\S+ host={re.escape(t.host)} mode=verified .*"
    own = f"peer=127.0.0.1:{relay.port} "

    def visitors():
        return re.findall(closed, relay.log())
    wait_until(lambda: len([v for v in visitors() if own not in v]) >= 4, 30,
               "four visitors in the relay's log")
    curls = [v for v in visitors() if own not in v]
    # a close that races the client may add " error=…" after the flag
    assert all("pooled=yes" in v.split() for v in curls), "\n".join(curls)

    # The idle slots are not visitors: the agent counts as many connections as the relay
    # logged visitors, not the slots it holds.
    def counts():
        [tunnel] = json.loads(logged_in.run("list", "--json").stdout)
        return tunnel["total_connections"], len(visitors())
    wait_until(lambda: counts()[0] == counts()[1], 15, "the agent to count the visitors only",
               interval=0.3)

    # The slots are held at the relay while the tunnel runs, and closed when it stops.
    assert open_fds(relay_pid) > fds_before
    t.proc.send(signal.SIGINT)
    t.proc.wait_exit(20)
    wait_until(lambda: open_fds(relay_pid) <= fds_before, 20,
               "the relay's descriptors back to before the tunnel")
