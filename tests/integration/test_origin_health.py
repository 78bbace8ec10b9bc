"""A dead local server does not look healthy (issue 9 §2).

With nothing on the target port a visitor gets a 502 page naming the local address that
refused; the running `nfltr http` says so (a line, or an `origin` event with --json), `nfltr list
--json` reports the origin's state, last error and failure count, and the D-Bus properties the
app reads carry the same. When the local server comes back, the next visitor is served and the
tunnel says it answers again. HTTP/1.1 and HTTP/2 visitors both count (the h2 proxy reaches the
origin itself), and so does a tcp tunnel."""
import http.server
import json
import subprocess
import threading

from nfltrlab import OriginHandler, curl_tunnel, free_port, nfltr_bin, wait_until


def listed(agent, name):
    r = agent.run("list", "--json")
    assert r.returncode == 0, r.stderr
    return next(t for t in json.loads(r.stdout) if t["name"] == name)


def origin_events(tunnel):
    return [e for e in tunnel.events() if e.get("event") == "origin"]


def serve_on(lab, port):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), OriginHandler)
    server.daemon_threads = True
    server.requests = []
    server.response_body = b"origin says hi"
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def close():
        server.shutdown()
        server.server_close()
    lab.cleanups.append(close)
    return server


def test_dead_http_origin_is_reported_everywhere(lab, relay, logged_in):
    agent = logged_in
    port = free_port()
    t = agent.http(port, "--name", "deadorigin")
    # "unknown" until a visitor came — and the relay's proof check of a verified tunnel is one.
    assert listed(agent, "deadorigin")["origin_state"] in ("unknown", "down")

    r = curl_tunnel(t, "/", "--http1.1")
    assert r.status == 502, r
    assert f"127.0.0.1:{port}".encode() in r.body, r.body   # the page names what refused

    wait_until(lambda: origin_events(t), 10, "an origin event")
    ev = origin_events(t)[-1]
    assert ev["state"] == "down" and f"127.0.0.1:{port}" in ev["error"], ev
    assert ev["failures"] >= 1, ev
    entry = listed(agent, "deadorigin")
    assert entry["state"] == "online" and entry["origin_state"] == "down", entry
    assert f"127.0.0.1:{port}" in entry["origin_error"] and entry["origin_failures"] >= 1, entry

    # An HTTP/2 visitor: the h2 proxy reaches the origin per request and counts too.
    before = listed(agent, "deadorigin")["origin_failures"]
    r = curl_tunnel(t, "/h2", "--http2")
    assert r.status == 502, r
    wait_until(lambda: listed(agent, "deadorigin")["origin_failures"] > before, 10,
               "the h2 visitor's failure to count")

    # The local server comes back: served, and the tunnel says so.
    serve_on(lab, port)
    r = curl_tunnel(t, "/again", "--http2")
    assert r.status == 200 and b'"path": "/again"' in r.body, r
    wait_until(lambda: origin_events(t)[-1]["state"] == "up", 10, "the origin to be up again")
    assert listed(agent, "deadorigin")["origin_state"] == "up"
    t.proc.stop()


def test_human_output_says_the_local_server_is_down(lab, relay, logged_in):
    agent = logged_in
    port = free_port()
    proc = lab.spawn("agent:nfltr-http-plain", [nfltr_bin(), "http", str(port), "--name",
                                                "plaindead"], env=agent.env())
    url = proc.wait_line(r"^URL:\s+(\S+)", 60).group(1)
    host = url.split("//")[1].split(":")[0]
    relay_port = int(url.rsplit(":", 1)[1].rstrip("/"))
    r = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--resolve",
                        f"{host}:{relay_port}:127.0.0.1", url], capture_output=True, text=True,
                       timeout=30)
    assert r.stdout == "502", r
    line = proc.wait_line(r"Local server is not answering: .*", 15).group(0)
    assert f"127.0.0.1:{port}" in line and "Visitors get an error" in line, line
    serve_on(lab, port)
    r = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--resolve",
                        f"{host}:{relay_port}:127.0.0.1", url], capture_output=True, text=True,
                       timeout=30)
    assert r.stdout == "200", r
    proc.wait_line(r"Local server is answering again\.", 15)
    proc.stop()


def test_dead_tcp_origin_is_reported(lab, relay, logged_in):
    agent = logged_in
    dead = free_port()
    t = agent.tcp(f"127.0.0.1:{dead}", "--name", "deadtcp")
    # A TLS client through the relay: the agent accepts, cannot reach the target, closes.
    subprocess.run(["openssl", "s_client", "-quiet", "-connect", f"127.0.0.1:{t.port}",
                    "-servername", t.host], input=b"hello\n", capture_output=True, timeout=30)
    wait_until(lambda: listed(agent, "deadtcp")["origin_state"] == "down", 10,
               "the tcp tunnel's origin to be down")
    assert f"127.0.0.1:{dead}" in listed(agent, "deadtcp")["origin_error"]
    t.proc.stop()
