"""The relay's file-descriptor limit reached: a relay started with a low RLIMIT_NOFILE (prlimit)
is flooded, from many source addresses, with more stalled connections than it has descriptors.
It must say so in its log (a clear reason, not a warning from deep inside GLib), stay up without
spinning, and serve again — here: keep serving, because what fills its table are connections
that have not even sent a ClientHello, which it drops first — and, once the flood goes away,
be back to its descriptors of before."""
import asyncio
import os
import re
import time

import pytest

from abuselab import (SANITIZER, GoodClient, LimitedRelay, assert_alive, count_log, fd_count,
                      flood_socket, half_hello, settle_fds, wait_for)

NOFILE = 128
FLOOD = 3 * NOFILE
SOURCES = [f"127.0.0.{i}" for i in range(10, 22)]   # 32 each: under any per-source cap
# The relay's CPU time while it sits at its limit, per second of wall time: a relay that
# retries accept() in a loop burns a whole core.
MAX_CPU_SHARE = 0.5
# What the relay says at its limit (docs/relay.md): it closes the connection that has waited
# longest for its ClientHello, or, when there is none, stops accepting for a while.
LIMIT_LOG = r"reason=(max-connections|fd-limit)|connection limit reached"


@pytest.fixture(params=["default", "max-connections-above-the-limit"])
def relay(lab, request):
    # Its own --max-connections (from the descriptor limit) keeps the relay below RLIMIT_NOFILE;
    # set above it, the relay meets EMFILE itself and must cope all the same.
    args = ["--max-connections", str(4 * NOFILE)] if request.param != "default" else []
    return LimitedRelay(lab, NOFILE, extra_args=args).start()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def open_flood(port, payload):
    loop = asyncio.get_running_loop()

    async def one(i):
        s = flood_socket(SOURCES[i % len(SOURCES)])
        try:
            await loop.sock_connect(s, ("127.0.0.1", port))
            await loop.sock_sendall(s, payload)
            return s
        except OSError:
            s.close()
            return None

    socks = await asyncio.gather(*(one(i) for i in range(FLOOD)))
    return [s for s in socks if s is not None]


def test_descriptor_limit_reached(http_tunnel):
    relay = http_tunnel.relay
    pid = relay.proc.pid
    baseline = fd_count(pid)
    payload = half_hello("flood.nfltr.localhost")

    with GoodClient.through_tunnel(http_tunnel.tunnel, name="good client during the flood") as during:
        socks = asyncio.run(open_flood(relay.port, payload))
        try:
            assert_alive(relay)
            assert len(socks) >= NOFILE, f"only {len(socks)} flood connections were made"
            wait_for(lambda: count_log(relay, LIMIT_LOG) > 0, 20,
                     "the relay to log that it reached its connection limit")
            # Its connection limit follows from the descriptor limit (half of it, here): the
            # flood took that room, and never more than the descriptors there are.
            held = fd_count(pid)
            assert NOFILE // 2 <= held <= NOFILE, \
                f"the relay holds {held} descriptors: the flood did not reach its limit"
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(2)
            share = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
            assert_alive(relay)
        finally:
            for s in socks:
                s.close()
    print(f"{len(socks)} flood connections against RLIMIT_NOFILE {NOFILE}; relay CPU at the limit "
          f"{share:.0%}; {count_log(relay, LIMIT_LOG)} limit lines, e.g.:")
    print([line for line in relay.proc.lines if re.search(LIMIT_LOG, line)][:2])
    if not SANITIZER:
        assert share <= MAX_CPU_SHARE, f"the relay used {share:.0%} of a core while at its limit"

    settle_fds(pid, baseline, 30)
    with GoodClient.through_tunnel(http_tunnel.tunnel, name="good client after the flood") as after:
        wait_for(lambda: len(after.latencies) >= 5 or after.failures, 30, "5 answers after the flood")
    after.check(min_requests=5)
    during.check(min_requests=3)
    assert_alive(relay)
