"""The CLI on a machine with no session bus at all (issue #2): it runs the same engine
in-process, and the tunnel works the same."""
import json

from nfltrlab import Agent, curl_tunnel, der_fingerprint, pem_to_der, served_cert_pem


def test_http_without_a_session_bus(lab, relay, origin):
    agent = Agent(lab, "nobus", bus=False)
    env = agent.env()
    assert "DBUS_SESSION_BUS_ADDRESS" not in env and "DISPLAY" not in env
    agent.login(relay)
    t = agent.http(origin.port)
    assert t.mode == "verified"
    r = curl_tunnel(t, "/nobus")
    assert r.status == 200 and json.loads(r.body)["path"] == "/nobus", r
    assert der_fingerprint(pem_to_der(served_cert_pem(t.host, t.port))) == t.fingerprint
