"""TCP clients reach a tcp tunnel with `nfltr connect` (issue 9 §3).

A tcp tunnel is shown as tls://NAME.DOMAIN:PORT with how clients connect; `nfltr connect`
opens a local port whose connections go through the relay in TLS to the tunnel. A plain-TCP
client (redis-cli, and a byte-exact echo) works through it; the certificate is pinned on first
use and a changed one is refused loudly before anything is sent; --fingerprint checks it."""
import hashlib
import json
import os
import re
import socket
import socketserver
import subprocess
import threading

import pytest

from nfltrlab import DOMAIN, TcpEcho, nfltr_bin


class RespServer(socketserver.ThreadingTCPServer):
    """Just enough of Redis's protocol for `redis-cli PING` and `ECHO`."""
    daemon_threads = True
    allow_reuse_address = True

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                if not line.startswith(b"*"):
                    continue
                args = []
                for _ in range(int(line[1:])):
                    size = int(self.rfile.readline()[1:])
                    args.append(self.rfile.read(size + 2)[:-2])
                if args[0].upper() == b"PING":
                    self.wfile.write(b"+PONG\r\n")
                elif args[0].upper() == b"ECHO":
                    self.wfile.write(b"$%d\r\n%s\r\n" % (len(args[1]), args[1]))
                else:
                    self.wfile.write(b"+OK\r\n")

    def __init__(self):
        super().__init__(("127.0.0.1", 0), self.Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def connect(lab, agent, remote, *args, name="connect"):
    proc = lab.spawn(f"agent:{name}", [nfltr_bin(), "connect", remote, "--json", *args],
                     env=agent.env(), split_stderr=True)
    ready = json.loads(proc.wait_line(r"^\{.*\"ready\".*", 60).group(0))
    return proc, ready


def listen_port(ready):
    return int(ready["listen"].rsplit(":", 1)[1])


def test_tcp_tunnel_is_shown_as_tls_and_redis_cli_gets_through(lab, relay, logged_in):
    agent = logged_in
    redis = RespServer()
    lab.cleanups.append(redis.shutdown)
    t = agent.tcp(f"127.0.0.1:{redis.server_address[1]}", "--name", "cache")
    assert t.url == f"tls://cache.{DOMAIN}:{t.port}", t.url       # not a website
    assert "certificate_warning" not in t.ready                    # clients pin, browsers don't come

    proc, ready = connect(lab, agent, t.url)                       # the URL as printed works
    assert ready["pinned"] == "first-use" and ready["fingerprint"] == t.fingerprint, ready
    port = listen_port(ready)
    r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "PING"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.strip() == "PONG", r
    r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "ECHO", "through the relay"],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.strip() == "through the relay", r
    pins = open(os.path.join(agent.home, ".config", "nfltr", "known_tunnels")).read()
    assert f"cache.{DOMAIN} {t.fingerprint}" in pins, pins
    proc.stop()

    # The human lines of `nfltr tcp` say how clients connect.
    plain = lab.spawn("agent:tcp-plain", [nfltr_bin(), "tcp", str(redis.server_address[1]), "--name",
                                          "cache2"], env=agent.env())
    line = plain.wait_line(r"^Clients:\s+nfltr connect .*", 60).group(0)
    assert f"cache2.{DOMAIN}:" in line and "--listen" in line, line
    plain.stop()


def test_bytes_arrive_unchanged(lab, relay, logged_in):
    agent = logged_in
    echo = TcpEcho(lab)
    t = agent.tcp(f"127.0.0.1:{echo.port}", "--name", "echo")
    proc, ready = connect(lab, agent, f"echo.{DOMAIN}:{t.port}", "--listen", "0")
    payload = os.urandom(1 << 20)
    with socket.create_connection(("127.0.0.1", listen_port(ready)), timeout=30) as s:
        threading.Thread(target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR)),
                         daemon=True).start()
        got = bytearray()
        while len(got) < len(payload):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(payload).hexdigest(), len(got)
    proc.stop()


def test_changed_certificate_is_refused_and_fingerprint_is_checked(lab, relay, logged_in):
    agent = logged_in
    echo = TcpEcho(lab)
    t = agent.tcp(f"127.0.0.1:{echo.port}", "--name", "pinned")
    proc, ready = connect(lab, agent, t.url)
    assert ready["pinned"] == "first-use"
    proc.stop()
    proc, ready = connect(lab, agent, t.url, name="again")
    assert ready["pinned"] == "known"
    proc.stop()
    t.proc.stop()

    # The publisher's certificate changes (another pair, same name): refused, nothing sent.
    cert, key = lab.path("other.crt"), lab.path("other.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj",
                    f"/CN=pinned.{DOMAIN}"], check=True, capture_output=True)
    t2 = agent.tcp(f"127.0.0.1:{echo.port}", "--name", "pinned", "--e2ee-cert", cert, "--e2ee-key", key)
    assert t2.fingerprint != t.fingerprint
    received_before = len(echo.received)
    r = agent.run("connect", t2.url, "--listen", "0", timeout=60)
    assert r.returncode == 1, r
    assert "HAS CHANGED" in r.stderr and t.fingerprint in r.stderr and t2.fingerprint in r.stderr, r.stderr
    assert "Nothing was sent" in r.stderr and "--fingerprint" in r.stderr, r.stderr
    assert len(echo.received) == received_before

    # A wrong --fingerprint is refused; the right one connects and re-pins.
    r = agent.run("connect", t2.url, "--fingerprint", t.fingerprint, timeout=60)
    assert r.returncode == 1 and "not connecting" in r.stderr, r
    proc, ready = connect(lab, agent, t2.url, "--fingerprint", t2.fingerprint, name="repin")
    assert ready["pinned"] == "given" and ready["fingerprint"] == t2.fingerprint
    proc.stop()
    proc, ready = connect(lab, agent, t2.url, name="after-repin")
    assert ready["pinned"] == "known"
    proc.stop()


@pytest.mark.parametrize("args,pattern", [
    (["https://x.example.com/"], r"not a tunnel address"),
    (["x.example.com:99999"], r"99999"),
    (["x.example.com", "--listen", "localhost:5432"], r"--listen takes an IP address"),
    (["x.example.com", "--fingerprint", "sha256:zz"], r"fingerprint"),
])
def test_bad_input_is_named(lab, agent, args, pattern):
    r = agent.run("connect", *args, timeout=30)
    assert r.returncode == 2, r
    assert re.search(pattern, r.stderr), r.stderr


def test_unreachable_relay_is_said(lab, agent):
    from nfltrlab import free_port
    r = agent.run("connect", f"nobody.{DOMAIN}:{free_port()}", timeout=60)
    assert r.returncode == 1 and "cannot reach" in r.stderr, r
