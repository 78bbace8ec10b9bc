"""An agent that connects and disconnects in a loop — a raw one, speaking docs/protocol.md by hand
(TLS to the relay's own name, WebSocket /agent/v1/control with nfltr.v1, HELLO, BIND), leaving
each time another way: before HELLO, after HELLO, after BIND (a clean close or a reset), and
with a public client waiting for it. Meanwhile the good tunnel of the real agent keeps working,
and afterwards the relay has let go of everything: its descriptors are back to where they were,
the flapping name is free, the good one still bound."""
import socket
import time

from abuselab import (FRAME_CONN_OPEN, SANITIZER, GoodClient, RawAgent, assert_alive, count_log,
                      fd_count, settle_fds, wait_for)
from nfltrlab import DOMAIN, MemTLS, read_until_closed

ITERATIONS = 100
NAME = "flapper"
HOST = f"{NAME}.{DOMAIN}"
STYLES = ("before-hello", "after-hello", "bound-close", "bound-reset", "client-waiting")
# A public client left waiting for an agent that vanished is closed this fast (not at the
# attach timeout, 10 s).
AGENT_GONE_BOUND = 5 if SANITIZER else 2


def flap(relay, key, agent_id, style):
    a = RawAgent(relay.port)
    if style == "before-hello":
        a.vanish()
        return None
    a.hello(key, agent_id)
    if style == "after-hello":
        a.vanish()
        return None
    assert a.bind(NAME) == HOST
    if style == "bound-close":
        a.close()
        return None
    if style == "bound-reset":
        a.vanish()
        return None
    # client-waiting: a public client for the name; the relay tells the agent (CONN_OPEN),
    # the agent vanishes instead of attaching; the relay must close the client at once.
    client = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
    client.sendall(MemTLS(HOST).hello)
    ftype, _ = a.recv_frame()
    assert ftype == FRAME_CONN_OPEN, f"expected CONN_OPEN, got 0x{ftype:02x}"
    a.vanish()
    _, took, how = read_until_closed(client, AGENT_GONE_BOUND + 5)
    client.close()
    assert how != "timeout" and took <= AGENT_GONE_BOUND, \
        f"the client waiting for a vanished agent was closed after {took:.1f}s ({how})"
    return took


def test_agent_connecting_and_disconnecting_in_a_loop(http_tunnel):
    relay = http_tunnel.relay
    pid = relay.proc.pid
    key = relay.create_key()
    agent_id = "f1a9" * 8
    baseline = fd_count(pid)
    counts = dict.fromkeys(STYLES, 0)
    waits = []

    with GoodClient.through_tunnel(http_tunnel.tunnel) as good:
        start = time.monotonic()
        for i in range(ITERATIONS):
            style = STYLES[i % len(STYLES)]
            took = flap(relay, key, agent_id, style)
            counts[style] += 1
            if took is not None:
                waits.append(took)
        took = time.monotonic() - start
    print(f"{ITERATIONS} agent sessions in {took:.1f}s: {counts}; waiting clients closed after "
          f"{max(waits):.2f}s at most")

    hellos = ITERATIONS - counts["before-hello"]
    wait_for(lambda: count_log(relay, r"agent f1a9f1a9 connected from") >= hellos, 10,
             f"{hellos} 'agent f1a9f1a9 connected' lines")
    wait_for(lambda: count_log(relay, rf"refused peer=.* reason=agent-gone host={HOST}")
             >= counts["client-waiting"], 10, "an agent-gone refusal per waiting client")
    # The flapping name is free again, the good one still bound.
    wait_for(lambda: relay.api(f"/api/v1/tunnels/{HOST}")[0] == 404, 10, f"{HOST} to be unbound")
    status, body, _ = relay.api(f"/api/v1/tunnels/{http_tunnel.tunnel.host}")
    assert status == 200 and body["host"] == http_tunnel.tunnel.host, body
    settle_fds(pid, baseline, 20)
    assert_alive(relay)
    good.check(min_requests=10)
