"""`nfltr watch` through the relay: runs pushed to the page's WebSocket one after the other,
never overlapping, with exit status, timing and output; no shell between the words and the
command; output capped; a run that hangs stopped; the latest output as text for curl."""
import json
import time

from nfltrlab import Tunnel, nfltr_bin
from test_web_terminal import Https, WebSocket, token_of


def start_watch(lab, agent, *args, command):
    proc = lab.spawn(f"{agent.name}:nfltr-watch",
                     [nfltr_bin(), "watch", "--json", *args, "--", *command],
                     env=agent.env(), split_stderr=True)
    tunnel = Tunnel(proc)
    tunnel.wait_ready(60)
    agent.tunnels.append(tunnel)
    return tunnel


def page_of(relay, t):
    web = Https(relay.port, t.host)
    resp, _ = web.get(f"/?token={token_of(t.url)}", {"Accept": "text/html"})
    assert resp.status == 303
    cookie = resp.getheader("Set-Cookie").split(";")[0]
    return web, cookie


def runs_until(ws, predicate, timeout=20):
    runs, handled = [], 0
    deadline = time.monotonic() + timeout
    while not predicate(runs):
        left = deadline - time.monotonic()
        assert left > 0, f"timed out; runs={[(r['seq'], r['output'][:40]) for r in runs]}"
        opcode, payload = ws.recv(left)
        if opcode != 1:
            continue
        m = json.loads(payload)
        handled += 1
        ws.send(f"a{handled}")
        if m["t"] == "run":
            runs.append(m)
    return runs


def test_watch_runs_status_no_overlap(lab, relay, logged_in):
    counter = lab.path("counter")
    script = (f'n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; '
              'echo "run $n"; echo "same line"; [ $((n % 2)) -eq 1 ] || exit 3')
    t = start_watch(lab, logged_in, "--interval", "0.3", command=["sh", "-c", script])
    assert t.ready["kind"] == "watch" and t.ready["target"].startswith("/")
    web, cookie = page_of(relay, t)
    resp, body = web.get("/", {"Cookie": cookie, "Accept": "text/html"})
    assert resp.status == 200 and b"watch-output" in body and b"Verified end-to-end" in body

    ws = WebSocket(relay.port, t.host, "/ws", cookie=cookie, origin=f"https://{t.host}:{relay.port}")
    runs = runs_until(ws, lambda r: len(r) >= 4)
    seqs = [r["seq"] for r in runs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for r in runs:
        n = int(r["output"].split()[1])
        assert r["output"] == f"run {n}\nsame line\n"
        assert r["status"] == (0 if n % 2 else 3) and r["signal"] is None
        assert r["duration_ms"] >= 0 and not r["truncated"] and not r["timed_out"]
    for a, b in zip(runs, runs[1:]):
        assert b["started_ms"] >= a["started_ms"] + a["duration_ms"] - 1, (a, b)

    # A page that connects later is sent the runs kept, then the new ones.
    late = WebSocket(relay.port, t.host, "/ws", cookie=cookie, origin=f"https://{t.host}:{relay.port}")
    again = runs_until(late, lambda r: len(r) >= 5)
    assert again[0]["seq"] == 1
    resp, body = web.get("/latest.txt", {"Cookie": cookie})
    assert resp.status == 200 and body.startswith(b"run ")
    ws.close()
    late.close()


def test_watch_no_shell_cap_and_timeout(lab, relay, logged_in):
    # The words are the command's arguments: nothing expands them.
    t = start_watch(lab, logged_in, "--interval", "5", command=["echo", "$(id)", "`id`", "a;b"])
    web, cookie = page_of(relay, t)
    ws = WebSocket(relay.port, t.host, "/ws", cookie=cookie, origin=f"https://{t.host}:{relay.port}")
    runs = runs_until(ws, lambda r: len(r) >= 1)
    assert runs[0]["output"] == "$(id) `id` a;b\n"
    ws.close()

    # A megabyte of output: 256 KiB kept, the run marked truncated, the command not blocked.
    big = start_watch(lab, logged_in, "--interval", "60",
                      command=["sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x; echo done >&2"])
    web, cookie = page_of(relay, big)
    ws = WebSocket(relay.port, big.host, "/ws", cookie=cookie, origin=f"https://{big.host}:{relay.port}")
    runs = runs_until(ws, lambda r: len(r) >= 1)
    assert runs[0]["truncated"] is True and len(runs[0]["output"]) == 256 * 1024
    assert runs[0]["status"] == 0
    ws.close()

    # A run that hangs is stopped at --timeout; the next one still comes.
    slow = start_watch(lab, logged_in, "--interval", "0.2", "--timeout", "1",
                       command=["sh", "-c", "echo started; exec sleep 30"])
    web, cookie = page_of(relay, slow)
    ws = WebSocket(relay.port, slow.host, "/ws", cookie=cookie, origin=f"https://{slow.host}:{relay.port}")
    runs = runs_until(ws, lambda r: len(r) >= 2, timeout=30)
    assert runs[0]["timed_out"] is True and runs[0]["signal"] == 15 and runs[0]["status"] is None
    assert runs[0]["output"] == "started\n"
    assert 900 <= runs[0]["duration_ms"] < 5000
    assert runs[1]["started_ms"] >= runs[0]["started_ms"] + runs[0]["duration_ms"] - 1
    ws.close()


def test_watch_missing_command(lab, relay, logged_in):
    r = logged_in.run("watch", "--", "no-such-command-xyz", timeout=30)
    assert r.returncode == 1 and "“no-such-command-xyz” is not installed" in r.stderr
    r = logged_in.run("watch", timeout=30)
    assert r.returncode == 2 and "missing the command" in r.stderr
