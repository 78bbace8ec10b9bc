"""HTTP/2 through `nfltr http` (issue 8 §6), through the real relay and service.

The tunnel offers ALPN h2 and http/1.1. An HTTP/2 visitor is served by the agent's HTTP/2
proxy: it checks :authority as HTTP/1.1 checks Host, sets the forwarding headers, and speaks
h2c to a local server that does (probed once per visitor connection) or translates each
stream to HTTP/1.1 for one that does not (python's http.server here).
"""
import json
import os
import re
import socket
import ssl
import subprocess

import pytest

from nfltrlab import DOMAIN, Agent, Origin, Relay, curl_tunnel, free_port, port_accepts, wait_until


@pytest.fixture(scope="module")
def h1(mlab):
    relay = Relay(mlab).start()
    agent = Agent(mlab)
    agent.login(relay)
    origin = Origin(mlab)
    tunnel = agent.http(origin.port)
    return tunnel, origin, agent


def test_curl_negotiates_h2_and_reaches_an_http1_origin(h1):
    tunnel, origin, _ = h1
    before = len(origin.requests)
    r = curl_tunnel(tunnel, "/hello?x=1", "--http2",
                    "-H", "X-Forwarded-For: 198.51.100.9", "-H", "Forwarded: for=10.1.2.3",
                    "-H", "X-Real-IP: 10.1.2.3", "-H", "X-Forwarded-Host: evil.example",
                    "-H", "X-Forwarded-Proto: http", "-H", "Cookie: a=1", "-H", "Cookie: b=2")
    assert r.curl_rc == 0 and r.status == 200, r
    got = json.loads(r.body)
    assert got["path"] == "/hello?x=1"
    headers = got["headers"]
    # our hop goes last; the client's other claims never reach the server
    assert headers["x-forwarded-for"] == "198.51.100.9, 127.0.0.1", headers
    assert headers["x-forwarded-proto"] == "https", headers
    # as on HTTP/1.1: the authority the client asked for, port included
    assert headers["x-forwarded-host"] == f"{tunnel.host}:{tunnel.port}", headers
    assert "forwarded" not in headers and "x-real-ip" not in headers, headers
    assert headers["host"] == f"{tunnel.host}:{tunnel.port}", headers
    assert headers["cookie"] == "a=1; b=2", headers
    assert len(origin.requests) == before + 1


def test_curl_reports_http2(h1):
    tunnel, _, _ = h1
    out = subprocess.run(["curl", "-sS", "-k", "--http2", "-o", "/dev/null", "-w", "%{http_version}",
                          "--resolve", f"{tunnel.host}:{tunnel.port}:127.0.0.1", tunnel.url],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out
    assert out.stdout == b"2", out


def test_http11_visitors_still_get_http11(h1):
    tunnel, _, _ = h1
    out = subprocess.run(["curl", "-sS", "-k", "--http1.1", "-o", "/dev/null", "-w", "%{http_version}",
                          "--resolve", f"{tunnel.host}:{tunnel.port}:127.0.0.1", tunnel.url],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out
    assert out.stdout == b"1.1", out


def test_wrong_authority_is_refused_421(h1):
    tunnel, origin, _ = h1
    before = len(origin.requests)
    # curl sends a custom Host as :authority on HTTP/2
    r = curl_tunnel(tunnel, "/smuggled", "--http2", "-H", f"Host: other.{DOMAIN}")
    assert r.curl_rc == 0, r
    assert r.status == 421, r
    assert b"421 Misdirected Request" in r.body, r
    assert not [q for q in origin.requests[before:] if q["path"] == "/smuggled"], origin.requests


def test_post_body_and_large_download(h1):
    tunnel, origin, _ = h1
    body = os.urandom(300_000)
    path = "/echo"
    r = subprocess.run(["curl", "-sS", "-k", "--http2", "--data-binary", "@-", "-o", "-",
                        "--resolve", f"{tunnel.host}:{tunnel.port}:127.0.0.1",
                        tunnel.url.rstrip("/") + path], input=body, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == body
    r = curl_tunnel(tunnel, "/bytes/5000000", "--http2", timeout=60)
    assert r.curl_rc == 0 and r.status == 200, r
    assert len(r.body) == 5_000_000


def test_h2load_through_the_tunnel(h1):
    tunnel, _, _ = h1
    r = subprocess.run(["h2load", "-n", "400", "-c", "4", "-m", "10",
                        f"--connect-to=127.0.0.1:{tunnel.port}",
                        f"https://{tunnel.host}:{tunnel.port}/h2load"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Application protocol: h2" in r.stdout, r.stdout
    m = re.search(r"requests: 400 total, 400 started, 400 done, 400 succeeded, 0 failed, 0 errored",
                  r.stdout)
    assert m, r.stdout
    assert re.search(r"status codes: 400 2xx", r.stdout), r.stdout


def test_origin_h2_yes_against_an_http1_server_is_502(h1):
    _, origin, agent = h1
    tunnel = agent.http(origin.port, "--origin-h2")
    r = curl_tunnel(tunnel, "/forced", "--http2")
    assert r.curl_rc == 0 and r.status == 502, r
    assert b"502 Bad Gateway" in r.body, r
    # HTTP/1.1 visitors of the same tunnel are not affected by the flag
    r = curl_tunnel(tunnel, "/plain", "--http1.1")
    assert r.curl_rc == 0 and r.status == 200, r


def test_origin_h2_no_translates(h1):
    _, origin, agent = h1
    tunnel = agent.http(origin.port, "--origin-h2=false")
    before = len(origin.requests)
    r = curl_tunnel(tunnel, "/translated", "--http2")
    assert r.curl_rc == 0 and r.status == 200, r
    assert [q["path"] for q in origin.requests[before:]] == ["/translated"]


def test_malformed_frames_get_goaway(h1):
    tunnel, _, _ = h1
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection(("127.0.0.1", tunnel.port), timeout=20)
    with ctx.wrap_socket(raw, server_hostname=tunnel.host) as s:
        assert s.selected_alpn_protocol() == "h2"
        # the preface, then a DATA frame on stream 0 (RFC 9113 §6.1: PROTOCOL_ERROR)
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
                  + b"\x00\x00\x04\x00\x01\x00\x00\x00\x00abcd")
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    frames = []
    while len(got) >= 9:
        n = int.from_bytes(got[:3], "big")
        frames.append((got[3], got[9:9 + n]))
        got = got[9 + n:]
    goaways = [payload for t, payload in frames if t == 0x7]
    assert goaways, frames
    assert int.from_bytes(goaways[-1][4:8], "big") == 0x1, goaways   # PROTOCOL_ERROR


@pytest.fixture(scope="module")
def nginx_h2c(mlab):
    """nginx with HTTP/2 cleartext (h2c) that ends each connection with GOAWAY after 10
    requests (keepalive_requests), as it does after 1000 by default."""
    d = mlab.mkdir("nginx")
    os.makedirs(os.path.join(d, "www"))
    with open(os.path.join(d, "www", "index.html"), "w") as f:
        f.write("hello from nginx\n")
    port = free_port()
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        # workers as our own user: the lab's directories are 0700 (ignored unless root)
        user = "user root root;" if os.geteuid() == 0 else ""
        f.write(f"""daemon off; {user} worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 256; }}
http {{ access_log {d}/access.log; client_body_temp_path {d}; proxy_temp_path {d};
        fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};
        keepalive_requests 10;
        server {{ listen 127.0.0.1:{port} http2; root {d}/www; }} }}
""")
    mlab.spawn("nginx", ["nginx", "-c", os.path.join(d, "nginx.conf"), "-p", d])
    wait_until(lambda: port_accepts(port), 10, "nginx to listen")
    return port, d


def test_h2c_origin_goaway_is_transparent(h1, nginx_h2c):
    _, _, agent = h1
    port, d = nginx_h2c
    tunnel = agent.http(port)
    # 100 requests on one visitor connection: the origin says GOAWAY every 10; the refused
    # ones are sent again on a new origin connection, so the visitor sees no failure
    r = subprocess.run(["h2load", "-n", "100", "-c", "1", "-m", "20",
                        f"--connect-to=127.0.0.1:{tunnel.port}",
                        f"https://{tunnel.host}:{tunnel.port}/index.html"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "100 succeeded, 0 failed" in r.stdout, r.stdout
    assert re.search(r"status codes: 100 2xx", r.stdout), r.stdout
    with open(os.path.join(d, "access.log")) as f:
        lines = f.read().splitlines()
    # nginx saw HTTP/2 (h2c), not a translation to HTTP/1.1
    assert len([ln for ln in lines if '"GET /index.html HTTP/2.0" 200' in ln]) == 100, lines[-3:]


def test_expect_100_continue_is_answered(h1):
    tunnel, _, _ = h1
    body = os.urandom(100_000)
    # curl waits for the 100 before sending the body; the HTTP/1.1 server's interim answer
    # must reach it, or this waits for the 30 s expect timeout and --max-time ends it
    r = subprocess.run(["curl", "-sS", "-k", "--http2", "--data-binary", "@-", "-o", "-",
                        "-H", "Expect: 100-continue", "--expect100-timeout", "30",
                        "--max-time", "15",
                        "--resolve", f"{tunnel.host}:{tunnel.port}:127.0.0.1",
                        tunnel.url.rstrip("/") + "/expect"], input=body, capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == body


@pytest.fixture(scope="module")
def https_origin(mlab):
    """The lab's HTTP/1.1 origin behind TLS (python's ssl, no ALPN: HTTP/1.1)."""
    d = mlab.mkdir("https-origin")
    key, crt = os.path.join(d, "key.pem"), os.path.join(d, "crt.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", key, "-out", crt], check=True, capture_output=True)
    origin = Origin(mlab)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    origin.server.socket = ctx.wrap_socket(origin.server.socket, server_side=True)
    return origin


def test_origin_tls_for_both_visitor_protocols(h1, https_origin):
    _, _, agent = h1
    tunnel = agent.http(https_origin.port, "--origin-tls")
    for version in ("--http2", "--http1.1"):
        r = curl_tunnel(tunnel, "/tls" + version.replace("-", ""), version)
        assert r.curl_rc == 0 and r.status == 200, (version, r)
        got = json.loads(r.body)
        assert got["path"] == "/tls" + version.replace("-", ""), got
        assert got["headers"]["x-forwarded-proto"] == "https", got
    # without --origin-tls the same server cannot be read: 502 over HTTP/2
    plain = agent.http(https_origin.port, "--origin-h2=false")
    r = curl_tunnel(plain, "/plain", "--http2")
    assert r.status == 502, r
