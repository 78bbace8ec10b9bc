"""HTTP/2 through `nfltr http` (issue 8 §6), through the real relay and service.

The tunnel offers ALPN h2 and http/1.1. An HTTP/2 visitor is served by the agent's HTTP/2
proxy: it checks :authority as HTTP/1.1 checks Host, sets the forwarding headers, and speaks
h2c to a local server that does (probed once per visitor connection) or translates each
stream to HTTP/1.1 for one that does not (python's http.server here).
"""
import json
import os
import re
import subprocess

import pytest

from nfltrlab import DOMAIN, Agent, Origin, Relay, curl_tunnel


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
