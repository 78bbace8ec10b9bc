"""The relay's limits are explicit, configurable and documented, and the two that keep one
source or one agent from taking the relay for itself hold: connections per source address and
connections per agent. Each breach is refused at once, with its reason in the log, while a good
client keeps being served."""
import asyncio
import os
import re
import socket
import subprocess

import pytest

from abuselab import (FRAME_CONN_OPEN, FRAME_CONN_REFUSE, ATTR_CONN_ID, SANITIZER, GoodClient,
                      RawAgent, assert_alive, count_log, half_hello, https_get, relay_help,
                      stalled_hello, wait_for)
from nfltrlab import DOMAIN, MemTLS, Relay, read_until_closed, relay_bin

# option → a value it must refuse
LIMITS = {
    "--hello-max-bytes": "100",
    "--handshake-timeout": "0",
    "--attach-timeout": "0",
    "--agent-idle-timeout": "0",
    "--max-tunnels-per-agent": "0",
    "--max-connections": "-1",
    "--max-connections-per-source": "0",
    "--max-connections-per-agent": "0",
    "--agent-reserve": "0",
    "--idle-timeout": "0",
    "--http-idle-timeout": "0",
    "--log-interval": "0",
}
PROMPT = 5 if SANITIZER else 2    # "at once", on a loaded machine


def relay_doc():
    with open(os.path.join(os.environ["NFLTR_SOURCE_ROOT"], "docs", "relay.md"),
              encoding="utf-8") as f:
        return f.read()


@pytest.mark.parametrize("option", LIMITS)
def test_limit_is_an_option_with_a_default_and_documented(option, tmp_path):
    help_line = [line for line in relay_help().splitlines() if re.search(rf"{option}[=\s]", line)]
    assert help_line, f"`nfltr-relay serve --help` has no {option}"
    assert re.search(r"default", help_line[0], re.I), f"--help does not give a default: {help_line}"
    rows = [line for line in relay_doc().splitlines()
            if line.startswith(f"| `{option}") and line.count("|") >= 4]
    assert rows, f"docs/relay.md's option table has no row for {option}"
    r = subprocess.run([relay_bin(), "serve", "--data-dir", str(tmp_path), "--listen",
                        "127.0.0.1:1", option, LIMITS[option]],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, f"{option} {LIMITS[option]} accepted (exit {r.returncode}): {r.stderr}"
    assert option.lstrip("-") in r.stderr or "out of range" in r.stderr, r.stderr


# --------------------------------------------------------------------------------------
# Per source address

PER_SOURCE = 20
FLOOD_SOURCE = "127.0.0.7"


@pytest.fixture
def relay(lab, request):
    args = getattr(request, "param", [])
    return Relay(lab, extra_args=args).start()


@pytest.mark.parametrize("relay", [["--max-connections-per-source", str(PER_SOURCE),
                                    "--handshake-timeout", "6"]], indirect=True)
def test_connections_per_source_address(http_tunnel):
    relay = http_tunnel.relay
    payload = half_hello("stall.nfltr.localhost")

    async def flood():
        return await asyncio.gather(*(stalled_hello(relay.port, FLOOD_SOURCE, payload, give_up=20)
                                      for _ in range(PER_SOURCE + 10)))

    with GoodClient.through_tunnel(http_tunnel.tunnel) as good:
        results = asyncio.run(flood())
        # Another address is not affected by the first one's flood.
        status, body = https_get(relay.port, DOMAIN, "/api/v1/health", 10, source="127.0.0.8")
        assert status == 200, body
    refused_early = sorted(t for how, t in results if how != "ours" and t < PROMPT)
    held = sorted(t for how, t in results if how != "ours" and t >= 5)
    print(f"{len(results)} connections from {FLOOD_SOURCE}: {len(refused_early)} refused at once, "
          f"{len(held)} held to the handshake deadline")
    assert len(refused_early) == 10 and len(held) == PER_SOURCE, \
        f"expected 10 refused at once and {PER_SOURCE} held: {sorted(results)}"
    wait_for(lambda: count_log(relay, rf"refused peer={FLOOD_SOURCE}:\d+ reason=source-limit") >= 10,
             10, "10 source-limit refusals in the relay log")
    # Once its connections are gone, the address is served again.
    status, body = https_get(relay.port, DOMAIN, "/api/v1/health", 10, source=FLOOD_SOURCE)
    assert status == 200, body
    assert_alive(relay)
    good.check(min_requests=5)


# --------------------------------------------------------------------------------------
# Per agent

PER_AGENT = 10


@pytest.mark.parametrize("relay", [["--max-connections-per-agent", str(PER_AGENT)]], indirect=True)
def test_connections_per_agent(http_tunnel):
    """An agent that never attaches: its public clients wait for it, at most PER_AGENT of them;
    the rest are refused at once; another agent's tunnel is not affected; once the agent
    refuses the waiting ones, there is room again."""
    relay = http_tunnel.relay
    hog = RawAgent(relay.port)
    hog.hello(relay.create_key())
    host = hog.bind("hog")
    hello = MemTLS(host).hello
    clients, opens = [], []

    with GoodClient.through_tunnel(http_tunnel.tunnel) as good:
        for _ in range(PER_AGENT):
            c = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
            c.sendall(hello)
            clients.append(c)
            ftype, attrs = hog.recv_frame()
            assert ftype == FRAME_CONN_OPEN, f"expected CONN_OPEN, got 0x{ftype:02x}"
            opens.append(attrs[ATTR_CONN_ID])
        for i in range(5):
            c = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
            c.sendall(hello)
            _, took, how = read_until_closed(c, PROMPT + 5)
            c.close()
            assert how != "timeout" and took <= PROMPT, \
                f"client {PER_AGENT + i + 1} for a full agent: closed after {took:.1f}s ({how})"
        wait_for(lambda: count_log(relay, rf"reason=agent-limit host={re.escape(host)}") >= 5, 10,
                 "5 agent-limit refusals in the relay log")
        good.serve_more(5)   # while the agent's clients wait
        # The agent refuses the waiting clients: they are closed, and their places are free.
        for conn_id in opens:
            hog.send_frame(FRAME_CONN_REFUSE, [(ATTR_CONN_ID, conn_id)])
        for c in clients:
            _, took, how = read_until_closed(c, 10)
            assert how != "timeout", "a refused client was not closed"
            c.close()
        c = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
        c.sendall(hello)
        ftype, _ = hog.recv_frame()
        assert ftype == FRAME_CONN_OPEN, "no room for a new client after the agent refused the others"
        c.close()
    hog.vanish()
    assert_alive(relay)
    good.check(min_requests=5)
