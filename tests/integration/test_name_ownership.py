"""A name belongs to its owner (issue 8 §1, docs/protocol.md §6).

The owner binds `demo` with the real CLI; a second API key's hand-written control channel
(tests/abuse/abuselab.py's RawAgent) asks for `demo` in a loop while the owner stops, comes back,
and while the relay restarts. The second key never gets the name and every refusal says why.
Then the reservation ends the two ways it may: the operator releases it, or it lapses after the
relay's --name-expiry (a hidden seconds variant makes that testable)."""
import json
import re
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "abuse"))
from abuselab import AgentRefused, RawAgent  # noqa: E402
from nfltrlab import Agent, Relay, curl_tunnel, relay_bin, wait_until  # noqa: E402

RECONNECT_DEADLINE = 90
NAME_TAKEN = 4


class Squatter(threading.Thread):
    """A second API key asking for one name over and over, reconnecting when the relay goes.
    Records every answer: the host it was BOUND to, or the refusal (code, message)."""

    def __init__(self, relay, key, name, pause=0.02):
        super().__init__(daemon=True)
        self.relay, self.key, self.name, self.pause = relay, key, name, pause
        self.bound, self.refusals, self.errors = [], [], []
        self.stopping = threading.Event()
        self.attempts = 0

    def run(self):
        agent = None
        request_id = 0
        while not self.stopping.is_set():
            try:
                if agent is None:
                    agent = RawAgent(self.relay.port, timeout=5)
                    agent.hello(self.key)
                request_id += 1
                self.attempts += 1
                self.bound.append(agent.bind(self.name, request_id=request_id))
            except AgentRefused as exc:
                self.refusals.append((exc.code, exc.message))
            except (OSError, ConnectionError, AssertionError) as exc:
                # The relay is down or restarting: try again shortly.
                self.errors.append(repr(exc))
                if agent is not None:
                    agent.vanish()
                agent = None
                time.sleep(0.1)   # the relay is down or restarting: retry, as an attacker would
            time.sleep(self.pause)   # the squatter's pace: a BIND every ~20 ms, on purpose
        if agent is not None:
            agent.close()

    def stop(self):
        self.stopping.set()
        self.join(20)

    def refusals_since(self, n):
        return self.refusals[n:]

    def wait_refused(self, n, what):
        """Waits for n more refusals; fails at once if the name was given away meanwhile."""
        target = len(self.refusals) + n
        wait_until(lambda: self.bound or len(self.refusals) >= target, 30, what)
        assert not self.bound, f"the second key got the name: {self.bound}"


def names_cmd(relay, *args):
    return subprocess.run([relay_bin(), "names", *args, "--data-dir", relay.data_dir],
                          env=relay.lab.env(), capture_output=True, text=True, timeout=30)


def assert_refused_as_reserved(squatter):
    assert not squatter.bound, f"the second key got the name: {squatter.bound}"
    assert squatter.refusals, "the second key was never answered"
    for code, message in squatter.refusals:
        assert code == NAME_TAKEN, (code, message)
        assert "reserved for its owner" in message or "taken by another agent" in message, message


def test_second_key_never_gets_the_name(lab, relay, agent, origin):
    owner_key = relay.create_key("owner")
    agent.login(relay, owner_key)
    tunnel = agent.http(origin.port, "--name", "demo")
    assert tunnel.host.startswith("demo.")

    squatter = Squatter(relay, relay.create_key("squatter"), "demo")
    squatter.start()
    try:
        squatter.wait_refused(5, "the squatter to be refused a few times")

        # The owner goes (Ctrl-C): the name is unused, and stays the owner's.
        tunnel.proc.stop(signal.SIGINT)
        relay.wait_log(r"unbound demo\.", 20)
        seen = len(squatter.refusals)
        squatter.wait_refused(20, "the squatter to try while the owner is away")
        reserved = [m for _, m in squatter.refusals_since(seen) if "reserved for its owner" in m]
        assert reserved, squatter.refusals_since(seen)
        assert "until 20" in reserved[-1], reserved[-1]   # says until when
        assert not squatter.bound

        # The owner comes back and gets its name.
        tunnel = agent.http(origin.port, "--name", "demo")
        assert tunnel.host.startswith("demo.")
        assert curl_tunnel(tunnel, "/owner-back").status == 200

        # The relay restarts: the owner's agent reconnects and gets it back, the squatter,
        # racing it, does not.
        for how in (signal.SIGTERM, signal.SIGKILL):
            relay.stop(how)
            seen = len(squatter.refusals)
            relay.start()

            def serves():
                r = curl_tunnel(tunnel, "/after-restart", timeout=5)
                return r.curl_rc == 0 and r.status == 200

            wait_until(serves, RECONNECT_DEADLINE, "the owner's tunnel to serve after the restart",
                       interval=0.5)
            # The squatter reconnects within 0.1 s, the owner's agent after its backoff: the
            # squatter asked while the name was free in memory, and the store said no.
            assert any("reserved for its owner" in m for _, m in squatter.refusals_since(seen)), \
                squatter.refusals_since(seen)[:5]
            assert not squatter.bound, squatter.bound
        squatter.wait_refused(5, "the squatter to keep trying")
    finally:
        squatter.stop()
    assert_refused_as_reserved(squatter)
    assert any(q["path"] == "/after-restart" for q in origin.requests)

    # The operator sees who owns it.
    r = names_cmd(relay, "list")
    assert r.returncode == 0, r.stderr
    line = next(l for l in r.stdout.splitlines() if l.startswith("demo "))
    assert "(owner)" in line and "in use" in line, r.stdout
    r = names_cmd(relay, "list", "--json")
    assert r.returncode == 0, r.stderr
    entry = next(e for e in json.loads(r.stdout) if e["name"] == "demo")
    assert entry["owner_kind"] == "key" and entry["owner_label"] == "owner" and entry["in_use"], entry

    # `nfltr release`: refused while this agent serves the name, and for another key; after the
    # owner's release the second key can take it.
    r = agent.run("release", "demo")
    assert r.returncode != 0 and "remove it first" in r.stderr, (r.returncode, r.stdout, r.stderr)
    tunnel.proc.stop(signal.SIGINT)
    relay.wait_log(r"unbound demo\.", 20)
    other = Agent(lab, "other")
    other.login(relay, squatter.key)
    # The second key through the real CLI, while the name is reserved: refused.
    r = other.run("http", str(origin.port), "--name", "demo", timeout=60)
    assert r.returncode != 0 and "demo" in r.stderr, (r.returncode, r.stdout, r.stderr)
    # ... and told why: reserved for another user, until when.
    assert "keeps the name" in r.stderr and "reserved for its owner" in r.stderr and "until" in r.stderr, \
        r.stderr
    r = other.run("release", "demo")
    assert r.returncode != 0 and "reserved for another owner" in r.stderr, (r.returncode, r.stderr)
    r = agent.run("release", "demo")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "Released" in r.stdout, r.stdout
    assert "demo " not in names_cmd(relay, "list").stdout
    taken = other.http(origin.port, "--name", "demo")
    assert taken.host.startswith("demo.")


def test_operator_release_frees_an_unused_name(lab, relay):
    owner_key, other_key = relay.create_key("owner"), relay.create_key("other")
    owner = RawAgent(relay.port)
    owner.hello(owner_key)
    owner.bind("kept")
    owner.close()
    relay.wait_log(r"unbound kept\.", 20)

    other = RawAgent(relay.port)
    other.hello(other_key)
    with pytest.raises(AgentRefused) as refused:
        other.bind("kept")
    assert refused.value.code == NAME_TAKEN and "reserved for its owner" in refused.value.message

    r = names_cmd(relay, "release", "kept")
    assert r.returncode == 0, r.stderr
    assert other.bind("kept", request_id=2).startswith("kept.")
    r = names_cmd(relay, "release", "nosuchname")
    assert r.returncode == 1 and "not reserved" in r.stderr, r.stderr
    other.close()


def test_unused_name_lapses_after_expiry(lab):
    relay = Relay(lab, extra_args=["--name-expiry-seconds", "3"]).start()
    owner_key, other_key = relay.create_key("owner"), relay.create_key("other")
    owner = RawAgent(relay.port)
    owner.hello(owner_key)
    owner.bind("brief")
    owner.close()
    relay.wait_log(r"unbound brief\.", 20)
    gone = time.monotonic()

    other = RawAgent(relay.port)
    other.hello(other_key)
    with pytest.raises(AgentRefused) as refused:
        other.bind("brief")
    assert "reserved for its owner" in refused.value.message and "until" in refused.value.message
    # One whole second of slack past the expiry (the store counts in seconds).
    time.sleep(max(0.0, gone + 4.5 - time.monotonic()))
    assert other.bind("brief", request_id=2).startswith("brief.")
    other.close()


def key_id(relay, label):
    listing = relay.keys("list")
    assert listing.returncode == 0, listing.stderr
    ids = [line.split()[0] for line in listing.stdout.splitlines()
           if len(line.split()) > 1 and line.split()[1] == label]
    assert len(ids) == 1, listing.stdout
    return ids[0]


def test_rotated_key_keeps_the_names(lab):
    """`nfltr-relay keys rotate ID`: the user whose key was revoked (or leaked) gets a new key
    that keeps their names; the old key is revoked and cut; nobody else got the names meanwhile."""
    # The raw agents here answer nothing but BIND: no proof checks (their CONN_OPEN) in between.
    relay = Relay(lab, extra_args=["--proof-interval", "0"]).start()
    owner_key, other_key = relay.create_key("owner"), relay.create_key("other")
    owner = RawAgent(relay.port)
    owner.hello(owner_key)
    owner.bind("mine")
    owner.bind("alsomine", request_id=2)

    # The operator revokes the key (it leaked): the live agent is cut, the names stay reserved.
    r = relay.keys("revoke", key_id(relay, "owner"))
    assert r.returncode == 0, r.stderr
    assert "keys rotate" in r.stdout, r.stdout    # the revoke says how to give the names back
    with pytest.raises((AgentRefused, ConnectionError, OSError)):
        while True:
            owner.recv_frame(timeout=15)
    relay.wait_log(r"unbound mine\.", 20)
    other = RawAgent(relay.port)
    other.hello(other_key)
    with pytest.raises(AgentRefused) as refused:
        other.bind("mine")
    assert refused.value.code == NAME_TAKEN and "reserved for its owner" in refused.value.message

    # Rotate: a new key, shown once, which owns both names; the old key stays refused.
    r = relay.keys("rotate", key_id(relay, "owner"), "--name", "owner-2")
    assert r.returncode == 0, r.stderr
    new_key = r.stdout.strip()
    assert new_key and new_key != owner_key and "\n" not in new_key, r.stdout
    assert "2 names moved" in r.stderr and "revoked" in r.stderr, r.stderr
    listing = relay.keys("list").stdout
    assert re.search(r"^\d+\s+owner\s.*revoked", listing, re.M), listing
    assert re.search(r"^\d+\s+owner-2\s.*active", listing, re.M), listing
    entry = {e["name"]: e for e in json.loads(names_cmd(relay, "list", "--json").stdout)}
    assert entry["mine"]["owner_label"] == "owner-2" and entry["alsomine"]["owner_label"] == "owner-2"

    rotated = RawAgent(relay.port)
    rotated.hello(new_key)
    assert rotated.bind("mine", request_id=3).startswith("mine.")
    assert rotated.bind("alsomine", request_id=4).startswith("alsomine.")
    with pytest.raises(AgentRefused):
        RawAgent(relay.port).hello(owner_key)
    with pytest.raises(AgentRefused) as refused:
        other.bind("alsomine", request_id=5)
    assert refused.value.code == NAME_TAKEN
    rotated.close()
    other.close()

    # Bad input: no such key, not a number.
    r = relay.keys("rotate", "9999")
    assert r.returncode == 1 and "no API key with id 9999" in r.stderr, r.stderr
    r = relay.keys("rotate", "owner")
    assert r.returncode == 2 and "is not a key id" in r.stderr, r.stderr
