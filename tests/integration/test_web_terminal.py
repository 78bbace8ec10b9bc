"""`nfltr terminal` and `nfltr ai` through the relay: the page behind its token, the shell on
the WebSocket (a command typed, its output read), the session surviving a reconnect with its
scrollback replayed, a read-only viewer link, the transcript, and refusals (no token, a wrong
one, another site's page, a flood). The WebSocket client is a small RFC 6455 one written
here, so what is tested is our server's framing, not a library's leniency."""
import base64
import http.client
import json
import os
import re
import secrets
import socket
import ssl
import struct
import time
import urllib.parse

import pytest

from nfltrlab import Tunnel, nfltr_bin, wait_until


def tls_to(relay_port, host):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    raw = socket.create_connection(("127.0.0.1", relay_port), timeout=20)
    return ctx.wrap_socket(raw, server_hostname=host)


class Https:
    """HTTP/1.1 over TLS to the relay's port with the tunnel's SNI."""

    def __init__(self, relay_port, host):
        self.relay_port, self.host = relay_port, host

    def get(self, path, headers=None):
        conn = http.client.HTTPSConnection(self.host, self.relay_port, timeout=20)
        conn.sock = tls_to(self.relay_port, self.host)
        conn.request("GET", path, headers={"Host": f"{self.host}:{self.relay_port}",
                                           **(headers or {})})
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        return resp, body


class WebSocket:
    """A client end of RFC 6455 (masked frames, as §5.3 requires of clients)."""

    def __init__(self, relay_port, host, path, cookie=None, origin=None):
        self.sock = tls_to(relay_port, host)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{relay_port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13"]
        if cookie:
            lines.append(f"Cookie: {cookie}")
        if origin:
            lines.append(f"Origin: {origin}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                break
            head += chunk
        self.status = int(head.split(b" ", 2)[1]) if head else 0
        self.buf = b""
        self.closed = None
        self.sent = 0

    def send(self, payload, opcode=None):
        if isinstance(payload, str):
            payload = payload.encode()
            opcode = opcode or 1
        opcode = opcode or 2
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + body)

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def recv(self, timeout=10):
        """(opcode, payload) of the next frame; close frames set .closed."""
        deadline = time.monotonic() + timeout
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        n, at = b1 & 0x7F, 2
        if n == 126:
            self._need(4, deadline)
            n, at = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10, deadline)
            n, at = struct.unpack("!Q", self.buf[2:10])[0], 10
        assert not b1 & 0x80, "server frames are never masked (RFC 6455 §5.1)"
        self._need(at + n, deadline)
        payload, self.buf = self.buf[at:at + n], self.buf[at + n:]
        opcode = b0 & 0x0F
        if opcode == 8:
            self.closed = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        return opcode, payload

    def read_until(self, needle, timeout=15, ack=True):
        """Terminal output until needle shows; answers with acks as the page does."""
        out, texts = b"", []
        deadline = time.monotonic() + timeout
        while needle.encode() not in out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {needle!r} within {timeout}s; got {out[-2000:]!r} {texts}")
            opcode, payload = self.recv(left)
            if opcode == 2:
                out += payload
                self.sent += len(payload)
                if ack:
                    self.send(f"a{self.sent}")
            elif opcode == 1:
                texts.append(json.loads(payload))
            elif opcode == 8:
                raise AssertionError(f"closed ({self.closed}) before {needle!r}; got {out!r}")
        return out, texts

    def close(self):
        try:
            self.send(struct.pack("!H", 1000), opcode=8)
        except OSError:
            pass
        self.sock.close()


def start_terminal(lab, agent, kind, *args, command=None, env=None):
    argv = [nfltr_bin(), kind, "--json", *args]
    if command:
        argv += ["--", *command]
    proc = lab.spawn(f"{agent.name}:nfltr-{kind}", argv, env={**agent.env(), **(env or {})},
                     split_stderr=True)
    tunnel = Tunnel(proc)
    tunnel.wait_ready(60)
    agent.tunnels.append(tunnel)
    return tunnel


def token_of(url):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["token"][0]


def login(web, token):
    """?token= → 303 with the cookie; returns the cookie header value."""
    resp, _ = web.get(f"/?token={token}")
    assert resp.status == 303, resp.status
    assert resp.getheader("Location") == "/"
    cookie = resp.getheader("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie, cookie
    assert token not in cookie, "the cookie must not be the token itself"
    return cookie.split(";")[0]


def test_terminal_shell_reconnect_viewer_transcript(lab, relay, logged_in):
    t = start_terminal(lab, logged_in, "terminal", "--viewer", command=["/bin/sh"])
    assert t.ready["kind"] == "terminal"
    assert t.ready["target"] == "/bin/sh"
    assert t.url.startswith("https://") and "/?token=" in t.url, t.url
    assert "viewer_url" in t.ready and token_of(t.ready["viewer_url"]) != token_of(t.url)
    web = Https(relay.port, t.host)
    origin = f"https://{t.host}:{relay.port}"

    # No token, a wrong token: refused, and nothing of the terminal is shown.
    resp, body = web.get("/", {"Accept": "text/html"})
    assert resp.status == 401 and b"data-role" not in body
    resp, body = web.get("/?token=" + secrets.token_urlsafe(16))
    assert resp.status == 401
    ws = WebSocket(relay.port, t.host, "/ws", origin=origin)
    assert ws.status == 401
    ws.sock.close()

    cookie = login(web, token_of(t.url))
    resp, body = web.get("/", {"Cookie": cookie, "Accept": "text/html"})
    assert resp.status == 200
    page = body.decode()
    assert 'data-role="writer"' in page
    assert "Verified end-to-end" in page and t.fingerprint in page
    assert '<script src="/assets/xterm.js">' in page
    resp, js = web.get("/assets/xterm.js")
    assert resp.status == 200 and b"Terminal" in js and len(js) > 100000

    # Another site's page cannot ride on the cookie.
    ws = WebSocket(relay.port, t.host, "/ws", cookie=cookie, origin="https://evil.example")
    assert ws.status == 403
    ws.sock.close()

    ws = WebSocket(relay.port, t.host, "/ws", cookie=cookie, origin=origin)
    assert ws.status == 101
    opcode, hello = ws.recv()
    assert opcode == 1 and json.loads(hello) == {"t": "hello", "writer": True, "title": "/bin/sh"}
    ws.send("r100,30")
    ws.send("iexport KEPT=still-here; echo \"out-$((6*7))\" €; stty size\r")
    out, _ = ws.read_until("30 100")
    assert b"out-42 \xe2\x82\xac" in out

    # The page goes away (a reload, a dropped network): the shell stays, a new connection
    # is sent the scrollback and types into the same shell.
    ws.sock.close()
    ws = WebSocket(relay.port, t.host, "/ws", cookie=cookie, origin=origin)
    out, _ = ws.read_until("out-42")
    ws.send("iecho \"again-$KEPT\"\r")
    ws.read_until("again-still-here")

    # The viewer link: sees the output, cannot type.
    vcookie = login(web, token_of(t.ready["viewer_url"]))
    resp, body = web.get("/", {"Cookie": vcookie, "Accept": "text/html"})
    assert resp.status == 200 and 'data-role="viewer"' in body.decode()
    viewer = WebSocket(relay.port, t.host, "/ws", cookie=vcookie, origin=origin)
    opcode, hello = viewer.recv()
    assert json.loads(hello)["writer"] is False
    viewer.read_until("again-still-here")
    viewer.send("iecho viewer-typed-$((2+2))\r")
    time.sleep(0.5)
    ws.send("iecho writer-$((3+3))\r")
    out, _ = ws.read_until("writer-6")
    assert b"viewer-typed-4" not in out

    # The transcript: plain text, escape sequences stripped.
    resp, body = web.get("/transcript.txt", {"Cookie": cookie})
    assert resp.status == 200
    assert resp.getheader("Content-Type").startswith("text/plain")
    assert b"out-42" in body and b"again-still-here" in body and b"\x1b" not in body

    # A flood of keystrokes the shell does not read: that page is cut off, the session and
    # the other pages stay.
    ws.send("isleep 30\r")
    time.sleep(0.3)
    flood = WebSocket(relay.port, t.host, "/ws", cookie=cookie, origin=origin)
    flood.recv()
    for _ in range(8):
        try:
            flood.send(b"i" + b"x" * 65536)
        except OSError:
            break
    wait_until(lambda: _closed(flood), 20, "the flooding page to be disconnected")
    assert flood.closed in (1008, None), flood.closed
    # Ctrl-C to the sleeping shell, then it still answers.
    ws.send("i\x03")
    ws.send("iecho after-flood-$((4+4))\r")
    ws.read_until("after-flood-8", timeout=20)
    ws.close()
    viewer.close()


def _closed(ws):
    try:
        while True:
            opcode, _ = ws.recv(0.5)
            if opcode == 8:
                return True
    except (EOFError, OSError):
        return True
    except AssertionError:
        return False


def test_ai_says_when_the_command_is_missing(lab, relay, logged_in):
    # Default: claude, which this machine does not have.
    env = {"PATH": "/usr/bin:/bin"}
    r = logged_in.run("ai", "--json", env=env, timeout=30)
    assert r.returncode == 1
    assert "“claude” is not installed" in r.stderr and "nfltr ai -- COMMAND" in r.stderr
    r = logged_in.run("ai", "--", "no-such-ai-tool-xyz", timeout=30)
    assert r.returncode == 1 and "“no-such-ai-tool-xyz” is not installed" in r.stderr
    # Nothing was created.
    r = logged_in.run("list", "--json")
    assert "terminal" not in r.stdout and '"ai"' not in r.stdout


def test_ai_session_transcript(lab, relay, logged_in):
    script = lab.path("fake-ai")
    with open(script, "w") as f:
        f.write("#!/bin/sh\nprintf '\\033[1;35mAssistant:\\033[0m ready\\n'\n"
                "while read line; do printf '\\033[32mYou said:\\033[0m %s\\n' \"$line\"; done\n")
    os.chmod(script, 0o755)
    t = start_terminal(lab, logged_in, "ai", command=[script])
    assert t.ready["kind"] == "ai"
    web = Https(relay.port, t.host)
    origin = f"https://{t.host}:{relay.port}"
    cookie = login(web, token_of(t.url))
    ws = WebSocket(relay.port, t.host, "/ws", cookie=cookie, origin=origin)
    ws.read_until("ready")
    ws.send("ihello agent\r")
    ws.read_until("You said:\x1b[0m hello agent")
    resp, plain = web.get("/transcript.txt", {"Cookie": cookie})
    assert resp.status == 200
    assert b"Assistant: ready\n" in plain and b"You said: hello agent\n" in plain
    assert b"\x1b" not in plain
    resp, raw = web.get("/transcript.ansi", {"Cookie": cookie})
    assert b"\x1b[1;35mAssistant:" in raw
    ws.close()
