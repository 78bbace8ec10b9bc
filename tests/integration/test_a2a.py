"""Agent-to-agent messages (issue 15) through the real relay and real services: what the relay
saw (its test hook NFLTR_RELAY_TEST_A2A_DUMP appends every A2A frame it routed), tampering
by the relay (NFLTR_RELAY_TEST_A2A_TAMPER: a one-shot instruction file), a changed key,
offline delivery across a relay restart, `a2a serve`/`a2a connect` in front of a JSON-RPC
agent, and `nfltr audit verify` against the peer's signed checkpoints."""
import http.server
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from nfltrlab import Agent, Relay, curl, nfltr_bin, relay_bin, tagged_processes, wait_until

MARKER = "NFLTR-A2A-MARKER-7d1f0c"


class A2aRelay(Relay):
    """The relay with the a2a track's test hooks on."""

    def __init__(self, lab, **kw):
        super().__init__(lab, **kw)
        self.dump = lab.path("a2a-dump.bin")
        self.tamper = lab.path("a2a-tamper")

    def start(self, timeout=20):
        env = self.lab.env(NFLTR_RELAY_TEST_A2A_DUMP=self.dump, NFLTR_RELAY_TEST_A2A_TAMPER=self.tamper)
        argv = [relay_bin(), "serve", "--listen", f"127.0.0.1:{self.port}",
                "--domain", "nfltr.localhost", "--data-dir", self.data_dir]
        self.proc = self.lab.spawn(f"{self.name}#{len(self.runs) + 1}", argv, env=env)
        self.runs.append(self.proc)
        self.proc.wait_line(r"listening", timeout)
        return self

    def captured(self):
        try:
            with open(self.dump, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def set_tamper(self, what):
        with open(self.tamper, "w") as f:
            f.write(what)


def service_log(agent):
    path = os.path.join(agent.home, ".local", "state", "nfltr", "service.log")
    try:
        with open(path, errors="replace") as f:
            return f"--- {agent.name}'s service.log:\n" + f.read()[-20000:]
    except OSError:
        return f"--- {agent.name}: no service.log"


def ident(agent):
    r = agent.run("a2a", "id", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert set(data) >= {"id", "fingerprint"}
    assert data["fingerprint"].startswith("sha256:") and len(data["fingerprint"]) == 71
    return data


def listen(lab, agent):
    proc = lab.spawn(f"{agent.name}:listen", [nfltr_bin(), "a2a", "listen", "--json"], env=agent.env(),
                     split_stderr=True)
    proc.wait_line(r'"event":"listening"', 60)
    return proc


def events(proc, kind=None):
    out = []
    for line in list(proc.lines):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if kind is None or e.get("event") == kind:
            out.append(e)
    return out


def send(agent, to, *args, ok=True):
    r = agent.run("a2a", "send", to, *args, "--json", timeout=90)
    if ok:
        assert r.returncode == 0, f"send failed: {r.stdout} {r.stderr}\n{service_log(agent)}"
        return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    return r


def wait_connected(agent):
    """A (re)started service logs in again by itself; a2a goes through its relay link."""
    def connected():
        r = agent.run("status", "--json")
        return r.returncode == 0 and json.loads(r.stdout).get("state") == "connected"
    wait_until(connected, 60, f"{agent.name}'s link to the relay")


def kill_service(lab, agent):
    pids = [pid for pid in tagged_processes(lab.tag, "nfltr-service")
            if agent.home in open(f"/proc/{pid}/environ", "rb").read().decode("latin1")]
    assert pids, f"{agent.name}'s service not found"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not any(os.path.exists(f"/proc/{p}") for p in pids), 10, "the service to die")


@pytest.fixture
def trio(lab):
    relay = A2aRelay(lab).start()
    a, b, c = Agent(lab, "alice"), Agent(lab, "bob"), Agent(lab, "carol")
    for agent in (a, b, c):
        agent.login(relay)
    return relay, a, b, c


def test_message_is_ciphertext_at_relay_and_gets_a_receipt(lab, trio):
    relay, a, b, _ = trio
    ida, idb = ident(a), ident(b)
    lb = listen(lab, b)
    out = send(a, idb["id"], f"hello {MARKER}")
    assert out[0]["status"] == "forwarded" and out[0]["encrypted"] is True
    assert out[-1]["event"] == "delivered", f"{out}\n{service_log(a)}\n{service_log(b)}"
    msg = wait_until(lambda: events(lb, "message"), 30, "bob's message event")[0]
    assert msg["from"] == ida["id"] and msg["text"] == f"hello {MARKER}" and msg["encrypted"] is True
    assert msg["id"] == out[0]["id"]
    # The relay routed it: the routing header is in its capture, the words are not.
    seen = relay.captured()
    assert idb["id"].encode() in seen and bytes.fromhex(out[0]["id"]) in seen
    assert MARKER.encode() not in seen
    # A file too.
    path = lab.path("note.txt")
    with open(path, "w") as f:
        f.write(f"file body {MARKER}")
    send(a, idb["id"], "--file", path)
    f = wait_until(lambda: events(lb, "message")[1:], 30, "the file event")[0]
    import base64
    assert f["file"] == "note.txt" and base64.b64decode(f["data"]) == f"file body {MARKER}".encode()
    assert MARKER.encode() not in relay.captured()
    # The opt-out is explicit and labelled: then (and only then) the relay sees the words.
    out = send(a, idb["id"], f"open {MARKER}", "--no-payload-encryption")
    assert out[0]["encrypted"] is False
    plain = wait_until(lambda: [e for e in events(lb, "message") if e.get("text", "").startswith("open")], 30, "plaintext")[0]
    assert plain["encrypted"] is False
    assert f"open {MARKER}".encode() in relay.captured()
    r = a.run("a2a", "send", idb["id"], "x", "--no-payload-encryption")
    assert "NOT ENCRYPTED" in r.stdout


def test_order_and_size_limit(lab, trio):
    relay, a, b, _ = trio
    idb = ident(b)
    lb = listen(lab, b)
    for i in range(8):
        send(a, idb["id"], f"m{i}", "--no-wait")
    got = wait_until(lambda: len(events(lb, "message")) >= 8 and events(lb, "message"), 60, "eight messages")
    assert [e["text"] for e in got] == [f"m{i}" for i in range(8)]
    assert [e["seq"] for e in got] == sorted(e["seq"] for e in got)
    big = lab.path("big.bin")
    with open(big, "wb") as f:
        f.write(b"x" * (300 * 1024))
    r = send(a, idb["id"], "--file", big, ok=False)
    assert r.returncode != 0 and "256 KiB" in r.stderr, r.stderr


def test_tampering_is_rejected_with_a_reason(lab, trio):
    relay, a, b, c = trio
    ida, idb, idc = ident(a), ident(b), ident(c)
    lb, lc = listen(lab, b), listen(lab, c)
    send(a, idb["id"], "first")  # pins both ways, warms the path

    relay.set_tamper("flip")
    send(a, idb["id"], "flipped", "--no-wait")
    rej = wait_until(lambda: events(lb, "rejected"), 30, "the flipped message's rejection")
    assert "modified in transit" in rej[-1]["reason"], rej
    assert not [e for e in events(lb, "message") if e["text"] == "flipped"]

    relay.set_tamper("replay")
    send(a, idb["id"], "once", "--no-wait")
    wait_until(lambda: len(events(lb, "rejected")) >= 2, 30, "the replay's rejection")
    assert "replayed" in events(lb, "rejected")[-1]["reason"]
    assert len([e for e in events(lb, "message") if e["text"] == "once"]) == 1

    relay.set_tamper(f"readdress {idc['id']}")
    send(a, idb["id"], "for bob only", "--no-wait")
    rc = wait_until(lambda: events(lc, "rejected"), 30, "carol's rejection")
    assert "re-addressed" in rc[-1]["reason"], rc
    assert not events(lc, "message")

    # A changed key: alice's identity is remade; bob refuses what it seals.
    kill_service(lab, a)
    os.unlink(os.path.join(a.home, ".local", "share", "nfltr", "certs", "a2a-identity.key"))
    new_a = ident(a)
    assert new_a["fingerprint"] != ida["fingerprint"] and new_a["id"] == ida["id"]
    wait_connected(a)
    send(a, idb["id"], "from a new key", "--no-wait")
    rej = wait_until(lambda: [e for e in events(lb, "rejected") if "changed" in e["reason"]], 30, "key change")
    assert ida["fingerprint"] in rej[-1]["reason"] and new_a["fingerprint"] in rej[-1]["reason"]
    assert "nfltr a2a trust" in rej[-1]["reason"]
    # Bob sending to alice is refused loudly before anything leaves, and trust accepts it.
    r = send(b, ida["id"], "hi", ok=False)
    assert r.returncode != 0 and "CHANGED" in r.stderr and "nfltr a2a trust" in r.stderr, r.stderr
    r = b.run("a2a", "trust", ida["id"], new_a["fingerprint"])
    assert r.returncode == 0, r.stderr
    send(b, ida["id"], "hi again", "--no-wait")


def test_offline_delivery_exactly_once_across_relay_restart(lab, trio):
    relay, a, b, _ = trio
    ida, idb = ident(a), ident(b)
    send(a, idb["id"], "warm-up")
    kill_service(lab, b)
    out = send(a, idb["id"], f"while you were away {MARKER}")
    assert out[0]["status"] == "stored", out
    assert MARKER.encode() not in relay.captured()
    relay.stop()
    relay.start()
    # Alice's link comes back by itself; bob's service starts with the listener.
    lb = listen(lab, b)
    got = wait_until(lambda: [e for e in events(lb, "message") if MARKER in e["text"]], 60, "the held message")
    assert got[0]["from"] == ida["id"]
    # Bob's service restarts and reconnects: the message is not delivered again.
    lb.stop()
    kill_service(lab, b)
    lb2 = listen(lab, b)
    wait_connected(b)
    wait_connected(a)
    send(a, idb["id"], "marker-after")
    wait_until(lambda: [e for e in events(lb2, "message") if e["text"] == "marker-after"], 60, "the next message")
    assert not [e for e in events(lb2, "message") if MARKER in e["text"]], events(lb2)
    total = [e for e in events(lb) + events(lb2) if e.get("event") == "message" and MARKER in e.get("text", "")]
    assert len(total) == 1


class JsonRpcAgent(http.server.BaseHTTPRequestHandler):
    """A tiny Agent2Agent-style agent: JSON-RPC 2.0 over HTTP, agent card, SSE streaming."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/.well-known/agent.json":
            body = json.dumps({"name": "echo-agent", "url": "/", "capabilities": {"streaming": True}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = req["params"]["message"]
        if req["method"] == "message/stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for i in range(3):
                event = {"jsonrpc": "2.0", "id": req["id"], "result": {"part": i, "text": f"{text}-{i}"}}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.3)
            self.close_connection = True
            return
        body = json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": {"echo": text}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_serve_and_connect_carry_json_rpc_and_sse(lab, trio):
    relay, a, b, _ = trio
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), JsonRpcAgent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    lab.cleanups.append(server.shutdown)
    port = server.server_address[1]
    serve = lab.spawn("bob:serve", [nfltr_bin(), "a2a", "serve", "echo", "--target", f"http://127.0.0.1:{port}",
                                    "--json"], env=b.env(), split_stderr=True)
    serve.wait_line(r'"event":"serving"', 60)
    conn = lab.spawn("alice:connect", [nfltr_bin(), "a2a", "connect", "echo", "--json"], env=a.env(),
                     split_stderr=True)
    url = json.loads(conn.wait_line(r'"event":"listening"', 60).string)["url"]
    card = curl(f"{url}/.well-known/agent.json")
    assert card.status == 200 and json.loads(card.body)["name"] == "echo-agent", card
    call = {"jsonrpc": "2.0", "id": 7, "method": "message/send", "params": {"message": MARKER}}
    r = curl(url + "/", "-X", "POST", "-H", "Content-Type: application/json", "--data", json.dumps(call))
    assert r.status == 200, r
    assert json.loads(r.body) == {"jsonrpc": "2.0", "id": 7, "result": {"echo": MARKER}}
    # Streamed: curl -N sees the events as they come, the first well before the last.
    call["method"] = "message/stream"
    t0 = time.monotonic()
    p = subprocess.Popen(["curl", "-sN", "-X", "POST", "-H", "Content-Type: application/json", "--data",
                          json.dumps(call), url + "/"], stdout=subprocess.PIPE)
    first = p.stdout.readline()
    t_first = time.monotonic() - t0
    rest = p.stdout.read()
    t_all = time.monotonic() - t0
    p.wait(30)
    datas = [json.loads(line[6:]) for line in (first + rest).decode().splitlines() if line.startswith("data: ")]
    assert [d["result"]["text"] for d in datas] == [f"{MARKER}-{i}" for i in range(3)]
    assert t_all - t_first >= 0.4, (t_first, t_all)
    assert MARKER.encode() not in relay.captured()


def test_truncated_log_fails_against_signed_checkpoint(lab, trio):
    relay, a, b, _ = trio
    ida, idb = ident(a), ident(b)
    listen(lab, b)
    for i in range(5):
        send(a, idb["id"], f"audit {i}")
    logs = os.path.join(a.home, ".local", "share", "nfltr", "a2a", "logs")
    log, cps = os.path.join(logs, idb["id"] + ".log"), os.path.join(logs, idb["id"] + ".checkpoints")
    try:
        wait_until(lambda: os.path.exists(cps) and len(open(cps).read().splitlines()) >= 5, 30, "five checkpoints")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{service_log(a)}\n{service_log(b)}") from None
    r = a.run("audit", "verify", log, "--checkpoint", cps)
    assert r.returncode == 0 and "agree" in r.stdout, r.stdout + r.stderr
    lines = open(log).read().splitlines()
    cut = lab.path("cut.log")
    with open(cut, "w") as f:
        f.write("\n".join(lines[:-2]) + "\n")
    r = a.run("audit", "verify", cut, "--checkpoint", cps)
    assert r.returncode == 1 and "truncated" in r.stdout and "frame 4" in r.stdout, r.stdout
    # Without the peer's word the cut log looks whole: the checkpoint is what catches it.
    assert a.run("audit", "verify", cut).returncode == 0
    # A modified frame is named too.
    entry = json.loads(lines[2])
    entry["sha256"] = "00" * 32
    bad = lab.path("bad.log")
    with open(bad, "w") as f:
        f.write("\n".join(lines[:2] + [json.dumps(entry)] + lines[3:]) + "\n")
    r = a.run("audit", "verify", bad, "--checkpoint", cps)
    assert r.returncode == 1 and "frame 2" in r.stdout and "modified" in r.stdout, r.stdout
