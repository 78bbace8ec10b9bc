"""Clients that download through the tunnel but never read (a tiny receive window, then
nothing). The relay must not buffer what it cannot deliver: its resident memory stays flat
while twenty of them hang on 256 MiB downloads — in verified mode (splice: at most a pipe per
direction, in the kernel) and in inspectable mode (the relay's own TLS proxy) — and other
clients keep being served."""
import contextlib
import re
import socket
import struct
import time
import types

import pytest

from abuselab import GoodClient, SANITIZER, assert_alive, client_context, rss_kib, wait_for
from nfltrlab import tagged_processes

READERS = 20
SIZE = 256 << 20
HOLD = 5                 # seconds the stall is watched once every download has started
# What the relay may add to its resident memory for all twenty stalled downloads (a relay that
# buffered what it read from the agent would add at least several MiB per reader). Not checked
# in the sanitizer build, whose allocator keeps freed memory in quarantine.
RELAY_RSS_GROWTH_KIB = 8 * 1024
# Same for the agent (nfltr-service), whose download buffer is 256 KiB per connection.
AGENT_RSS_GROWTH_KIB = 32 * 1024


@pytest.fixture(params=["verified", "inspectable"])
def env(request, relay, logged_in, origin):
    args = ["--e2ee=false"] if request.param == "inspectable" else []
    tunnel = logged_in.http(origin.port, *args)
    # In inspectable mode the public side of TLS is the relay's certificate.
    pin = relay.fingerprint() if request.param == "inspectable" else tunnel.fingerprint
    return types.SimpleNamespace(relay=relay, agent=logged_in, origin=origin, tunnel=tunnel,
                                 mode=request.param, pin=pin)


def service_pid(lab):
    pids = tagged_processes(lab.tag, "nfltr-service")
    return pids[0] if pids else None


def stalled_download(tunnel):
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(30)
    raw.connect(("127.0.0.1", tunnel.port))
    s = client_context().wrap_socket(raw, server_hostname=tunnel.host)
    s.sendall(f"GET /bytes/{SIZE} HTTP/1.1\r\nHost: {tunnel.host}\r\n\r\n".encode())
    return s


def test_clients_that_read_nothing(lab, env):
    relay, tunnel = env.relay, env.tunnel
    relay_pid, agent_pid = relay.proc.pid, service_pid(lab)
    assert agent_pid, "no nfltr-service process found for this test's agent"
    good = GoodClient(tunnel.port, tunnel.host, "/good", '"path": "/good"', fingerprint=env.pin,
                      name=f"good client of {tunnel.host} ({env.mode})")
    relay_rss, agent_rss = rss_kib(relay_pid), rss_kib(agent_pid)
    readers = []
    peaks = [relay_rss, agent_rss]

    with good:
        try:
            for _ in range(READERS):
                readers.append(stalled_download(tunnel))
            wait_for(lambda: sum(r["path"].startswith("/bytes/") for r in env.origin.requests)
                     >= READERS, 30, f"the origin to be asked for {READERS} downloads")
            end = time.monotonic() + HOLD
            while time.monotonic() < end:
                peaks = [max(peaks[0], rss_kib(relay_pid)), max(peaks[1], rss_kib(agent_pid))]
                time.sleep(0.2)
            assert_alive(relay)
        finally:
            for s in readers:
                with contextlib.suppress(OSError):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    s.close()
    print(f"{env.mode}: {READERS} stalled downloads; relay RSS {relay_rss} → peak {peaks[0]} KiB, "
          f"agent RSS {agent_rss} → peak {peaks[1]} KiB")

    if not SANITIZER:
        assert peaks[0] - relay_rss <= RELAY_RSS_GROWTH_KIB, \
            f"the relay buffered {peaks[0] - relay_rss} KiB for {READERS} clients that read nothing"
        assert peaks[1] - agent_rss <= AGENT_RSS_GROWTH_KIB, \
            f"the agent buffered {peaks[1] - agent_rss} KiB for {READERS} clients that read nothing"
    # The relay counts what it delivered to each (passthrough only): no more than the sockets
    # could hold.
    if env.mode == "verified":
        wait_for(lambda: len(delivered(relay, tunnel.host)) >= READERS, 20,
                 f"{READERS} closed lines for {tunnel.host}")
        most = max(delivered(relay, tunnel.host))
        assert most < 32 << 20, f"the relay delivered {most} bytes to a client that read nothing"
    good.check(min_requests=10)


def delivered(relay, host):
    out = []
    for line in list(relay.proc.lines):
        m = re.search(rf"closed peer=\S+ host={re.escape(host)} mode=\w+ bytes_to_agent=\d+ "
                      rf"bytes_to_client=(\d+)", line)
        if m and int(m.group(1)) > 1 << 16:
            out.append(int(m.group(1)))
    return out
