"""Relay restart: the tunnel comes back with the same URL and fingerprint without anyone
touching the CLI (issue #2). The relay is stopped (cleanly, and killed outright), started
again on the same port and data dir, and the test polls the public URL until it serves."""
import signal

import pytest

from nfltrlab import curl_tunnel, der_fingerprint, pem_to_der, served_cert_pem, wait_until

# The agent reconnects with backoff; the deadline leaves room for a few rounds of it.
RECONNECT_DEADLINE = 90


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])
def test_tunnel_returns_after_relay_restart(http_tunnel, how):
    relay, t = http_tunnel.relay, http_tunnel.tunnel
    before = der_fingerprint(pem_to_der(served_cert_pem(t.host, t.port)))
    assert before == t.fingerprint
    assert curl_tunnel(t, "/before-restart").status == 200

    relay_fp = relay.fingerprint()
    relay.stop(how)
    assert curl_tunnel(t, "/while-down", timeout=5).curl_rc != 0
    relay.start()
    assert relay.fingerprint() == relay_fp, "the relay's own certificate changed on restart"

    def serves():
        r = curl_tunnel(t, "/after-restart", timeout=5)
        return r.curl_rc == 0 and r.status == 200

    wait_until(serves, RECONNECT_DEADLINE, f"{t.url} to serve again after the relay restart",
               interval=0.5)
    after = der_fingerprint(pem_to_der(served_cert_pem(t.host, t.port)))
    assert after == before, "the tunnel came back with another certificate"
    status, body, raw = relay.api(f"/api/v1/tunnels/{t.host}")
    assert status == 200 and body["url"].rstrip("/") == t.url.rstrip("/"), raw
    assert body["fingerprint"] == t.fingerprint, body
    assert t.proc.alive(), "the CLI exited across the relay restart"
    assert any(q["path"] == "/after-restart" for q in http_tunnel.origin.requests)
