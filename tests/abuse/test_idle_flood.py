"""The agent survives a flood (issue 8 §4): idle public connections cost it neither a thread
each nor unbounded memory, the per-tunnel cap is answered with CONN_REFUSE and a logged,
counted reason, and the agent closes idle connections itself.

- 5,000 idle public connections (TLS done, then silent) through one http tunnel: the
  service's thread count stays flat (the event-loop and helper threads of
  service/tunnels/nfltr-data-conn-loops.c, nothing per connection), its RSS grows by at most
  RSS_PER_CONN_KIB per held connection (docs/benchmarks.md "Idle connections held by the
  agent"), and a good client is still served while they are held.
- The per-tunnel cap (NFLTR_TUNNEL_MAX_CONNECTIONS, default 1,024): connections beyond it are
  refused at once — the relay logs `conn-refused` with the agent's reason
  `too-many-connections`, the service logs the refusal — and a slot freed is usable again.
- The agent's idle timeout (NFLTR_DATA_CONN_IDLE_TIMEOUT, default 900 s): a silent public
  connection is closed by the agent, a talking one is not.

On today's main the first fails on threads (one per connection), the second and third because
every connection is served and none is closed."""
import asyncio
import glob
import os
import selectors
import socket
import ssl
import threading
import time

from abuselab import SANITIZER, assert_alive, client_context, count_log, fd_count, rss_kib, \
    wait_for
from nfltrlab import Agent, Relay, tagged_processes

IDLE = 5000
CONCURRENCY = 100
# Measured 9-10 KiB per held connection (GnuTLS session, the touched pages of the connection's
# buffers, two sockets); the bound leaves room for allocator slack, not for a thread stack or
# a buffer of 64 KiB per connection. The sanitizer build pads every allocation.
# ASan adds redzones and a quarantine to every allocation: 69 KiB was measured there once,
# under load; its bound is 96 (a thread per connection cost 63 KiB even without ASan).
RSS_PER_CONN_KIB = 96 if SANITIZER else 24
# Event-loop threads (one per core, at most 8) and helper threads (at most 4) may start.
THREADS_EXTRA = min(os.cpu_count() or 1, 8) + 4
SETTLE = 90 if SANITIZER else 40
HOST_TIMEOUT = 120 if SANITIZER else 60


class HoldingOrigin:
    """A local HTTP server on one thread (selectors), so that thousands of held connections
    cost the test no thread each: answers every request head with 200 "ok", keeps the
    connection open, counts connections."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1024)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, selectors.EVENT_READ, None)
        self.open = 0
        self.stopping = False
        self.wake_r, self.wake_w = socket.socketpair()
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            for key, _ in self.sel.select():
                if key.data == "wake":
                    continue
                if key.data is None:
                    try:
                        conn, _ = self.listener.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(False)
                    self.sel.register(conn, selectors.EVENT_READ, bytearray())
                    self.open += 1
                    continue
                conn, buf = key.fileobj, key.data
                try:
                    data = conn.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.sel.unregister(conn)
                    conn.close()
                    self.open -= 1
                    continue
                buf += data
                while b"\r\n\r\n" in buf:
                    _, _, rest = bytes(buf).partition(b"\r\n\r\n")
                    buf[:] = rest
                    conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()

    def stop(self):
        self.stopping = True
        self.wake_w.send(b"x")
        self.thread.join(10)
        self.wake_w.close()


def threads(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise AssertionError(f"no Threads line for pid {pid}")


def active_connections(agent):
    import json
    r = agent.run("list", "--json")
    assert r.returncode == 0, f"nfltr list --json failed: {r.stderr}"
    return sum(int(t["active_connections"]) for t in json.loads(r.stdout))


def service_log(agent):
    text = ""
    for path in glob.glob(os.path.join(agent.home, ".local", "state", "nfltr", "*.log")):
        with open(path, errors="replace") as f:
            text += f.read()
    return text


async def get_ok(port, host, timeout=10):
    """One request on a fresh connection: the good client. Returns the status line."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=client_context(), server_hostname=host),
        timeout)
    try:
        writer.write(f"GET /good HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        return head.split(b"\r\n", 1)[0].decode()
    finally:
        writer.transport.abort()


async def open_idle(port, host, n, concurrency=CONCURRENCY):
    """n TLS connections that finish their handshake and then say nothing. Returns the
    writers of those that got through and the count of those that did not."""
    held, failed = [], 0
    sem = asyncio.Semaphore(concurrency)
    ctx = client_context()

    async def one():
        nonlocal failed
        async with sem:
            try:
                r, w = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=host),
                    30)
                held.append((r, w))
            except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError):
                failed += 1

    await asyncio.gather(*(one() for _ in range(n)))
    return held, failed


def start_agent(lab, relay, target_port, env):
    """An agent whose service sees `env` (the bus and the CLI inherit the test's
    environment, and the CLI starts the service)."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        agent = Agent(lab)
        agent.login(relay)
        tunnel = agent.http(target_port)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    pids = tagged_processes(lab.tag, "nfltr-service")
    assert len(pids) == 1, f"expected one nfltr-service, found {pids}"
    return agent, tunnel, pids[0]


def test_idle_flood_threads_flat_rss_bounded(lab):
    origin = HoldingOrigin()
    # Each held connection is two sockets at the relay (public, data): room for all.
    # All 5,000 come from 127.0.0.1 to one agent: lift the relay's per-source and per-agent caps
    # (issue 8 §3, default 1,024 per agent), which this test is not about.
    relay = Relay(lab, extra_args=["--max-connections", str(4 * IDLE),
                                   "--max-connections-per-source", str(4 * IDLE),
                                   "--max-connections-per-agent", str(2 * IDLE)]).start()
    agent, tunnel, spid = start_agent(lab, relay, origin.port,
                                      {"NFLTR_TUNNEL_MAX_CONNECTIONS": str(IDLE + 100)})

    async def run():
        # Warm-up: what the first connections set up once (GnuTLS tables, the loop threads)
        # belongs to the baseline.
        assert (await get_ok(tunnel.port, tunnel.host)).startswith("HTTP/1.1 200")
        wait_for(lambda: active_connections(agent) == 0, SETTLE, "the warm-up to end")
        idle_threads, idle_rss = threads(spid), rss_kib(spid)
        print(f"idle: {idle_threads} threads, {idle_rss} KiB, {fd_count(spid)} fds")

        start = time.monotonic()
        held, failed = await open_idle(tunnel.port, tunnel.host, IDLE)
        took = time.monotonic() - start
        # Every one of them through to the origin: the agent holds both its sockets.
        wait_for(lambda: origin.open >= len(held), SETTLE,
                 f"the origin to see all {len(held)} held connections (sees {origin.open})")
        peak_threads, peak_rss = threads(spid), rss_kib(spid)
        per_conn = (peak_rss - idle_rss) / max(1, len(held))
        print(f"{len(held)} held ({failed} failed) in {took:.1f}s: service {peak_threads} "
              f"threads, {peak_rss} KiB (+{per_conn:.1f} KiB per connection), "
              f"{fd_count(spid)} fds")
        assert failed == 0 and len(held) == IDLE, f"{failed} of {IDLE} idle connections failed"
        assert peak_threads <= idle_threads + THREADS_EXTRA, \
            f"{peak_threads} threads with {IDLE} idle connections (idle {idle_threads})"
        assert per_conn <= RSS_PER_CONN_KIB, \
            f"{per_conn:.1f} KiB per idle connection (bound {RSS_PER_CONN_KIB})"

        # A good client is served while they are held, promptly.
        t0 = time.monotonic()
        assert (await get_ok(tunnel.port, tunnel.host)).startswith("HTTP/1.1 200")
        print(f"good client served in {time.monotonic() - t0:.2f}s with {IDLE} held")
        # And a held one still answers end to end.
        r, w = held[len(held) // 2]
        w.write(f"GET /held HTTP/1.1\r\nHost: {tunnel.host}\r\n\r\n".encode())
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200"), head
        for _, w in held:
            w.transport.abort()

    try:
        asyncio.run(run())
        wait_for(lambda: active_connections(agent) == 0, SETTLE,
                 "the tunnel's ActiveConnections to be 0 after the flood")
        assert_alive(relay)
    finally:
        origin.stop()


def test_cap_answered_with_conn_refuse(lab):
    cap, extra = 20, 10
    origin = HoldingOrigin()
    relay = Relay(lab).start()
    agent, tunnel, spid = start_agent(lab, relay, origin.port,
                                      {"NFLTR_TUNNEL_MAX_CONNECTIONS": str(cap)})
    assert (asyncio.run(get_ok(tunnel.port, tunnel.host))).startswith("HTTP/1.1 200")
    wait_for(lambda: active_connections(agent) == 0, SETTLE, "the warm-up to end")

    async def run():
        held, failed = await open_idle(tunnel.port, tunnel.host, cap + extra, concurrency=5)
        print(f"{len(held)} held, {failed} refused")
        assert len(held) == cap and failed == extra, (len(held), failed)
        wait_for(lambda: active_connections(agent) == cap, SETTLE,
                 f"ActiveConnections to show the {cap} held")
        # the relay was told why, once per refused connection
        wait_for(lambda: count_log(relay, r"conn-refused.*too-many-connections") >= extra,
                 SETTLE, "the relay to log the agent's too-many-connections refusals")
        # the service logged it (rate-limited: at least the first)
        wait_for(lambda: "refused: too-many-connections" in service_log(agent), SETTLE,
                 "the service to log the refusal with its reason")
        # a slot freed is a slot usable again
        held[0][1].transport.abort()
        await asyncio.sleep(0.2)  # lets the event loop close the socket: wait_for() blocks it
        wait_for(lambda: active_connections(agent) < cap, SETTLE, "a slot to be freed")
        assert (await get_ok(tunnel.port, tunnel.host)).startswith("HTTP/1.1 200")
        for _, w in held[1:]:
            w.transport.abort()

    try:
        asyncio.run(run())
        assert_alive(relay)
    finally:
        origin.stop()


def test_agent_closes_idle_connection(lab):
    timeout_s = 2
    origin = HoldingOrigin()
    relay = Relay(lab).start()
    agent, tunnel, spid = start_agent(lab, relay, origin.port,
                                      {"NFLTR_DATA_CONN_IDLE_TIMEOUT": str(timeout_s)})

    async def run():
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", tunnel.port, ssl=client_context(), server_hostname=tunnel.host)
        # Talking more often than the timeout keeps it open past it.
        first = time.monotonic()
        for i in range(5):
            if i:
                await asyncio.sleep(timeout_s / 2)  # the client's think time: what is tested
            writer.write(f"GET /{i} HTTP/1.1\r\nHost: {tunnel.host}\r\n\r\n".encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 200"), head
            await reader.readexactly(2)
        assert time.monotonic() - first > timeout_s, "the talking phase must outlast the timeout"
        # Then silent: the agent closes it, and the client sees the end of the stream.
        start = time.monotonic()
        rest = await asyncio.wait_for(reader.read(), timeout_s + 10)
        took = time.monotonic() - start
        print(f"closed by the agent after {took:.1f}s of silence")
        assert rest == b"" and timeout_s - 0.5 <= took <= timeout_s + 5, (rest, took)
        writer.transport.abort()

    try:
        asyncio.run(run())
        wait_for(lambda: active_connections(agent) == 0, SETTLE, "ActiveConnections to be 0")
        wait_for(lambda: origin.open == 0, SETTLE, "the origin's connection to be closed")
        assert_alive(relay)
    finally:
        origin.stop()
