"""Inspectable mode (issue 8 §8): the relay, which copies the decrypted bytes between the
public client's TLS and the agent's, counts them as the agent does — its log line for the
connection says how many went each way, not 0."""
import json
import re

from nfltrlab import curl_tunnel, wait_until


def test_relay_counts_inspectable_bytes(relay, logged_in, origin):
    t = logged_in.http(origin.port, "--e2ee=false")
    assert t.mode == "inspectable", t.ready
    r = curl_tunnel(t, "/counted", "--data-binary", "x" * 5000)
    assert r.status == 200, r

    m = relay.wait_log(rf"closed peer=\S+ host={re.escape(t.host)} mode=inspectable "
                       r"bytes_to_agent=(\d+) bytes_to_client=(\d+)", 30)
    to_agent, to_client = int(m.group(1)), int(m.group(2))
    assert to_agent > 5000 and to_client > 0, m.group(0)

    # The agent counts the same plaintext, from the other end of the relay→agent TLS (its
    # counters are published about once a second: wait for them to settle on the relay's).
    seen = []

    def agent_counts():
        [tunnel] = json.loads(logged_in.run("list", "--json").stdout)
        seen.append((tunnel["bytes_in"], tunnel["bytes_out"]))
        return seen[-1] == (to_agent, to_client)
    try:
        wait_until(agent_counts, 15, "the agent's counters", interval=0.3)
    except AssertionError:
        raise AssertionError(f"relay counted {(to_agent, to_client)}, the agent {seen[-1]}") from None
