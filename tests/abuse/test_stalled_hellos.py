"""1,000 connections send half a ClientHello and stall (slowloris on the first stage). The relay
must close every one of them itself at its handshake deadline (--handshake-timeout, short here)
— not earlier, not never — and serve a good client through a real tunnel the whole time."""
import asyncio
import time

import pytest

from abuselab import (SANITIZER, GoodClient, assert_alive, count_log, fd_count, half_hello,
                      settle_fds, stalled_hello, wait_for)
from nfltrlab import Relay

N = 1000
HANDSHAKE_TIMEOUT = 3
# How late after its deadline the relay may close a stalled connection: a loaded 2-core CI
# machine (and the sanitizer build) handles 1,000 timers slowly, but it must handle them.
LATE = 20 if SANITIZER else 10
# Four source addresses, 250 connections each: under the relay's per-source cap (which has its
# own test), so this one is about the handshake deadline alone.
SOURCES = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
FROM_SOURCES = r"refused peer=127\.0\.0\.[2-5]:\d+ "


@pytest.fixture
def relay(lab):
    return Relay(lab, extra_args=["--handshake-timeout", str(HANDSHAKE_TIMEOUT)]).start()


async def flood(port, payload, pid, peak):
    sampler_done = asyncio.Event()

    async def sample():
        while not sampler_done.is_set():
            peak[0] = max(peak[0], fd_count(pid))
            await asyncio.sleep(0.1)

    sampler = asyncio.create_task(sample())
    results = await asyncio.gather(*(stalled_hello(port, SOURCES[i % len(SOURCES)], payload,
                                                   give_up=HANDSHAKE_TIMEOUT + LATE)
                                     for i in range(N)))
    sampler_done.set()
    await sampler
    return results


def test_stalled_client_hellos_are_closed_by_the_relay_at_its_deadline(http_tunnel):
    relay = http_tunnel.relay
    pid = relay.proc.pid
    baseline = fd_count(pid)
    payload = half_hello("stalled.nfltr.localhost")
    peak = [0]

    with GoodClient.through_tunnel(http_tunnel.tunnel) as good:
        start = time.monotonic()
        results = asyncio.run(flood(relay.port, payload, pid, peak))
        took = time.monotonic() - start
    print(f"{N} stalled connections ended in {took:.1f}s; relay fds {baseline} → peak {peak[0]}")

    outcomes = {}
    for how, _ in results:
        outcomes[how] = outcomes.get(how, 0) + 1
    assert outcomes.get("ours", 0) == 0, \
        f"the relay never closed {outcomes['ours']} stalled connections: {outcomes}"
    assert set(outcomes) <= {"eof", "reset"}, f"connections failed otherwise: {outcomes}"
    times = sorted(t for _, t in results)
    assert times[0] >= HANDSHAKE_TIMEOUT - 0.1, \
        f"a stalled connection was closed after {times[0]:.2f}s, before the {HANDSHAKE_TIMEOUT}s deadline"
    assert times[-1] <= HANDSHAKE_TIMEOUT + LATE, f"closed up to {times[-1]:.1f}s after connect"
    print(f"closed after {times[0]:.2f}s (first), {times[len(times) // 2]:.2f}s (median), "
          f"{times[-1]:.2f}s (last)")

    # The relay held them all at once (so they were really accepted, not left in the backlog)…
    assert peak[0] >= baseline + 0.9 * N, \
        f"relay fds peaked at {peak[0]} (baseline {baseline}): the flood did not reach it"
    # …named each one in its log, with the reason…
    wait_for(lambda: count_log(relay, FROM_SOURCES + "reason=hello-timeout") >= N,
             15, f"{N} hello-timeout refusals in the relay log")
    assert count_log(relay, FROM_SOURCES + "reason=(?!hello-timeout)") == 0, \
        "stalled connections were refused for another reason"
    # …and let go of every descriptor.
    settle_fds(pid, baseline, 20)
    assert_alive(relay)
    good.check(min_requests=3)
