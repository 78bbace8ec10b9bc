"""Issue 9 §5: tunnels are managed by name from the command line — `nfltr stop`, `start`,
`rm` — and `nfltr list` says which tunnels the service keeps (saved) and which belong to a
`nfltr http` running in a terminal, in 80 columns, with every column under --wide and --json."""
import json
import subprocess

from nfltrlab import curl, wait_until


def create_saved(agent, origin, name):
    """A saved tunnel, as the app makes one: CreateTunnel with transient=false."""
    r = subprocess.run(
        ["gdbus", "call", "--session", "--dest", "xyz.nfltr.Nfltr.Service",
         "--object-path", "/xyz/nfltr/Nfltr", "--method", "xyz.nfltr.Nfltr.Manager.CreateTunnel",
         f"{{'kind': <'http'>, 'target': <'127.0.0.1:{origin.port}'>, 'name': <'{name}'>, "
         "'transient': <false>}"],
        env=agent.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def listed(agent):
    r = agent.run("list", "--json")
    assert r.returncode == 0, r
    return {t["name"]: t for t in json.loads(r.stdout)}


def get(relay, name, path):
    return curl(f"https://{name}.nfltr.localhost:{relay.port}{path}", "-k",
                resolve=(f"{name}.nfltr.localhost", relay.port))


def test_list_stop_start_rm(relay, logged_in, origin):
    agent = logged_in
    create_saved(agent, origin, "kept")
    running = agent.http(origin.port, "--name", "in-a-terminal")

    # 80 columns: each line fits, names, sources and whole URLs are there.
    r = subprocess.run([agent_bin(), "list"], env=dict(agent.env(), COLUMNS="80"),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), r.stdout
    assert lines[0].split()[:4] == ["NAME", "SOURCE", "STATE", "URL"], r.stdout
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["kept"][1] == "saved" and rows["in-a-terminal"][1] == "terminal", r.stdout
    assert f"https://kept.nfltr.localhost:{relay.port}" in rows["kept"], r.stdout
    wide = agent.run("list", "--wide")
    assert all(h in wide.stdout.splitlines()[0] for h in ("TARGET", "MODE", "CONNS", "IN", "OUT"))
    assert listed(agent)["kept"]["transient"] is False

    assert get(relay, "kept", "/before").status == 200

    r = agent.run("stop", "kept")
    assert r.returncode == 0 and "Stopped “kept”" in r.stdout, r
    assert listed(agent)["kept"]["state"] == "stopped"
    assert get(relay, "kept", "/while-stopped").status != 200
    assert not any(q["path"] == "/while-stopped" for q in origin.requests)
    r = agent.run("stop", "kept")
    assert r.returncode == 0 and "already stopped" in r.stdout, r

    r = agent.run("start", "kept")
    assert r.returncode == 0 and "Started “kept”" in r.stdout, r
    wait_until(lambda: listed(agent)["kept"]["state"] == "online", 30, "kept back online")
    assert get(relay, "kept", "/after").status == 200

    # Removing the terminal's tunnel ends the command that ran it.
    r = agent.run("rm", "in-a-terminal")
    assert r.returncode == 0 and "Removed “in-a-terminal”" in r.stdout, r
    assert running.proc.wait_exit(30) is not None
    assert "in-a-terminal" not in listed(agent)

    r = agent.run("rm", "kept")
    assert r.returncode == 0 and "nfltr release kept" in r.stdout, r
    assert listed(agent) == {}


def test_unknown_name_says_how_to_find_names(logged_in):
    for cmd in ("stop", "start", "rm"):
        r = logged_in.run(cmd, "nosuch")
        assert r.returncode == 1, (cmd, r)
        assert "no tunnel is called “nosuch”" in r.stderr and "nfltr list" in r.stderr, r.stderr
    r = logged_in.run("stop")
    assert r.returncode == 2 and "nfltr stop myapp" in r.stderr, r


def agent_bin():
    from nfltrlab import nfltr_bin
    return nfltr_bin()
