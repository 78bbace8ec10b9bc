"""Fleet tokens (issue 11 item 5): one token enrols many agents, each with a credential of its
own; the token's use count, expiry and name prefix hold; revoking the token stops enrolments
and revoking an enrolled agent cuts its live channel within seconds. Everything through the
real relay, service and CLI (`nfltr login --fleet-token`)."""
import json
import os
import re
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "abuse"))
from abuselab import AgentRefused, RawAgent  # noqa: E402
from nfltrlab import Agent, curl, curl_tunnel, relay_bin, wait_until  # noqa: E402

REVOKE_BOUND_S = 10   # the "within seconds", generously


def relay_cmd(relay, *args):
    return subprocess.run([relay_bin(), *args, "--data-dir", relay.data_dir],
                          env=relay.lab.env(), capture_output=True, text=True, timeout=30)


def create_token(relay, *args):
    r = relay_cmd(relay, "tokens", "create", *args)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert re.fullmatch(r"nfltr_ft_[0-9a-f]{64}", token), r.stdout
    return token


def enrol(agent, relay, token):
    """`nfltr login --fleet-token-file -` as a script does it; CompletedProcess."""
    return agent.run("login", "--relay", relay.address, "--fingerprint", relay.fingerprint(),
                     "--fleet-token-file", "-", input=token + "\n")


def stored_credential(agent):
    path = os.path.join(agent.home, ".config", "nfltr", "credentials")
    with open(path) as f:
        return f.read()


def enrolments(relay):
    r = relay_cmd(relay, "agents", "list")
    assert r.returncode == 0, r.stderr
    return [line.split() for line in r.stdout.splitlines()[1:] if line.strip()]


def test_one_token_enrols_many_each_with_its_own_credential(lab, relay, origin):
    token = create_token(relay, "--name", "web-fleet", "--prefix", "web-", "--max-uses", "5")
    agents = [Agent(lab, f"agent{i}") for i in range(2)]
    for a in agents:
        r = enrol(a, relay, token)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Enrolled" in r.stdout, r.stdout
    creds = [stored_credential(a) for a in agents]
    # Each agent holds its own credential; the token itself is stored nowhere.
    assert all("nfltr_ag_" in c for c in creds), creds
    assert creds[0] != creds[1]
    assert all(token not in c for c in creds)
    rows = enrolments(relay)
    assert len(rows) == 2, rows
    assert all(row[-1] == "active" for row in rows), rows
    listing = relay_cmd(relay, "tokens", "list").stdout
    assert re.search(r"web-fleet\s+web-\s+2/5\s", listing), listing

    # Inside the prefix: served; outside it: refused with a reason that names the prefix.
    t = agents[0].http(origin.port, "--name", "web-one")
    assert curl_tunnel(t, "/fleet").status == 200
    r = agents[1].run("http", str(origin.port), "--name", "db-one", "--json", timeout=60)
    assert r.returncode != 0, r.stdout
    assert re.search(r"prefix.*web-", r.stdout + r.stderr), r.stdout + r.stderr
    assert re.search(r"reason=name-prefix", relay.log()), relay.log()[-2000:]


def test_use_count_and_expiry_enrol_nobody(lab, relay):
    one = create_token(relay, "--max-uses", "1")
    first, second = Agent(lab, "first"), Agent(lab, "second")
    assert enrol(first, relay, one).returncode == 0
    r = enrol(second, relay, one)
    assert r.returncode != 0
    assert re.search(r"used up \(1 of 1", r.stderr), r.stdout + r.stderr

    brief = create_token(relay, "--expires", "1s")
    time.sleep(2.1)   # the token's lifetime is wall-clock seconds: nothing to observe sooner
    r = enrol(Agent(lab, "late"), relay, brief)
    assert r.returncode != 0
    assert "expired" in r.stderr, r.stdout + r.stderr

    revoked = create_token(relay)
    ids = [line.split()[0] for line in relay_cmd(relay, "tokens", "list").stdout.splitlines()[1:]]
    assert relay_cmd(relay, "tokens", "revoke", ids[-1]).returncode == 0
    r = enrol(Agent(lab, "after-revoke"), relay, revoked)
    assert r.returncode != 0
    assert "revoked" in r.stderr, r.stdout + r.stderr
    # Only the one agent that enrolled is known.
    assert len(enrolments(relay)) == 1

    # A fleet token is not a login: a HELLO carrying one is refused (it is exchanged first).
    raw = RawAgent(relay.port)
    with pytest.raises(AgentRefused) as refused:
        raw.hello(create_token(relay))
    assert "fleet token" in refused.value.message
    raw.close()


def test_one_use_token_race_has_one_winner(lab, relay):
    """Eight enrolments race for a 1-use token straight at the API: exactly one wins."""
    token = create_token(relay, "--max-uses", "1")
    results = []

    def post(i):
        body = json.dumps({"token": token, "agent_id": f"{i:032x}"})
        results.append(curl(f"https://nfltr.localhost:{relay.port}/api/v1/enrol", "-k",
                            "-X", "POST", "-H", "Content-Type: application/json",
                            "--data-binary", body, resolve=("nfltr.localhost", relay.port)))

    threads = [threading.Thread(target=post, args=(i + 1,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = sorted(r.status for r in results)
    assert statuses == [200] + [403] * 7, [(r.status, r.body) for r in results]
    assert len(enrolments(relay)) == 1


def test_enrol_refuses_garbage(relay):
    url = f"https://nfltr.localhost:{relay.port}/api/v1/enrol"
    resolve = ("nfltr.localhost", relay.port)
    r = curl(url, "-k", resolve=resolve)
    assert r.status == 405
    r = curl(url, "-k", "-X", "POST", "--data-binary", "{not json", resolve=resolve)
    assert r.status == 400 and b"JSON" in r.body, r.body
    r = curl(url, "-k", "-X", "POST", "--data-binary", json.dumps({"token": "x" * 8000}),
             resolve=resolve)
    assert r.status == 413, r.body


def test_revoked_enrolled_agent_is_cut_within_seconds(lab, relay, origin):
    token = create_token(relay, "--max-uses", "2")
    keep, cut = Agent(lab, "keep"), Agent(lab, "cut")
    assert enrol(keep, relay, token).returncode == 0
    assert enrol(cut, relay, token).returncode == 0
    t_keep = keep.http(origin.port)
    t_cut = cut.http(origin.port)
    assert curl_tunnel(t_cut, "/before").status == 200

    rows = enrolments(relay)
    cut_id = [row[0] for row in rows if row[1] == cut_agent_id(cut)]
    assert len(cut_id) == 1, rows
    start = time.monotonic()
    r = relay_cmd(relay, "agents", "revoke", cut_id[0])
    assert r.returncode == 0, r.stderr

    def cut_off():
        status, _, _ = relay.api(f"/api/v1/tunnels/{t_cut.host}")
        return status == 404

    wait_until(cut_off, REVOKE_BOUND_S, "the revoked agent's tunnel to go", interval=0.2)
    elapsed = time.monotonic() - start
    assert elapsed <= REVOKE_BOUND_S, elapsed
    assert curl_tunnel(t_cut, "/after", timeout=5).status != 200
    assert re.search(r"agent credential was revoked", relay.log()), relay.log()[-2000:]
    # The other agent of the same token is untouched.
    assert curl_tunnel(t_keep, "/still").status == 200
    # And the revoked one stays out, and says why.
    def says_why():
        r = cut.run("status")
        return re.search(r"auth-failed|revoked", r.stdout + r.stderr, re.I)

    wait_until(says_why, 30, "nfltr status to say why", interval=0.5)


def cut_agent_id(agent):
    path = os.path.join(agent.home, ".local", "share", "nfltr", "agent-id")
    with open(path) as f:
        return f.read().strip()
