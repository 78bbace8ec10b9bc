"""`nfltr help` lists the tunnel kinds without starting a service just to print a help text:
the running service's Manager.Kinds when there is one, else the table of the engine the CLI
carries (the one a service it started would run)."""
from nfltrlab import Agent, tagged_processes


def kinds_section(text):
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("Tunnel kinds"))
    out = []
    for l in lines[start + 1:]:
        if not l.startswith("  "):
            break
        out.append(l.split()[0])
    return out


def test_help_lists_kinds_and_starts_nothing(lab):
    agent = Agent(lab, "help")
    r = agent.run("help")
    assert r.returncode == 0, r.stderr
    assert kinds_section(r.stdout)[:2] == ["http", "tcp"], r.stdout
    assert tagged_processes(lab.tag, "nfltr-service") == [], "nfltr help started a service"


def test_help_asks_a_running_service(lab, relay):
    agent = Agent(lab, "help-running")
    agent.login(relay)                      # starts the service on the agent's bus
    assert tagged_processes(lab.tag, "nfltr-service")
    r = agent.run("help")
    assert r.returncode == 0, r.stderr
    assert kinds_section(r.stdout)[:2] == ["http", "tcp"], r.stdout
