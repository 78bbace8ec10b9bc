"""An agent that connects and disconnects in a loop — a raw one, speaking docs/protocol.md by hand
(TLS to the relay's own name, WebSocket /agent/v1/control with nfltr.v1, HELLO, BIND), leaving
each time another way: before HELLO, after HELLO, after BIND (a clean close or a reset), and
with a public client waiting for it. Meanwhile the good tunnel of the real agent keeps working,
and afterwards the relay has let go of everything: its descriptors are back to where they were,
the flapping name is free, the good one still bound."""
import os
import signal
import socket
import time

from abuselab import (FRAME_CONN_OPEN, SANITIZER, GoodClient, RawAgent, assert_alive, count_log,
                      fd_count, https_get, settle_fds, wait_for)
from nfltrlab import DOMAIN, Agent, MemTLS, read_until_closed, tagged_processes

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
    # Past the first ten of an interval, refusals reach the log as one count= line at the end
    # of the relay's --log-interval (10 s), without the host: wait for that line too. Only the
    # flapping agent's clients can meet agent-gone here.
    wait_for(lambda: count_log(relay, r"refused peer=\S* reason=agent-gone\b")
             >= counts["client-waiting"], 25, "an agent-gone refusal per waiting client")
    # The flapping name is free again, the good one still bound.
    wait_for(lambda: relay.api(f"/api/v1/tunnels/{HOST}")[0] == 404, 10, f"{HOST} to be unbound")
    status, body, _ = relay.api(f"/api/v1/tunnels/{http_tunnel.tunnel.host}")
    assert status == 200 and body["host"] == http_tunnel.tunnel.host, body
    settle_fds(pid, baseline, 20)
    assert_alive(relay)
    good.check(min_requests=10)


REAL_ROUNDS = 10


def agent_service_pid(lab, agent):
    """The nfltr-service of this agent (its HOME tells it from the good agent's)."""
    for pid in tagged_processes(lab.tag, "nfltr-service"):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if f"HOME={agent.home}".encode() in f.read().split(b"\0"):
                    return pid
        except OSError:
            continue
    return None


def test_real_agent_killed_and_restarted(lab, http_tunnel):
    """The real agent this time: `nfltr http` brings up nfltr-service, which is SIGKILLed (no
    goodbye: the relay learns it from the socket), then everything starts again, ten times.
    The other agent's tunnel is served throughout; the name comes free each time; the relay
    ends with its descriptors of before."""
    relay = http_tunnel.relay
    pid = relay.proc.pid
    flapper = Agent(lab, "flapper")
    flapper.login(relay)
    baseline = fd_count(pid)
    host = f"realflap.{DOMAIN}"

    with GoodClient.through_tunnel(http_tunnel.tunnel) as good:
        for i in range(REAL_ROUNDS):
            tunnel = flapper.http(http_tunnel.origin.port, "--name", "realflap")
            assert tunnel.host == host, tunnel.url
            status, body = https_get(relay.port, host, "/flap", 15, tunnel.fingerprint)
            assert status == 200 and b"/flap" in body, (status, body[:200])
            service = agent_service_pid(lab, flapper)
            assert service, "no nfltr-service for the flapping agent"
            os.kill(service, signal.SIGKILL)
            wait_for(lambda: relay.api(f"/api/v1/tunnels/{host}")[0] == 404, 30,
                     f"{host} to be unbound after its agent was killed (round {i + 1})")
            tunnel.proc.stop()
    status, body, _ = relay.api(f"/api/v1/tunnels/{http_tunnel.tunnel.host}")
    assert status == 200, body
    settle_fds(pid, baseline, 30)
    assert_alive(relay)
    good.check(min_requests=5)
