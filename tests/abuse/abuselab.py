"""Machinery for the abuse and fault tests: a good client that must keep being served, floods
of hostile connections, a raw agent speaking docs/protocol.md, and looks at the relay process
(/proc/PID: file descriptors, resident memory).

Everything goes to 127.0.0.x. Floods come from their own loopback source addresses
(127.0.0.2, 127.0.0.3, …) so the relay's log lines for them can be counted by peer, and so a
per-source-address limit of the relay never touches the good client (127.0.0.1).
"""
import asyncio
import base64
import contextlib
import hashlib
import os
import re
import resource
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from nfltrlab import DOMAIN, MemTLS, Relay, relay_bin  # noqa: E402

SANITIZER = bool(os.environ.get("NFLTR_SANITIZER"))
# A good request must be answered within this, from connect to the last byte. Generous (CI
# runs two cores and, in the sanitizer build, binaries several times slower) but real: a relay
# that stops serving, or serves only after a flood ends, breaks it.
LATENCY_BOUND = float(os.environ.get("NFLTR_ABUSE_LATENCY", "15" if SANITIZER else "5"))
IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h: pick the source port at connect(), not at bind()


def raise_fd_limit(want=16384):
    """Our floods (and the relay, which inherits it) need more than the usual 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --------------------------------------------------------------------------------------
# The relay process


def relay_help():
    r = subprocess.run([relay_bin(), "serve", "--help"], capture_output=True, text=True,
                       timeout=30)
    return r.stdout + r.stderr


def relay_has_option(option):
    return re.search(r"(^|\s)" + re.escape(option) + r"[=\s]", relay_help(), re.M) is not None


class LimitedRelay(Relay):
    """A Relay started under `prlimit --nofile=N:N` (prlimit execs it: same pid)."""

    def __init__(self, lab, nofile, **kw):
        super().__init__(lab, **kw)
        self.nofile = nofile

    def wrapper(self):
        return ["prlimit", f"--nofile={self.nofile}:{self.nofile}", "--"]


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def assert_alive(relay):
    assert relay.proc.alive(), (f"the relay died (status {relay.proc.p.poll()}); its log:\n"
                                f"{relay.proc.text()[-6000:]}")


_AGGREGATE = re.compile(r"refused peer=(\S+) reason=(\S+) count=(\d+) in the last")


def count_log(relay, regex):
    """Lines matching regex; a refusal line that sums up others (`count=N in the last …`, the
    relay's rate-limited log, docs/relay.md) counts N, and matches as if it named port 0."""
    pat = re.compile(regex)
    n = 0
    for line in list(relay.proc.lines):
        agg = _AGGREGATE.search(line)
        if agg:
            as_one = line.replace(f"peer={agg.group(1)} ", f"peer={agg.group(1)}:0 ", 1)
            if pat.search(line) or pat.search(as_one):
                n += int(agg.group(3))
        elif pat.search(line):
            n += 1
    return n


def wait_for(predicate, timeout, what, interval=0.1):
    """predicate() until true; on timeout fails naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {value!r})")


def settle_fds(pid, baseline, timeout, slack=0):
    """Waits for the process to be back to `baseline` (+ slack) descriptors; returns the count.
    (The relay keeps spare splice pipes only while splices run: idle, it is back to where it
    was.)"""
    wait_for(lambda: fd_count(pid) <= baseline + slack, timeout,
             f"pid {pid} to be back to {baseline} file descriptors (+{slack}); "
             f"now {fd_count(pid)}: {fd_targets(pid)}")
    return fd_count(pid)


def fd_targets(pid):
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            t = os.readlink(f"/proc/{pid}/fd/{fd}")
            t = re.sub(r"\[\d+\]", "", t)
            out[t] = out.get(t, 0) + 1
    return out


# --------------------------------------------------------------------------------------
# TLS clients


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def half_hello(sni):
    """The first half of a real ClientHello (OpenSSL's, for sni): a stalled handshake."""
    hello = MemTLS(sni).hello
    return hello[:len(hello) // 2]


def _read_http_response(s, deadline):
    """(status, headers dict, body) of one HTTP/1.1 response with Content-Length."""
    buf = bytearray()
    while b"\r\n\r\n" not in buf:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before the response headers ({bytes(buf[:200])!r})")
        buf += chunk
    head, _, body = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "-1"))
    body = bytearray(body)
    while n < 0 or len(body) < n:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = s.recv(65536)
        if not chunk:
            if n < 0:
                break
            raise ConnectionError(f"closed after {len(body)} of {n} body bytes")
        body += chunk
    return status, headers, bytes(body)


def https_get(port, sni, path, timeout, fingerprint=None, source="127.0.0.1"):
    """One GET over a new TLS connection to 127.0.0.1:port; returns (status, body).
    fingerprint ('sha256:<hex>') is checked against the certificate the server presented."""
    deadline = time.monotonic() + timeout
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                   source_address=(source, 0))
    with raw, client_context().wrap_socket(raw, server_hostname=sni,
                                           do_handshake_on_connect=False) as s:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        s.do_handshake()
        if fingerprint:
            got = "sha256:" + hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()
            if got != fingerprint:
                raise AssertionError(f"{sni}: certificate {got}, expected {fingerprint}")
        s.sendall((f"GET {path} HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n"
                   f"User-Agent: nfltr-abuse-good-client\r\n\r\n").encode())
        status, _, body = _read_http_response(s, deadline)
        return status, body


class GoodClient:
    """A loop of real requests that must all succeed, each within LATENCY_BOUND: through a
    tunnel (GET /good via nfltr http to the origin) or to the relay's own API (/api/v1/health
    over TLS). It runs in a process of its own (this file as a script), so the flood in the
    test's process cannot slow it down; only the relay can. Start before the abuse, check
    after it."""

    def __init__(self, port, sni, path, expect, fingerprint=None, name="good client",
                 pause=0.05, bound=LATENCY_BOUND):
        self.port, self.sni, self.path, self.expect = port, sni, path, expect
        self.fingerprint, self.name, self.pause, self.bound = fingerprint, name, pause, bound
        self.latencies, self.failures = [], []
        self.proc = None

    @classmethod
    def through_tunnel(cls, tunnel, **kw):
        kw.setdefault("name", f"good client of {tunnel.host}")
        return cls(tunnel.port, tunnel.host, "/good", '"path": "/good"',
                   fingerprint=tunnel.fingerprint, **kw)

    @classmethod
    def relay_health(cls, relay, **kw):
        kw.setdefault("name", "good client of the relay API")
        return cls(relay.port, DOMAIN, "/api/v1/health", '"status":"ok"', **kw)

    def _read(self):
        for line in self.proc.stdout:
            word, _, rest = line.rstrip("\n").partition(" ")
            if word == "ok":
                self.latencies.append(float(rest))
            elif word == "fail":
                at, took, err = rest.split(" ", 2)
                self.failures.append((float(at), float(took), err))
            self._seen.set()

    def __enter__(self):
        argv = [sys.executable, "-u", os.path.abspath(__file__), "good-client",
                str(self.port), self.sni, self.path, self.expect, self.fingerprint or "-",
                str(self.pause), str(self.bound)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self._seen = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        # The first answer proves the path works before any abuse starts.
        if not self._seen.wait(self.bound + 10) or not self.latencies:
            self.__exit__()
            raise AssertionError(f"{self.name}: the first request failed before any abuse: "
                                 f"{self.failures}")
        return self

    def __exit__(self, *exc):
        if self.proc is None:
            return
        with contextlib.suppress(OSError):
            self.proc.stdin.close()          # the loop ends after its current request
        try:
            self.proc.wait(self.bound + 10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        self.proc = None

    def stop(self):
        self.__exit__()

    def serve_more(self, n, timeout=None):
        """Waits until n more requests have been answered (while the abuse goes on)."""
        want = len(self.latencies) + n
        wait_for(lambda: len(self.latencies) >= want or self.failures,
                 timeout or n * (self.bound + 1), f"{self.name} to be answered {n} more times")

    def summary(self):
        lat = sorted(self.latencies)
        if not lat:
            return f"{self.name}: no request answered"
        return (f"{self.name}: {len(lat)} answered, {len(self.failures)} failed, latency "
                f"p50 {lat[len(lat) // 2] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms")

    def check(self, min_requests=5):
        """Every request succeeded, within the bound, and there were enough of them to have
        covered the abuse."""
        print(self.summary())
        assert not self.failures, (f"{self.name} was not served throughout: "
                                   f"{len(self.failures)} failures (t, took, error): "
                                   f"{self.failures[:10]}")
        assert len(self.latencies) >= min_requests, \
            f"{self.name}: only {len(self.latencies)} requests during the test"


def _good_client_main(port, sni, path, expect, fingerprint, pause, bound):
    """The good client's process: one line per request on stdout until stdin closes."""
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    t0 = time.monotonic()
    while not stop.is_set():
        start = time.monotonic()
        try:
            status, body = https_get(int(port), sni, path, float(bound),
                                     None if fingerprint == "-" else fingerprint)
            took = time.monotonic() - start
            if status != 200 or expect.encode() not in body:
                raise AssertionError(f"status {status}, body {body[:200]!r}")
            if took > float(bound):
                raise AssertionError(f"answered in {took:.2f}s, over the {bound}s bound")
            print(f"ok {took:.4f}", flush=True)
        except Exception as exc:  # noqa: BLE001 - every failure is reported
            print(f"fail {time.monotonic() - t0:.2f} {time.monotonic() - start:.2f} "
                  f"{exc!r}".replace("\n", " "), flush=True)
        stop.wait(float(pause))


# --------------------------------------------------------------------------------------
# Floods (asyncio: thousands of sockets from one thread)


def flood_socket(source):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    s.bind((source, 0))
    s.setblocking(False)
    return s


async def stalled_hello(port, source, payload, give_up):
    """Connects from `source`, sends payload, then waits for the relay to end the connection.
    Returns (outcome, seconds from the connect call to the end): 'eof' or 'reset' mean the relay
    closed it; 'ours' means we gave up after give_up seconds (the relay never did)."""
    loop = asyncio.get_running_loop()
    s = flood_socket(source)
    start = time.monotonic()   # before connect: the relay cannot have accepted any earlier
    try:
        await loop.sock_connect(s, ("127.0.0.1", port))
        await loop.sock_sendall(s, payload)
        try:
            while True:
                data = await asyncio.wait_for(loop.sock_recv(s, 4096),
                                              give_up - (time.monotonic() - start))
                if not data:
                    return "eof", time.monotonic() - start
        except (ConnectionResetError, BrokenPipeError):
            return "reset", time.monotonic() - start
        except asyncio.TimeoutError:
            return "ours", time.monotonic() - start
    except OSError as exc:
        return f"error {exc.errno}", 0.0
    finally:
        s.close()


def run_async(coro):
    return asyncio.run(coro)


# --------------------------------------------------------------------------------------
# A raw agent: TLS to the relay's own name, WebSocket, frames (docs/protocol.md §3–§4)

FRAME_HELLO, FRAME_WELCOME, FRAME_ERROR, FRAME_PING, FRAME_PONG = 0x01, 0x02, 0x03, 0x04, 0x05
FRAME_BIND, FRAME_BOUND, FRAME_UNBIND = 0x10, 0x11, 0x12
FRAME_CONN_OPEN, FRAME_CONN_REFUSE = 0x20, 0x21
ATTR_PROTO_VERSION, ATTR_API_KEY, ATTR_AGENT_ID, ATTR_AGENT_VERSION = 1, 2, 3, 4
ATTR_CODE, ATTR_MESSAGE, ATTR_REQUEST_ID, ATTR_NAME, ATTR_MODE, ATTR_FINGERPRINT = 8, 9, 10, 11, 12, 13
ATTR_HOST, ATTR_URL, ATTR_CONN_ID, ATTR_CLIENT_ADDR = 14, 15, 16, 17
ERROR_CODES = {1: "protocol", 2: "unsupported-version", 3: "auth-failed", 4: "name-taken",
               5: "bad-name", 6: "limit", 7: "unsupported-frame", 8: "internal"}


def encode_frame(ftype, attrs):
    payload = b"".join(struct.pack(">HI", t, len(v)) + v for t, v in attrs)
    return struct.pack(">BBHI", 1, ftype, 0, len(payload)) + payload


def decode_frame(data):
    version, ftype, flags, n = struct.unpack(">BBHI", data[:8])
    assert version == 1 and flags == 0 and n == len(data) - 8, f"bad frame {data[:16]!r}"
    attrs, i = {}, 8
    while i < len(data):
        t, n = struct.unpack(">HI", data[i:i + 6])  # §4: type u16, length u32
        attrs[t] = data[i + 6:i + 6 + n]
        i += 6 + n
    return ftype, attrs


class AgentRefused(Exception):
    def __init__(self, code, message):
        super().__init__(f"{ERROR_CODES.get(code, code)}: {message}")
        self.code, self.message = code, message


class RawAgent:
    """One control channel, spoken by hand. Not a good citizen: tests make it vanish."""

    def __init__(self, port, timeout=10, source="127.0.0.1"):
        self.timeout = timeout
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                       source_address=(source, 0))
        self.sock = client_context().wrap_socket(raw, server_hostname=DOMAIN)
        self.buf = bytearray()
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /agent/v1/control HTTP/1.1\r\nHost: {DOMAIN}:{port}\r\n"
                           f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Sec-WebSocket-Protocol: nfltr.v1\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        assert head.startswith(b"HTTP/1.1 101"), f"no WebSocket upgrade: {head!r}"
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        assert accept.encode() in head, f"bad Sec-WebSocket-Accept in {head!r}"

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the relay closed the control channel")
        self.buf += chunk

    def _need(self, n):
        while len(self.buf) < n:
            self._fill()

    def send_ws(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def recv_ws(self):
        """Next data message (opcode, payload); answers pings, raises on close."""
        while True:
            self._need(2)
            b0, b1 = self.buf[0], self.buf[1]
            n, i = b1 & 0x7F, 2
            if n == 126:
                self._need(4)
                n, i = struct.unpack(">H", self.buf[2:4])[0], 4
            elif n == 127:
                self._need(10)
                n, i = struct.unpack(">Q", self.buf[2:10])[0], 10
            self._need(i + n)
            payload = bytes(self.buf[i:i + n])
            del self.buf[:i + n]
            opcode = b0 & 0x0F
            if opcode == 0x9:
                self.send_ws(0xA, payload)
                continue
            if opcode == 0x8:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                raise ConnectionError(f"the relay closed the control channel ({code} "
                                      f"{payload[2:].decode('utf-8', 'replace')})")
            if opcode == 0xA:
                continue
            return opcode, payload

    def send_frame(self, ftype, attrs):
        self.send_ws(0x2, encode_frame(ftype, attrs))

    def recv_frame(self, timeout=None):
        self.sock.settimeout(timeout or self.timeout)
        opcode, payload = self.recv_ws()
        assert opcode == 0x2, f"text message from the relay: {payload!r}"
        return decode_frame(payload)

    def expect(self, want):
        ftype, attrs = self.recv_frame()
        if ftype == FRAME_ERROR:
            raise AgentRefused(struct.unpack(">H", attrs[ATTR_CODE])[0],
                               attrs.get(ATTR_MESSAGE, b"").decode())
        assert ftype == want, f"expected frame 0x{want:02x}, got 0x{ftype:02x} {attrs}"
        return attrs

    def hello(self, api_key, agent_id=None):
        self.agent_id = agent_id or os.urandom(16).hex()
        self.send_frame(FRAME_HELLO, [(ATTR_PROTO_VERSION, struct.pack(">H", 1)),
                                      (ATTR_API_KEY, api_key.encode()),
                                      (ATTR_AGENT_ID, self.agent_id.encode()),
                                      (ATTR_AGENT_VERSION, b"abuse-test")])
        return self.expect(FRAME_WELCOME)

    def bind(self, name, request_id=1, mode=1):
        self.send_frame(FRAME_BIND, [(ATTR_REQUEST_ID, struct.pack(">I", request_id)),
                                     (ATTR_NAME, name.encode()), (ATTR_MODE, bytes([mode])),
                                     (ATTR_FINGERPRINT, os.urandom(32))])
        attrs = self.expect(FRAME_BOUND)
        return attrs[ATTR_HOST].decode()

    def close(self):
        """A clean goodbye: WebSocket close frame, then TCP close."""
        with contextlib.suppress(OSError):
            self.send_ws(0x8, struct.pack(">H", 1000) + b"bye")
        with contextlib.suppress(OSError):
            self.sock.close()

    def vanish(self):
        """Gone without a word: TCP reset, no TLS close_notify, no WebSocket close."""
        with contextlib.suppress(OSError):
            raw = socket.socket(fileno=os.dup(self.sock.fileno()))
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.close()
        with contextlib.suppress(OSError):
            self.sock.close()


if __name__ == "__main__" and len(sys.argv) == 9 and sys.argv[1] == "good-client":
    _good_client_main(*sys.argv[2:])
