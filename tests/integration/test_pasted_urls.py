"""Issue 9 §4: a URL is accepted where a user pastes one — `nfltr http http://localhost:8080`,
`nfltr login --relay https://host:8443` — and a URL that cannot work is refused saying what
was wrong, never with the IPv6 hint the old parser gave."""
import json

from nfltrlab import curl_tunnel, spki_pin, served_cert_pem


def test_login_takes_an_https_url(lab, relay, agent):
    key = relay.create_key()
    r = agent.run("login", "--relay", f"https://{relay.address}/", "--api-key", key,
                  "--fingerprint", relay.fingerprint())
    assert r.returncode == 0, r
    status = json.loads(agent.run("status", "--json").stdout)
    assert status["relay"] == relay.address, status


def test_login_refuses_plain_http_saying_why(lab, relay, agent):
    r = agent.run("login", "--relay", f"http://{relay.address}", "--api-key", "nfk_x",
                  "--fingerprint", relay.fingerprint())
    assert r.returncode == 2, r
    assert "a relay speaks TLS" in r.stderr and "[ADDR]:PORT" not in r.stderr, r.stderr


def test_http_tunnel_to_a_pasted_url_serves_visitors(relay, logged_in, origin):
    t = logged_in.http(f"http://localhost:{origin.port}/")
    pin = spki_pin(served_cert_pem(t.host, t.port))
    r = curl_tunnel(t, "/pasted", pin=pin)
    assert r.curl_rc == 0 and r.status == 200, r
    assert any(req["path"] == "/pasted" for req in origin.requests), origin.requests
    listed = json.loads(logged_in.run("list", "--json").stdout)
    assert listed[0]["target"] == f"localhost:{origin.port}", listed


def test_bad_urls_say_what_to_change(logged_in):
    cases = {
        "https://localhost:8443": "plain address",
        "http://localhost:8080/api": "drop “/api”",
        "tcp://db.lan": "add :PORT",
    }
    for target, fragment in cases.items():
        r = logged_in.run("http", target)
        assert r.returncode == 2, (target, r)
        assert fragment in r.stderr and "[ADDR]:PORT" not in r.stderr, (target, r.stderr)
