"""`nfltr tail` through the relay: the last lines first, then appended lines pushed to the
page's WebSocket as they are written; a line of 100 KB cut at 64 KiB, binary bytes made safe,
rotation and truncation followed; the text view for curl; refusals without the token."""
import json
import os
import time
import urllib.parse

from nfltrlab import Tunnel, curl, nfltr_bin
from test_web_terminal import Https, WebSocket, token_of


def start_tail(lab, agent, *args):
    proc = lab.spawn(f"{agent.name}:nfltr-tail", [nfltr_bin(), "tail", "--json", *args],
                     env=agent.env(), split_stderr=True)
    tunnel = Tunnel(proc)
    tunnel.wait_ready(60)
    agent.tunnels.append(tunnel)
    return tunnel


def login(web, token):
    resp, _ = web.get(f"/?token={token}", {"Accept": "text/html"})
    assert resp.status == 303 and resp.getheader("Location") == "/", resp.status
    return resp.getheader("Set-Cookie").split(";")[0]


class Feed:
    """A page of the log viewer: reads the feed, acknowledges as the page does."""

    def __init__(self, ws):
        self.ws, self.handled, self.lines, self.notices = ws, 0, [], []

    def until(self, predicate, timeout=15):
        deadline = time.monotonic() + timeout
        while not predicate(self):
            left = deadline - time.monotonic()
            assert left > 0, f"timed out; lines={self.lines[-5:]} notices={self.notices}"
            opcode, payload = self.ws.recv(left)
            if opcode != 1:
                continue
            m = json.loads(payload)
            self.handled += 1
            self.ws.send(f"a{self.handled}")
            if m["t"] == "lines":
                self.lines += m["lines"]
            elif m["t"] == "notice":
                self.notices.append(m["text"])
            elif m["t"] == "hello":
                self.hello = m

    def texts(self):
        return [line[1] for line in self.lines]


def test_tail_follows_appends_rotation_truncation(lab, relay, logged_in):
    log = lab.path("app.log")
    with open(log, "w") as f:
        for i in range(1, 151):
            f.write(f"line {i}\n")
        f.write("\x1b[31mred error\x1b[0m\r\n")
    t = start_tail(lab, logged_in, "-n", "20", log)
    assert t.ready["kind"] == "tail" and t.ready["target"] == log
    web = Https(relay.port, t.host)
    origin = f"https://{t.host}:{relay.port}"

    resp, body = web.get("/", {"Accept": "text/html"})
    assert resp.status == 401
    cookie = login(web, token_of(t.url))
    resp, body = web.get("/", {"Cookie": cookie, "Accept": "text/html"})
    assert resp.status == 200 and b"tail-log" in body and b"Verified end-to-end" in body

    page = Feed(WebSocket(relay.port, t.host, "/ws", cookie=cookie, origin=origin))
    assert page.ws.status == 101
    page.until(lambda p: "\x1b[31mred error\x1b[0m" in p.texts())
    assert page.hello["files"] == [log]
    # The last 20 lines: 132…150 and the coloured one ("\r" dropped, ESC kept for colours).
    assert page.texts()[0] == "line 132" and len(page.texts()) == 20, page.texts()[:3]

    with open(log, "a") as f:
        f.write("appended after the page loaded\n")
        f.write("x" * 100000 + "\n")
        f.flush()
        os.fsync(f.fileno())
    with open(log, "ab") as f:
        f.write(b"bin\x00\x01\xff\xfe end\n")
    page.until(lambda p: any(t.startswith("bin") for t in p.texts()))
    assert "appended after the page loaded" in page.texts()
    long = [line for line in page.lines if line[1].startswith("xxx")][0]
    assert len(long[1]) == 65536 and long[2] is True
    assert "bin\ufffd\ufffd\ufffd\ufffd end" in page.texts()

    # Rotation: the old name now names a new file.
    os.rename(log, log + ".1")
    with open(log, "w") as f:
        f.write("first line of the new file\n")
    page.until(lambda p: "first line of the new file" in p.texts())
    assert any("rotated" in n for n in page.notices), page.notices

    # Truncation in place.
    time.sleep(0.3)
    with open(log, "w") as f:
        f.write("after truncation\n")
    page.until(lambda p: "after truncation" in p.texts(), timeout=20)

    # The text view (curl) has what the page had; a page that reconnects gets it again.
    resp, body = web.get("/lines.txt", {"Cookie": cookie})
    assert resp.status == 200 and b"appended after the page loaded\n" in body
    again = Feed(WebSocket(relay.port, t.host, "/ws", cookie=cookie, origin=origin))
    again.until(lambda p: "after truncation" in p.texts())
    page.ws.close()
    again.ws.close()


def test_tail_refuses_directories(lab, relay, logged_in):
    r = logged_in.run("tail", lab.path(), timeout=30)
    assert r.returncode == 1 and "is a directory" in r.stderr


def lines_txt(t):
    base = urllib.parse.urlsplit(t.url)
    return curl(f"https://{base.netloc}/lines.txt?token={token_of(t.url)}", "-k",
                resolve=(t.host, t.port))


def test_tail_takes_the_generic_tunnel_options(lab, relay, logged_in):
    """The secret-link commands share the tunnel commands' options: -n stays --lines (as in
    tail(1)), and --deny-cidr turns a visitor away before the page."""
    log = lab.path("generic.log")
    with open(log, "w") as f:
        f.write("".join(f"generic line {i}\n" for i in range(10)))
    t = start_tail(lab, logged_in, "-n", "3", "--deny-cidr", "127.0.0.0/8", log)
    r = lines_txt(t)
    assert r.status != 200 and b"generic line" not in r.body, r
    t.proc.stop()
    t = start_tail(lab, logged_in, "-n", "3", "--allow-cidr", "127.0.0.0/8", log)
    r = lines_txt(t)
    assert r.status == 200, r
    assert b"generic line 9" in r.body and b"generic line 6" not in r.body, r
    t.proc.stop()
