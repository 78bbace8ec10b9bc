"""`nfltr http`: what a public client gets through a verified tunnel.

Issue #2: curl reaches the local server with --pinnedpubkey set to the agent's key; openssl
s_client shows the agent's ECDSA P-256 certificate; the fingerprint the CLI printed is the
certificate the client got; the local server sees X-Forwarded-For/-Proto; a Host that does not
match the SNI gets 421; `nfltr list` shows the tunnel; Ctrl-C ends it.
"""
import hashlib
import json
import os
import re
import signal
import subprocess
import threading
import urllib.parse

from nfltrlab import (DOMAIN, cert_text, curl, curl_tunnel, der_fingerprint, nfltr_bin,
                      pem_to_der, s_client, served_cert_pem, spki_pin, wait_until)


def test_ready_line_names_url_mode_and_fingerprint(http_tunnel):
    t = http_tunnel.tunnel
    assert t.mode == "verified", t.ready
    assert re.fullmatch(rf"https://[a-z0-9]([a-z0-9-]*[a-z0-9])?\.{re.escape(DOMAIN)}:"
                        rf"{http_tunnel.relay.port}/?", t.url), t.url


def test_curl_with_pinned_agent_key_reaches_local_server(http_tunnel):
    t, origin = http_tunnel.tunnel, http_tunnel.origin
    pem = served_cert_pem(t.host, t.port)
    pin = spki_pin(pem)

    r = curl_tunnel(t, "/hello?x=1", pin=pin)
    assert r.curl_rc == 0 and r.status == 200, r
    echoed = json.loads(r.body)
    assert echoed["path"] == "/hello?x=1"
    assert any(req["path"] == "/hello?x=1" for req in origin.requests), origin.requests

    # The pin is really checked: a different key is refused by curl (exit 90,
    # CURLE_SSL_PINNEDPUBKEYNOTMATCH) and nothing reaches the origin.
    seen = len(origin.requests)
    wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    r = curl_tunnel(t, "/must-not-arrive", pin=wrong)
    assert r.curl_rc == 90, r
    assert len(origin.requests) == seen


def test_agent_certificate_is_ecdsa_p256_with_the_printed_fingerprint(http_tunnel):
    t = http_tunnel.tunnel
    rc, out = s_client(t.host, t.port)
    assert "Server public key is 256 bit" in out, out
    pem = served_cert_pem(t.host, t.port)
    text = cert_text(pem)
    assert "id-ecPublicKey" in text and "prime256v1" in text, text
    assert re.search(r"Signature Algorithm: ecdsa-with-SHA256", text), text
    # Issued for the tunnel's host name.
    assert t.host in text, text
    # The fingerprint the CLI printed is the certificate the client got.
    assert der_fingerprint(pem_to_der(pem)) == t.fingerprint


def test_relay_api_reports_verified_mode_and_agent_fingerprint(http_tunnel):
    t = http_tunnel.tunnel
    status, body, raw = http_tunnel.relay.api(f"/api/v1/tunnels/{t.host}")
    assert status == 200, raw
    assert body["host"] == t.host, body
    assert body["mode"] == "verified", body
    assert body["fingerprint"] == t.fingerprint, body
    assert body["url"].rstrip("/") == t.url.rstrip("/"), body
    assert body.get("since"), body

    status, body, raw = http_tunnel.relay.api(f"/api/v1/tunnels/nosuch.{DOMAIN}")
    assert status == 404 and "error" in body, raw


def test_local_server_sees_forwarded_headers(http_tunnel):
    t, origin = http_tunnel.tunnel, http_tunnel.origin
    r = curl_tunnel(t, "/fwd")
    assert r.status == 200, r
    req = [q for q in origin.requests if q["path"] == "/fwd"][-1]
    assert req["headers"].get("x-forwarded-proto") == "https", req["headers"]
    # curl connected from 127.0.0.1; that is the public client's address.
    assert req["headers"].get("x-forwarded-for", "").split(",")[-1].strip() == "127.0.0.1", \
        req["headers"]
    assert req["headers"].get("host", "").split(":")[0] == t.host, req["headers"]


def test_host_not_matching_sni_gets_421(http_tunnel):
    t, origin = http_tunnel.tunnel, http_tunnel.origin
    seen = len(origin.requests)
    r = curl_tunnel(t, "/misdirected", "-H", f"Host: other.{DOMAIN}:{t.port}")
    assert r.curl_rc == 0 and r.status == 421, r
    assert not any(q["path"] == "/misdirected" for q in origin.requests[seen:])
    # And the matching host still works on the same tunnel.
    assert curl_tunnel(t, "/after-421").status == 200


def test_download_arrives_whole(http_tunnel):
    n = 32 * 1024 * 1024 + 7
    r = curl_tunnel(http_tunnel.tunnel, f"/bytes/{n}", timeout=120)
    assert r.status == 200, r
    assert len(r.body) == n and r.body.count(0) == n


def test_list_shows_the_tunnel(http_tunnel):
    t = http_tunnel.tunnel
    r = http_tunnel.agent.run("list")
    assert r.returncode == 0, r.stderr
    assert t.host in r.stdout or t.url in r.stdout, r.stdout
    assert str(http_tunnel.origin.port) in r.stdout, r.stdout


def test_ctrl_c_ends_the_tunnel(http_tunnel):
    t, agent = http_tunnel.tunnel, http_tunnel.agent
    assert curl_tunnel(t, "/before").status == 200
    t.proc.send(signal.SIGINT)
    status = t.proc.wait_exit(20)
    assert status in (0, 130), f"nfltr http exited {status} on Ctrl-C:\n{t.proc.text()}"
    # The tunnel is gone: no longer listed, and the relay no longer knows the name.
    r = agent.run("list")
    assert r.returncode == 0 and t.host not in r.stdout, r.stdout
    wait_until(lambda: http_tunnel.relay.api(f"/api/v1/tunnels/{t.host}")[0] == 404, 10,
               "the relay to forget the name")
    r = curl_tunnel(t, "/after")
    assert r.curl_rc != 0, r


def test_upload_comes_back_intact(http_tunnel, lab):
    """16 MiB of random bytes up (POST) and the same bytes back: both directions of the data
    path carry every byte in order."""
    data = os.urandom(16 * 1024 * 1024)
    src = lab.path("upload.bin")
    with open(src, "wb") as f:
        f.write(data)
    r = curl_tunnel(http_tunnel.tunnel, "/echo-body", "--data-binary", f"@{src}",
                    "-H", "Content-Type: application/octet-stream", timeout=120)
    assert r.status == 200, r
    assert hashlib.sha256(r.body).hexdigest() == hashlib.sha256(data).hexdigest()
    got = [q for q in http_tunnel.origin.requests if q["path"] == "/echo-body"][-1]
    assert got["body"] == data


def test_concurrent_clients_and_keep_alive(http_tunnel):
    """20 clients at once, each sending two requests over one kept-alive connection."""
    t = http_tunnel.tunnel
    results = {}

    def client(i):
        argv = ["curl", "-sS", "-k", "--max-time", "60", "--resolve",
                f"{t.host}:{t.port}:127.0.0.1", "-o", "/dev/null", "-o", "/dev/null",
                "-w", "%{http_code} %{num_connects}\\n",
                t.url.rstrip("/") + f"/c{i}/a", t.url.rstrip("/") + f"/c{i}/b"]
        results[i] = subprocess.run(argv, capture_output=True, text=True, timeout=90)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(90)
    assert len(results) == 20
    for i, r in results.items():
        assert r.returncode == 0, r.stderr
        # Two 200s; the second request reused the first one's connection (0 new connects).
        assert r.stdout.split() == ["200", "1", "200", "0"], r.stdout
    paths = {q["path"] for q in http_tunnel.origin.requests}
    for i in range(20):
        assert f"/c{i}/a" in paths and f"/c{i}/b" in paths


def test_gnutls_cli_reaches_local_server(http_tunnel):
    """Another TLS stack as the public client: gnutls-cli, the agent's own library."""
    t = http_tunnel.tunnel
    request = f"GET /gnutls HTTP/1.1\r\nHost: {t.host}\r\nConnection: close\r\n\r\n"
    r = subprocess.run(["gnutls-cli", "--no-ca-verification", "--port", str(t.port),
                        "--sni-hostname", t.host, "127.0.0.1"],
                       input=request.encode(), capture_output=True, timeout=30)
    out = r.stdout.decode("utf-8", "replace")
    assert "HTTP/1.1 200" in out, out + r.stderr.decode("utf-8", "replace")
    assert '"/gnutls"' in out, out
    assert any(q["path"] == "/gnutls" for q in http_tunnel.origin.requests)


def test_human_output_shows_url_mode_fingerprint_and_live_counts(lab, relay, logged_in, origin):
    """Without --json: the URL, the mode and the fingerprint, then connection and byte counts
    that follow the traffic."""
    proc = lab.spawn("nfltr-http-human", [nfltr_bin(), "http", str(origin.port)],
                     env=logged_in.env(), split_stderr=True)
    url = proc.wait_line(r"^URL:\s+(https://\S+)", 60).group(1)
    proc.wait_line(r"^Mode:\s+verified", 10)
    fingerprint = proc.wait_line(r"^Fingerprint:\s+(sha256:[0-9a-f]{64})\b", 10).group(1)
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    assert der_fingerprint(pem_to_der(served_cert_pem(host, port))) == fingerprint

    r = curl(url + "/counted", "-k", resolve=(host, port))
    assert r.status == 200, r
    # The counts follow: connections (s_client's and curl's), application bytes both ways
    # (s_client sent none: the bytes are curl's request and its answer).
    proc.wait_line(r"Connections: \d+ open, [1-9]\d* total\s+In: [1-9][\d.]* \S*B\s+Out: [1-9]",
                   30)
    proc.send(signal.SIGINT)
    assert proc.wait_exit(20) in (0, 130)
