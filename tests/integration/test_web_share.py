"""`nfltr share` through the relay: the secret link, --max-downloads, --expires, standard
input streamed to one download, --text, a folder as tar; and the CLI says why it ended."""
import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import time
import types

import pytest

from nfltrlab import Agent, Relay, Tunnel, curl, nfltr_bin


@pytest.fixture(scope="module")
def env(mlab):
    relay = Relay(mlab).start()
    agent = Agent(mlab)
    agent.login(relay)
    return types.SimpleNamespace(relay=relay, agent=agent)


def start_share(env, mlab, *args, stdin=subprocess.DEVNULL):
    argv = [nfltr_bin(), "share", *args, "--json"]
    proc = mlab.spawn("nfltr-share", argv, env=env.agent.env(), split_stderr=True, stdin=stdin)
    t = Tunnel(proc)
    t.wait_ready(60)
    return t


def fetch(t, path=None, *args, timeout=30):
    url = t.url if path is None else t.url.split("/", 3)[0] + "//" + t.host + f":{t.port}" + path
    return curl(url, "-k", *args, resolve=(t.host, t.port), timeout=timeout)


def secret_of(t):
    return t.url.rsplit("/", 1)[1]


def test_file_link_is_secret_and_dies_after_max_downloads(env, mlab):
    path = mlab.path("report.bin")
    data = os.urandom(500000)
    open(path, "wb").write(data)
    t = start_share(env, mlab, path, "--max-downloads", "2")
    # The URL the CLI printed carries at least 128 bits: 24 base64url characters.
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", secret_of(t)), t.url
    assert fetch(t, "/").status == 404
    assert fetch(t, "/" + secret_of(t)[:-1] + "A").status == 404
    for i in range(2):
        r = fetch(t)
        assert r.status == 200, r
        assert hashlib.sha256(r.body).hexdigest() == hashlib.sha256(data).hexdigest()
    # The share is exhausted: the CLI says so and removes the tunnel.
    assert t.proc.wait_exit(20) == 0
    events = t.events()
    finished = [e for e in events if e.get("event") == "state" and e.get("state") == "finished"]
    assert finished and "downloaded 2 times" in json.dumps(finished[0]), events
    assert events[-1].get("event") == "stopped", events
    r = fetch(t)
    assert r.status != 200


def test_expiry(env, mlab):
    path = mlab.path("short.txt")
    open(path, "w").write("short-lived\n")
    t = start_share(env, mlab, path, "--expires", "3s")
    r = fetch(t)
    assert r.status == 200 and r.body == b"short-lived\n"
    assert t.proc.wait_exit(20) == 0
    assert any(e.get("state") == "finished" and "expired" in e.get("last_error", "")
               for e in t.events()), t.events()
    assert fetch(t).status != 200


def test_human_output_says_why(env, mlab):
    path = mlab.path("h.txt")
    open(path, "w").write("h\n")
    argv = [nfltr_bin(), "share", path, "--max-downloads", "1"]
    proc = mlab.spawn("nfltr-share-human", argv, env=env.agent.env())
    m = proc.wait_line(r"^URL:\s+(https://\S+)", 60)
    url = m.group(1)
    host = re.match(r"https://([^:/]+):(\d+)", url)
    r = curl(url, "-k", resolve=(host.group(1), int(host.group(2))))
    assert r.status == 200 and r.body == b"h\n"
    proc.wait_line(r"downloaded 1 time, as many as allowed; its link no longer works", 20)
    assert proc.wait_exit(20) == 0


def test_stdin_is_streamed_to_one_download(env, mlab):
    t = start_share(env, mlab, "-", stdin=subprocess.PIPE)
    chunk = os.urandom(256 * 1024)
    written = []

    def feed():
        for _ in range(8):
            t.proc.p.stdin.write(chunk)
            written.append(chunk)
            time.sleep(0.05)
        t.proc.p.stdin.close()

    import threading
    feeder = threading.Thread(target=feed)
    feeder.start()
    r = fetch(t, None, timeout=60)
    feeder.join()
    assert r.status == 200, r
    assert r.body == b"".join(written)
    # A second download gets a clear refusal: stdin has one reader.
    r = fetch(t)
    if r.status != 0:  # the CLI may already have removed the tunnel
        assert r.status in (410,) or r.curl_rc != 0, r
    assert t.proc.wait_exit(20) == 0
    assert any("Standard input was sent" in e.get("last_error", "") for e in t.events()), t.events()


def test_text_and_folder(env, mlab):
    t = start_share(env, mlab, "--text", "wifi: <b>hunter2</b>")
    assert fetch(t).body == b"wifi: <b>hunter2</b>"
    page = fetch(t, None, "-H", "Accept: text/html").body.decode()
    assert "wifi: &lt;b&gt;hunter2&lt;/b&gt;" in page and "Verified end-to-end" in page
    assert t.fingerprint in page
    t.proc.stop()

    folder = mlab.mkdir("album")
    open(os.path.join(folder, "a.txt"), "w").write("a\n")
    t = start_share(env, mlab, folder)
    r = fetch(t)
    with tarfile.open(fileobj=io.BytesIO(r.body)) as tar:
        assert tar.extractfile("album/a.txt").read() == b"a\n"
    t.proc.stop()


def test_bad_arguments(env, mlab):
    r = env.agent.run("share")
    assert r.returncode == 2 and "missing FILE, DIR, - (standard input) or --text" in r.stderr
    r = env.agent.run("share", "x", "--expires", "soon")
    assert r.returncode == 2 and "not a duration" in r.stderr
    r = env.agent.run("share", mlab.path("nope"))
    assert r.returncode == 2 and "is not a file or folder" in r.stderr
