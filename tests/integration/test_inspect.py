"""The request inspector stays end to end (issue 9 §8).

A request made through the real relay appears in the agent's inspector — on its loopback web
page and on D-Bus — with method, path, HTTP version, status and sizes, for HTTP/1.1 and HTTP/2
visitors; a replay reaches the local server again (it counts its requests), and an edited
replay changes what it sees. All the while a capture of the relay's port holds only
ciphertext: the request body's marker is in the inspector and never on the relay's wire. The
page listens on loopback only, refuses a Host that is not its own (DNS rebinding), asks for
the run's token, and a replay needs the token in X-Nfltr-Token (cross-site requests)."""
import json
import re
import secrets
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from nfltrlab import curl_tunnel, marker_forms, nfltr_bin, wait_until
from test_plaintext import Capture


def inspector(tunnel):
    url = tunnel.ready.get("inspect_url")
    assert url, f"the ready event has no inspect_url: {tunnel.ready}"
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname == "127.0.0.1", url
    token = urllib.parse.parse_qs(parts.query)["token"][0]
    return f"http://127.0.0.1:{parts.port}", token


def page(base, path, token=None, method="GET", body=None, headers=None):
    """(status, body bytes) of one request to the inspector's page."""
    url = base + path
    if token is not None:
        url += ("&" if "?" in url else "?") + "token=" + token
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def exchanges(base, token):
    status, body = page(base, "/api/exchanges", token)
    assert status == 200, body
    return json.loads(body)["exchanges"]


def detail(base, token, ex_id):
    status, body = page(base, f"/api/exchanges/{ex_id}", token)
    assert status == 200, body
    return json.loads(body)


def find(base, token, pred, what):
    found = []

    def look():
        found[:] = [e for e in exchanges(base, token) if pred(e)]
        return found
    wait_until(look, 15, what)
    return found[-1]


def dbus_inspector_list(agent):
    """Inspector.List(0) on the tunnel's object, through the agent's private bus."""
    addr = agent.bus.address
    objs = subprocess.run(["gdbus", "call", "--address", addr, "--dest", "xyz.nfltr.Nfltr.Service",
                           "--object-path", "/xyz/nfltr/Nfltr", "--method",
                           "org.freedesktop.DBus.ObjectManager.GetManagedObjects"],
                          capture_output=True, text=True, timeout=30)
    assert objs.returncode == 0, objs.stderr
    paths = re.findall(r"'(/xyz/nfltr/Nfltr/tunnels/[^']+)'", objs.stdout)
    assert paths and "'xyz.nfltr.Nfltr.Inspector'" in objs.stdout, \
        f"no tunnel object has the Inspector interface:\n{objs.stdout[:2000]}"
    r = subprocess.run(["gdbus", "call", "--address", addr, "--dest", "xyz.nfltr.Nfltr.Service",
                        "--object-path", paths[0], "--method", "xyz.nfltr.Nfltr.Inspector.List", "0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    # ('{"exchanges": …}',) as gdbus prints a string
    text = r.stdout.strip()[2:-3].encode().decode("unicode_escape")
    return json.loads(text)["exchanges"]


def test_requests_through_the_relay_are_inspected_and_replayed(relay, logged_in, origin, lab):
    t = logged_in.http(origin.port, "--inspect", "0", "--inspect-bodies")
    base, token = inspector(t)

    # HTTP/1.1 and HTTP/2 visitors through the real relay.
    r1 = curl_tunnel(t, "/one?x=1", "--http1.1")
    assert r1.status == 200, r1
    body = b"hello inspector"
    r2 = curl_tunnel(t, "/marker", "--http2", "--data-binary", body.decode(),
                     "-H", "Content-Type: text/plain")
    assert r2.status == 200, r2

    one = find(base, token, lambda e: e["path"] == "/one?x=1", "the HTTP/1.1 request")
    assert one["method"] == "GET" and one["status"] == 200 and one["http_version"] == "1.1", one
    assert one["response_size"] == len(r1.body), (one, len(r1.body))
    two = find(base, token, lambda e: e["path"] == "/marker", "the HTTP/2 request")
    assert two["method"] == "POST" and two["status"] == 200 and two["http_version"] == "2", two
    assert two["request_size"] == len(body), two
    assert two["response_size"] == len(b"origin says hi"), two

    full = detail(base, token, two["id"])
    assert full["request_body"] == {"text": "hello inspector"}, full
    assert full["response_body"] == {"text": "origin says hi"}, full
    assert ["content-type", "text/plain"] in full["request_headers"], full["request_headers"]

    # The same on D-Bus.
    listed = dbus_inspector_list(logged_in)
    assert any(e["path"] == "/one?x=1" and e["status"] == 200 for e in listed), listed
    assert any(e["path"] == "/marker" and e["http_version"] == "2" for e in listed), listed

    # Replay: the local server sees the request again, straight from the agent.
    before = len(origin.requests)
    status, answer = page(base, f"/api/exchanges/{one['id']}/replay", method="POST", body=b"{}",
                          headers={"X-Nfltr-Token": token, "Content-Type": "application/json",
                                   "Cookie": f"nfltr_inspect={token}"})
    assert status == 200, answer
    new_id = json.loads(answer)["id"]
    wait_until(lambda: len(origin.requests) > before, 10, "the replay at the origin")
    again = origin.requests[-1]
    assert again["method"] == "GET" and again["path"] == "/one?x=1", again
    assert again["headers"].get("x-nfltr-replay") == str(one["id"]), again
    replayed = detail(base, token, new_id)
    assert replayed["replay_of"] == one["id"] and replayed["status"] == 200, replayed

    # An edited replay: method, path, a header and the body change what the origin sees.
    edits = json.dumps({"method": "POST", "path": "/edited",
                        "headers": [["X-Edited", "yes"], ["Content-Type", "text/plain"]],
                        "body": "changed body"}).encode()
    status, answer = page(base, f"/api/exchanges/{two['id']}/replay", method="POST", body=edits,
                          headers={"X-Nfltr-Token": token, "Cookie": f"nfltr_inspect={token}"})
    assert status == 200, answer
    seen = origin.requests[-1]
    assert seen["method"] == "POST" and seen["path"] == "/edited", seen
    assert seen["headers"].get("x-edited") == "yes" and seen["body"] == b"changed body", seen

    # Bad edits are refused with a reason, and nothing reaches the origin.
    n = len(origin.requests)
    status, answer = page(base, f"/api/exchanges/{one['id']}/replay", method="POST",
                          body=b'{"headers": [["X-Bad", "a\\r\\nInjected: 1"]]}',
                          headers={"X-Nfltr-Token": token, "Cookie": f"nfltr_inspect={token}"})
    assert status == 400 and b"line breaks" in answer, (status, answer)
    assert len(origin.requests) == n

    # HAR export: every exchange, as HAR 1.2.
    status, har = page(base, "/api/har", token)
    assert status == 200
    entries = json.loads(har)["log"]["entries"]
    assert any(e["request"]["url"].endswith("/one?x=1") for e in entries), entries


def test_inspector_page_defends_itself(relay, logged_in, origin, lab):
    t = logged_in.http(origin.port, "--inspect", "0")
    base, token = inspector(t)
    port = urllib.parse.urlsplit(base).port
    assert curl_tunnel(t, "/x", "--http1.1").status == 200
    one = find(base, token, lambda e: e["path"] == "/x", "the request")

    # DNS rebinding: a name that resolves to 127.0.0.1 still carries its own Host.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET /api/exchanges?token={token} HTTP/1.1\r\nHost: evil.example:{port}\r\n"
                  "Connection: close\r\n\r\n".encode())
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
    assert b"/one" not in answer and b'"exchanges"' not in answer

    # Without the run's token: nothing.
    status, body = page(base, "/api/exchanges")
    assert status == 401, (status, body)
    # A cross-site POST (cookie sent by the browser, but no X-Nfltr-Token): refused.
    n = len(origin.requests)
    status, body = page(base, f"/api/exchanges/{one['id']}/replay", method="POST", body=b"{}",
                        headers={"Cookie": f"nfltr_inspect={token}", "Origin": "http://evil.example"})
    assert status == 403, (status, body)
    status, body = page(base, f"/api/exchanges/{one['id']}/replay", method="POST", body=b"{}",
                        headers={"Cookie": f"nfltr_inspect={token}", "X-Nfltr-Token": token,
                                 "Origin": "http://evil.example"})
    assert status == 403, (status, body)
    assert len(origin.requests) == n, "a refused replay reached the origin"
    # The page itself: from the GResource, with the token for its replays, no CDN.
    status, html = page(base, "/", token)
    assert status == 200 and token.encode() in html and b"https://" not in html


def test_non_loopback_inspector_is_refused(logged_in, origin):
    r = logged_in.run("http", str(origin.port), "--inspect", "0.0.0.0:4040")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "loopback" in r.stderr and "0.0.0.0" in r.stderr, r.stderr
    r = logged_in.run("http", str(origin.port), "--inspect", "192.0.2.1:4040")
    assert r.returncode == 2 and "loopback" in r.stderr, r.stderr


def test_taken_port_moves_to_the_next(relay, logged_in, origin, lab):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    taken = blocker.getsockname()[1]
    lab.cleanups.append(blocker.close)
    t = logged_in.http(origin.port, "--inspect", f"127.0.0.1:{taken}")
    base, token = inspector(t)
    port = urllib.parse.urlsplit(base).port
    assert taken < port < taken + 10, (taken, base)
    assert page(base, "/api/info", token)[0] == 200


def test_relay_sees_only_ciphertext_while_the_agent_inspects(relay, logged_in, origin, lab):
    t = logged_in.http(origin.port, "--inspect", "0", "--inspect-bodies")
    base, token = inspector(t)
    marker = secrets.token_hex(24).encode()
    body_file = lab.path("body")
    with open(body_file, "wb") as f:
        f.write(b"secret=" + marker)

    cap = Capture(lab, relay.port)
    r = curl_tunnel(t, "/marker", "--http1.1", "--data-binary", f"@{body_file}",
                    "-H", "Content-Type: text/plain")
    control = cap.sync(relay.port)
    capture = cap.stop()
    assert r.status == 200, r
    assert control in capture, "the capture missed plaintext sent to the relay port"

    # The agent saw the marker in clear (the inspector shows it)...
    ex = find(base, token, lambda e: e["path"] == "/marker", "the marker request")
    assert marker.decode() in detail(base, token, ex["id"])["request_body"]["text"]
    # ...and the relay's wire never did.
    for form in marker_forms(marker) + [marker]:
        assert form not in capture, f"the marker is in the relay's capture as {form!r}"


def test_bodies_are_off_by_default(relay, logged_in, origin, lab):
    t = logged_in.http(origin.port, "--inspect", "0")
    base, token = inspector(t)
    assert curl_tunnel(t, "/marker", "--http1.1", "--data-binary", "abc").status == 200
    ex = find(base, token, lambda e: e["path"] == "/marker", "the request")
    full = detail(base, token, ex["id"])
    assert full["request_body"] is None and full["response_body"] is None, full
    assert full["request_size"] == 3, full
    # Without the bodies a POST cannot be re-sent as it was: the page says why.
    status, answer = page(base, f"/api/exchanges/{ex['id']}/replay", method="POST", body=b"{}",
                          headers={"X-Nfltr-Token": token, "Cookie": f"nfltr_inspect={token}"})
    assert status == 400 and b"--inspect-bodies" in answer, (status, answer)


def test_inspect_options_in_help():
    r = subprocess.run([nfltr_bin(), "http", "--help"], capture_output=True, text=True, timeout=30,
                       env={"LANG": "C", "PATH": "/usr/bin:/bin"})
    assert "--inspect=ADDR" in r.stdout and "--inspect-bodies" in r.stdout, r.stdout
