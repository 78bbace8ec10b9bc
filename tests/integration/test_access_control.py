"""Access control at the agent, still end to end (issue 9 §10).

--allow-cidr / --deny-cidr are checked by the agent against the visitor's address the relay
reports (every test client here is 127.0.0.1): a refused HTTP/1.1 or HTTP/2 visitor gets a 403
naming its address, a refused tcp client is closed, the origin never sees them, and a refusal is
not mistaken for a dead local server. A typo in a range is a usage error naming the range."""
import subprocess

import pytest

from nfltrlab import TcpEcho, curl_tunnel, nfltr_bin


def listed(agent, name):
    import json
    r = agent.run("list", "--json")
    assert r.returncode == 0, r.stderr
    return next(t for t in json.loads(r.stdout) if t["name"] == name)


@pytest.mark.parametrize("args", [
    ["--allow-cidr", "10.0.0.0/8,192.0.2.0/24"],
    ["--deny-cidr", "127.0.0.0/8"],
    ["--allow-cidr", "127.0.0.0/8", "--deny-cidr", "127.0.0.1"],   # deny wins
])
def test_refused_visitors_get_403_and_never_reach_the_origin(lab, relay, logged_in, origin, args):
    t = logged_in.http(origin.port, "--name", "guarded", *args)
    before = len(origin.requests)
    for proto in ("--http1.1", "--http2"):
        r = curl_tunnel(t, "/secret", proto)
        assert r.status == 403, (proto, r)
        assert b"127.0.0.1" in r.body and b"not allowed" in r.body, (proto, r.body)
    assert len(origin.requests) == before, "a refused visitor reached the origin"
    assert listed(logged_in, "guarded")["origin_state"] == "unknown"   # not a dead origin
    t.proc.stop()


def test_allowed_visitors_get_through(lab, relay, logged_in, origin):
    t = logged_in.http(origin.port, "--name", "open", "--allow-cidr", "10.0.0.0/8",
                       "--allow-cidr", "127.0.0.1/32", "--deny-cidr", "192.0.2.0/24")
    for proto in ("--http1.1", "--http2"):
        r = curl_tunnel(t, "/fine", proto)
        assert r.status == 200, (proto, r)
    t.proc.stop()


def test_tcp_client_outside_the_list_is_closed(lab, relay, logged_in):
    echo = TcpEcho(lab)
    t = logged_in.tcp(f"127.0.0.1:{echo.port}", "--name", "guardedtcp", "--deny-cidr", "127.0.0.0/8")
    r = subprocess.run(["openssl", "s_client", "-quiet", "-connect", f"127.0.0.1:{t.port}",
                        "-servername", t.host], input=b"hello\n", capture_output=True, timeout=30)
    assert b"hello" not in r.stdout, r
    assert bytes(echo.received) == b"", echo.received
    t.proc.stop()


@pytest.mark.parametrize("option,value,shown", [
    ("--allow-cidr", "10.0.0.0/33", "10.0.0.0/33"),
    ("--deny-cidr", "example.com", "example.com"),
    ("--allow-cidr", "", "no address range"),
])
def test_bad_range_is_a_usage_error(lab, relay, logged_in, origin, option, value, shown):
    r = logged_in.run("http", str(origin.port), option, value, timeout=30)
    assert r.returncode == 2, r
    assert option in r.stderr and shown in r.stderr, r.stderr


def test_service_checks_the_ranges_too(lab, relay, logged_in, origin):
    """Another D-Bus client (not our CLI) gets InvalidArgument naming the option."""
    r = subprocess.run(["gdbus", "call", "--session", "--dest", "xyz.nfltr.Nfltr.Service",
                        "--object-path", "/xyz/nfltr/Nfltr", "--method",
                        "xyz.nfltr.Nfltr.Manager.CreateTunnel",
                        "{'kind': <'http'>, 'target': <'%d'>, 'deny-cidr': <['1.2.3.4/99']>}" % origin.port],
                       env=logged_in.env(), capture_output=True, text=True, timeout=30)
    assert r.returncode != 0, r
    assert "InvalidArgument" in r.stderr and "deny-cidr" in r.stderr and "1.2.3.4/99" in r.stderr, r.stderr


def curl_headers(tunnel, *args):
    """curl -i through the tunnel: (status, headers lower-cased, body)."""
    r = subprocess.run(["curl", "-sk", "-i", "--max-time", "20", "--resolve",
                        f"{tunnel.host}:{tunnel.port}:127.0.0.1", *args,
                        tunnel.url.rstrip("/") + "/anything"],
                       capture_output=True, timeout=40)
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


@pytest.mark.parametrize("proto", ["--http1.1", "--http2"])
def test_basic_auth(lab, relay, logged_in, origin, proto):
    t = logged_in.http(origin.port, "--name", "locked", "--basic-auth", "alice:s3cret pass")
    before = len(origin.requests)

    status, headers, body = curl_headers(t, proto)
    assert status == 401, (status, headers, body)
    assert headers.get("www-authenticate") == f'Basic realm="{t.host}", charset="UTF-8"', headers
    status, _, _ = curl_headers(t, proto, "-u", "alice:wrong")
    assert status == 401
    status, _, _ = curl_headers(t, proto, "-u", "bob:s3cret pass")
    assert status == 401
    assert len(origin.requests) == before, "an unauthenticated request reached the origin"

    status, _, body = curl_headers(t, proto, "-u", "alice:s3cret pass")
    assert status == 200, (status, body)
    seen = origin.requests[-1]
    assert "authorization" not in {k.lower() for k in seen["headers"]}, seen   # not forwarded
    t.proc.stop()


def test_basic_auth_from_the_environment_and_bad_values(lab, relay, logged_in, origin):
    r = logged_in.run("http", str(origin.port), "--basic-auth", "nocolon", timeout=30)
    assert r.returncode == 2 and "USER:PASSWORD" in r.stderr, r
    r = logged_in.run("http", str(origin.port), "--basic-auth", ":onlypass", timeout=30)
    assert r.returncode == 2, r

    import json
    proc = lab.spawn("agent:http-env-auth", [nfltr_bin(), "http", str(origin.port), "--name", "envlock",
                                             "--json"],
                     env={**logged_in.env(), "NFLTR_BASIC_AUTH": "carol:pw"}, split_stderr=True)
    ready = json.loads(proc.wait_line(r"^\{.*\"ready\".*", 60).group(0))

    class T:
        url, host = ready["url"], ready["url"].split("//")[1].split(":")[0]
        port = int(ready["url"].rsplit(":", 1)[1])
    assert curl_headers(T, "--http1.1")[0] == 401
    assert curl_headers(T, "--http1.1", "-u", "carol:pw")[0] == 200
    proc.stop()


def make_client_pki(lab):
    """A CA, a client certificate it issued, and one from another CA."""
    d = lab.mkdir("client-pki")

    def ossl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    for ca in ("ca", "other-ca"):
        ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{ca}.key", "-out", f"{ca}.crt", "-days", "2", "-subj", f"/CN={ca}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
        ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{ca}-client.key", "-out", f"{ca}-client.csr", "-subj", "/CN=visitor")
        with open(f"{d}/ext.cnf", "w") as f:
            f.write("extendedKeyUsage=clientAuth\n")
        ossl("x509", "-req", "-in", f"{ca}-client.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{ca}-client.crt", "-days", "1", "-extfile", "ext.cnf")
    return d


def test_client_certificates(lab, relay, logged_in, origin):
    d = make_client_pki(lab)
    t = logged_in.http(origin.port, "--name", "mtls", "--client-ca", f"{d}/ca.crt")
    before = len(origin.requests)
    for proto in ("--http1.1", "--http2"):
        r = curl_tunnel(t, "/no-cert", proto)
        assert r.curl_rc != 0 and r.status == 0, (proto, r)
        r = curl_tunnel(t, "/other-ca", proto, "--cert", f"{d}/other-ca-client.crt", "--key",
                        f"{d}/other-ca-client.key")
        assert r.curl_rc != 0 and r.status == 0, (proto, r)
    assert len(origin.requests) == before
    for proto in ("--http1.1", "--http2"):
        r = curl_tunnel(t, "/with-cert", proto, "--cert", f"{d}/ca-client.crt", "--key",
                        f"{d}/ca-client.key")
        assert r.status == 200, (proto, r)
    t.proc.stop()

    # Bad input: unreadable file (CLI), a file with no CA (service), inspectable mode.
    r = logged_in.run("http", str(origin.port), "--client-ca", f"{d}/nope.pem", timeout=30)
    assert r.returncode == 2 and "nope.pem" in r.stderr, r
    with open(f"{d}/junk.pem", "w") as f:
        f.write("not a certificate\n")
    r = logged_in.run("http", str(origin.port), "--client-ca", f"{d}/junk.pem", timeout=60)
    assert r.returncode != 0 and "junk.pem" in r.stderr, r
    r = logged_in.run("http", str(origin.port), "--client-ca", f"{d}/ca.crt", "--e2ee=false",
                      timeout=60)
    assert r.returncode != 0 and "verified mode" in r.stderr, r
