"""Data connections that never come (protocol §5 step 4): when the agent does not open the data
connection for a public client within --attach-timeout, the relay closes that client
(reason=attach-timeout), and the tunnel serves again as soon as the agent does."""
import os
import signal
import time

from nfltrlab import Relay, curl_tunnel, tagged_processes, wait_until


def test_public_client_closed_when_agent_never_attaches(lab, agent, origin):
    relay = Relay(lab, extra_args=["--attach-timeout", "2"]).start()
    agent.login(relay)
    t = agent.http(origin.port)
    assert curl_tunnel(t, "/before").status == 200

    services = tagged_processes(lab.tag, "nfltr-service")
    assert len(services) == 1, f"expected one nfltr-service of this test, found {services}"
    os.kill(services[0], signal.SIGSTOP)     # the agent is alive but does nothing
    try:
        started = time.monotonic()
        r = curl_tunnel(t, "/frozen", timeout=15)
        took = time.monotonic() - started
        assert r.curl_rc != 0, f"a request was served by a stopped agent: {r}"
        assert took < 10, f"the public client waited {took:.1f}s with --attach-timeout 2"
        relay.wait_log(r"reason=attach-timeout")
    finally:
        os.kill(services[0], signal.SIGCONT)

    wait_until(lambda: curl_tunnel(t, "/after", timeout=5).status == 200, 30,
               "the tunnel to serve again once the agent runs")
