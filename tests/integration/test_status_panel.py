"""The live status panel of `nfltr http` on a terminal (issue 9 §9).

Under a pseudo-terminal the run keeps a panel at the bottom (session state, relay and its
latency, online since, URL, mode and fingerprint, connections) and prints one line per HTTP
request above it ("GET /x 200 12 ms"); Ctrl-C leaves the terminal on a fresh line. Without a
terminal the output is the plain lines it always was, with no panel and no escapes."""
import os
import pty
import re
import select
import signal
import subprocess

from nfltrlab import curl_tunnel, nfltr_bin, wait_until


class PtyRun:
    def __init__(self, agent, *args, columns=120):
        self.master, slave = pty.openpty()
        import fcntl
        import struct
        import termios
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        env = {**agent.env(), "TERM": "xterm"}
        env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen([nfltr_bin(), *args], stdin=slave, stdout=slave, stderr=slave,
                                     env=env, start_new_session=True)
        os.close(slave)
        self.out = b""

    def pump(self):
        while True:
            r, _, _ = select.select([self.master], [], [], 0.05)
            if not r:
                return
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.out += data

    def text(self):
        self.pump()
        # What a reader sees: escapes dropped.
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", self.out.decode("utf-8", "replace"))

    def wait(self, regex, timeout):
        try:
            wait_until(lambda: re.search(regex, self.text()), timeout, f"{regex!r} on the terminal")
        except AssertionError as e:
            raise AssertionError(f"{e}; the terminal shows:\n{self.text()}") from None
        return re.search(regex, self.text())

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def test_status_panel_on_a_terminal(relay, logged_in, origin, lab):
    run = PtyRun(logged_in, "http", str(origin.port), "--name", "panel")
    lab.cleanups.append(run.close)
    run.wait(r"Session:\s+online", 60)
    m = run.wait(r"URL:\s+(https://panel\.\S+)", 10)
    run.wait(rf"Relay:\s+\S+:{relay.port} \(latency \d+ ms\)", 15)
    run.wait(r"Online since \d\d:\d\d:\d\d", 10)
    run.wait(r"verified end-to-end, sha256:[0-9a-f]{64}", 10)
    assert "\x1b[" in run.out.decode("utf-8", "replace"), "no ANSI escapes: the panel is not redrawn"

    class T:
        ready = {"url": m.group(1)}
        url = m.group(1)
        host = m.group(1).split("//")[1].split(":")[0].rstrip("/")
        port = int(m.group(1).rsplit(":", 1)[1].rstrip("/"))
    assert curl_tunnel(T, "/x", "--http1.1").status == 200
    run.wait(r"GET /x 200 \d+ ms", 15)
    run.wait(r"Connections: \d+ open, \d+ total", 15)

    run.proc.send_signal(signal.SIGINT)
    assert run.proc.wait(20) == 0
    run.pump()
    assert run.text().rstrip(" ").endswith("\n"), repr(run.text()[-200:])
    assert "Tunnel removed." in run.text()


def test_status_panel_on_a_narrow_terminal(relay, logged_in, origin, lab):
    run = PtyRun(logged_in, "http", str(origin.port), "--name", "narrow", columns=40)
    lab.cleanups.append(run.close)
    run.wait(r"online", 60)
    # A whole panel has been drawn once its last line is out.
    run.wait(r"Connections: \d+ open", 15)
    # No panel line is wider than the terminal.
    last = run.text().split("Press Ctrl-C to stop the tunnel.")[-1]
    for line in last.replace("\r", "\n").split("\n"):
        assert len(line) <= 40, repr(line)
    run.proc.send_signal(signal.SIGINT)
    assert run.proc.wait(20) == 0


def test_no_panel_without_a_terminal(relay, logged_in, origin, lab):
    proc = lab.spawn("plain", [nfltr_bin(), "http", str(origin.port), "--name", "plain"],
                     env=logged_in.env())
    proc.wait_line(r"^URL:\s+https://plain\.", 60)
    proc.wait_line(r"Press Ctrl-C", 10)
    assert proc.stop(signal.SIGINT, timeout=20) == 0
    text = proc.text()
    assert "Session:" not in text and "\x1b[" not in text, text
