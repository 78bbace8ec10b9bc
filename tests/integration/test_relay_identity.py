"""The agent's trust in the relay, and the relay's trust in data connections.

- The agent pins the relay's certificate at login: a different relay on the same address (a
  man in the middle would present its own certificate) is refused, with a clear message, and
  the API key is not handed to it.
- A data connection whose conn-id the relay did not issue, or already used, is closed
  (protocol §5 step 4, reason=bad-attach); the conn-id seen in clear on the wire cannot be
  replayed to receive a public client's bytes.
"""
import json
import re
import secrets
import socket

from nfltrlab import Relay, curl_tunnel, read_until_closed, wait_until

PREAMBLE_MAGIC = b"NFLTRD\x01\x00"


def preamble(conn_id):
    assert len(conn_id) == 16
    return PREAMBLE_MAGIC + conn_id + b"\0" * 16


def test_login_pins_the_relay_certificate(lab, relay, logged_in, origin):
    # The relay the agent logged in to goes away; another one, with another certificate,
    # takes its address.
    t = logged_in.http(origin.port)
    assert curl_tunnel(t, "/pinned").status == 200
    relay.stop()
    impostor = Relay(lab, name="impostor", port=relay.port).start()
    assert impostor.fingerprint() != relay.fingerprint()

    # The agent does not bind anything there: the impostor never learns a tunnel...
    r = logged_in.run("http", str(origin.port), "--name", "second", timeout=60)
    assert r.returncode != 0, r.stdout
    assert re.search(r"fingerprint|certificate|pinned", r.stderr, re.I), r.stderr
    status, body, raw = impostor.api(f"/api/v1/tunnels/{t.host}")
    assert status == 404, raw
    # The tunnel that was running says why it stopped, naming both certificates...
    # (it learns of it on its own reconnect, which may come after the second CLI gave up).
    impostor_fp = impostor.fingerprint()
    first_error = wait_until(
        lambda: [e for e in t.events() if e.get("event") in ("state", "error")
                 and impostor_fp in json.dumps(e)],
        30, "the running tunnel to report the impostor's certificate")
    # ...and so does the service's view of the relay.
    r = logged_in.run("status")
    assert re.search(r"fingerprint.mismatch", r.stdout + r.stderr, re.I), r.stdout + r.stderr


def test_unknown_conn_id_is_closed(lab, relay):
    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as s:
        port = s.getsockname()[1]
        s.sendall(preamble(secrets.token_bytes(16)))
        data, _, how = read_until_closed(s, 15)
    assert data == b"" and how in ("eof", "reset"), (data, how)
    relay.wait_log(rf"peer=127\.0\.0\.1:{port} reason=bad-attach")


def test_conn_id_seen_on_the_wire_cannot_be_replayed(http_tunnel, lab):
    from test_plaintext import Capture
    relay, t = http_tunnel.relay, http_tunnel.tunnel
    cap = Capture(lab, relay.port)
    assert curl_tunnel(t, "/observed").status == 200
    wait_until(lambda: cap.contains(PREAMBLE_MAGIC), 10, "a data connection in the capture")
    capture = cap.stop()
    i = capture.index(PREAMBLE_MAGIC)
    conn_id = capture[i + 8:i + 24]

    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as s:
        port = s.getsockname()[1]
        s.sendall(preamble(conn_id))
        data, _, how = read_until_closed(s, 15)
    assert data == b"", f"a replayed conn-id received {len(data)} bytes"
    assert how in ("eof", "reset"), how
    relay.wait_log(rf"peer=127\.0\.0\.1:{port} reason=bad-attach")
    assert curl_tunnel(t, "/after-replay").status == 200


def test_login_with_the_expected_fingerprint(lab, relay, agent):
    """`nfltr login --fingerprint` checks the relay against a fingerprint obtained out of band
    (`nfltr-relay fingerprint` on the relay's host) instead of trusting on first use."""
    key = relay.create_key()
    wrong = "sha256:" + "00" * 32
    r = agent.run("login", "--relay", relay.address, "--api-key", key, "--fingerprint", wrong)
    assert r.returncode != 0, r.stdout
    # The message names what the relay presented and what was expected.
    assert relay.fingerprint() in r.stderr and wrong in r.stderr, r.stderr

    r = agent.run("login", "--relay", relay.address, "--api-key", key, "--fingerprint",
                  relay.fingerprint())
    assert r.returncode == 0, r.stderr
    # What login shows and pins is the relay's certificate.
    assert relay.fingerprint()[7:] in (r.stdout + r.stderr).replace(":", "").lower(), r.stdout


def test_revoked_api_key_is_refused(lab, relay, agent, origin):
    """`nfltr-relay keys revoke`: the agent is refused from its next connection; its tunnel
    stops serving and says why, and so does `nfltr status`."""
    key = relay.create_key("to-revoke")
    agent.login(relay, api_key=key)
    t = agent.http(origin.port)
    assert curl_tunnel(t, "/before-revoke").status == 200

    listing = relay.keys("list")
    assert listing.returncode == 0, listing.stderr
    ids = [line.split()[0] for line in listing.stdout.splitlines() if " to-revoke " in line]
    assert len(ids) == 1, listing.stdout
    r = relay.keys("revoke", ids[0])
    assert r.returncode == 0, r.stderr
    assert "revoked" in relay.keys("list").stdout

    # A control channel already open stays up until it reconnects (docs/relay.md): restart.
    relay.stop()
    relay.start()

    def refused():
        text = json.dumps(t.events()) + "\n".join(t.proc.err_lines)
        return re.search(r"API key|auth", text, re.I)

    wait_until(refused, 60, "the tunnel to report the revoked key", interval=0.2)
    assert curl_tunnel(t, "/after-revoke", timeout=5).status != 200
    status, _, raw = relay.api(f"/api/v1/tunnels/{t.host}")
    assert status == 404, raw
    r = agent.run("status")
    assert re.search(r"auth-failed|API key", r.stdout + r.stderr, re.I), r.stdout + r.stderr
