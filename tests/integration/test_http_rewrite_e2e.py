"""The HTTP rewriter of `nfltr http` cannot be bypassed (issue 8 §2), through the real relay and
service: a raw TLS client talks to a hand-written keep-alive origin that records every request
head as it arrived.

- An `Upgrade: websocket` request that the origin answers 200 does not open the stream: the next
  request on the same connection still has its Host checked (421) and gets X-Forwarded-For.
- A real WebSocket handshake (101) still switches to pass-through, and frames go both ways.
- `Content-Length: 3, 3` reaches the origin as one `Content-Length: 3`; client-sent `Forwarded`
  and `X-Real-IP` do not reach it at all.
"""
import base64
import hashlib
import os
import socket
import ssl
import threading

import pytest

from nfltrlab import DOMAIN, Agent, Relay

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"   # RFC 6455 §1.3


def read_head(f):
    """One HTTP head (request or response) from a buffered binary file: (first line, [lines])."""
    lines = []
    while True:
        line = f.readline(65536)
        if not line:
            return None, []
        if line in (b"\r\n", b"\n"):
            if lines:
                break
            continue
        lines.append(line.rstrip(b"\r\n"))
    return lines[0], lines[1:]


def header(lines, name):
    name = name.lower().encode() + b":"
    return [ln.split(b":", 1)[1].strip() for ln in lines if ln.lower().startswith(name)]


def ws_frame(payload, mask=None):
    """One final text frame (RFC 6455 §5.2); masked when mask is given (client to server)."""
    head = bytes([0x81])
    n = len(payload)
    m = 0x80 if mask else 0
    head += bytes([m | n]) if n < 126 else bytes([m | 126]) + n.to_bytes(2, "big")
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def ws_read(f):
    b0, b1 = f.read(2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(f.read(2), "big")
    mask = f.read(4) if b1 & 0x80 else None
    data = f.read(n)
    if mask:
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return b0 & 0x0F, data


class KeepAliveOrigin:
    """Serves many requests per connection. /ws with Upgrade: websocket answers 101 and then
    echoes WebSocket frames; /ws-refused answers 200 to the same request (it does not speak
    WebSocket); anything else answers 200. Records (request line, header lines) as received."""

    def __init__(self, lab):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.heads = []
        self.ws_messages = []
        threading.Thread(target=self._accept, daemon=True).start()
        lab.cleanups.append(self.sock.close)

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        with c, c.makefile("rb") as f:
            while True:
                first, lines = read_head(f)
                if first is None:
                    return
                self.heads.append((first, lines))
                for n in header(lines, "content-length")[:1]:
                    f.read(int(n.split(b",")[0]))
                path = first.split(b" ")[1]
                key = header(lines, "sec-websocket-key")
                if path == b"/ws" and header(lines, "upgrade") == [b"websocket"] and key:
                    accept = base64.b64encode(hashlib.sha1(key[0] + WS_GUID).digest())
                    c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                              b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept +
                              b"\r\n\r\n")
                    while True:
                        try:
                            op, data = ws_read(f)
                        except ValueError:
                            return
                        if op == 8:
                            return
                        self.ws_messages.append(data)
                        c.sendall(ws_frame(b"echo: " + data))
                body = b"hello from " + path
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(body) + body)


@pytest.fixture(scope="module")
def e2e(mlab):
    relay = Relay(mlab).start()
    agent = Agent(mlab)
    agent.login(relay)
    origin = KeepAliveOrigin(mlab)
    tunnel = agent.http(origin.port)
    return tunnel, origin


def tls_connect(tunnel):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", tunnel.port), timeout=20)
    s = ctx.wrap_socket(raw, server_hostname=tunnel.host)
    return s, s.makefile("rb")


def read_response(f):
    status, lines = read_head(f)
    assert status is not None, "the connection closed before a response"
    n = int(header(lines, "content-length")[0]) if header(lines, "content-length") else 0
    return status, lines, f.read(n)


def ws_request(tunnel, path, key):
    return (f"GET {path} HTTP/1.1\r\nHost: {tunnel.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n\r\n").encode()


def heads_for(origin, path):
    return [lines for first, lines in origin.heads if first.split(b" ")[1] == path]


def test_refused_upgrade_keeps_the_host_check(e2e):
    tunnel, origin = e2e
    s, f = tls_connect(tunnel)
    with s, f:
        s.sendall(ws_request(tunnel, "/ws-refused", base64.b64encode(os.urandom(16)).decode()))
        status, _, body = read_response(f)
        assert status.startswith(b"HTTP/1.1 200 "), status
        # Same connection: a request for another host. Before the fix the stream had gone raw
        # at the Upgrade header, and this reached the origin unchecked.
        s.sendall(f"GET /smuggled HTTP/1.1\r\nHost: other.{DOMAIN}\r\n\r\n".encode())
        status, lines, body = read_response(f)
    assert status.startswith(b"HTTP/1.1 421 "), (status, body)
    assert heads_for(origin, b"/ws-refused"), origin.heads
    assert not heads_for(origin, b"/smuggled"), origin.heads


def test_refused_upgrade_keeps_forwarding_headers(e2e):
    tunnel, origin = e2e
    s, f = tls_connect(tunnel)
    with s, f:
        s.sendall(ws_request(tunnel, "/ws-refused", base64.b64encode(os.urandom(16)).decode()))
        assert read_response(f)[0].startswith(b"HTTP/1.1 200 ")
        s.sendall(f"POST /second HTTP/1.1\r\nHost: {tunnel.host}\r\n"
                  f"X-Forwarded-For: 198.51.100.9\r\nForwarded: for=10.1.2.3\r\n"
                  f"X-Real-IP: 10.1.2.3\r\nContent-Length: 3, 3\r\n\r\nabc".encode())
        status, _, body = read_response(f)
    assert status.startswith(b"HTTP/1.1 200 "), status
    assert body == b"hello from /second"
    (lines,) = heads_for(origin, b"/second")
    # our hop goes last: the client's claim is kept only as the earlier part of the list
    assert header(lines, "x-forwarded-for") == [b"198.51.100.9, 127.0.0.1"], lines
    assert header(lines, "x-forwarded-proto") == [b"https"], lines
    assert header(lines, "forwarded") == [] and header(lines, "x-real-ip") == [], lines
    assert header(lines, "content-length") == [b"3"], lines


def test_websocket_upgrade_still_passes_through(e2e):
    tunnel, origin = e2e
    key = base64.b64encode(os.urandom(16))
    s, f = tls_connect(tunnel)
    with s, f:
        s.sendall(ws_request(tunnel, "/ws", key.decode()))
        status, lines = read_head(f)
        assert status.startswith(b"HTTP/1.1 101 "), status
        assert header(lines, "sec-websocket-accept") == [
            base64.b64encode(hashlib.sha1(key + WS_GUID).digest())]
        # A payload that would be a misdirected request in HTTP: after the 101 it is data.
        msg = f"GET / HTTP/1.1\r\nHost: other.{DOMAIN}\r\n\r\n".encode()
        s.sendall(ws_frame(msg, mask=os.urandom(4)))
        assert ws_read(f) == (1, b"echo: " + msg)
        s.sendall(ws_frame(b"second", mask=os.urandom(4)))
        assert ws_read(f) == (1, b"echo: second")
    assert origin.ws_messages[-2:] == [msg, b"second"]
    (lines,) = heads_for(origin, b"/ws")
    assert header(lines, "x-forwarded-for") == [b"127.0.0.1"], lines
