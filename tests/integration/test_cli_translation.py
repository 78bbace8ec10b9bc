"""The CLI in German (issue #18): nfltr's own messages come from the catalog built from
po/de.po (the build tree's po/, as nfltr-app uses it), while --json output stays English and
machine-readable, and English stays exactly as it was.

Two ways a user gets German: LANGUAGE=de over a UTF-8 locale that is not German (C.UTF-8,
which every machine has; gettext ignores LANGUAGE only in the plain C locale), and
LANG=de_DE.UTF-8 with the locale compiled by the test into its own directory (localedef +
LOCPATH, as tests/app/test_app_translation.py does), so nothing on the machine changes."""
import json
import os
import subprocess

import pytest

from nfltrlab import DOMAIN, Agent, nfltr_bin

GERMAN = {"LANGUAGE": "de"}


class GermanAgent(Agent):
    """An agent whose nfltr runs with extra locale variables (over the lab's LC_ALL=C.UTF-8)."""

    def env(self):
        return {**super().env(), **GERMAN}


def run_nfltr(lab, *args, **env):
    """`nfltr ARGS` without a service (usage errors, help without kinds)."""
    return subprocess.run([nfltr_bin(), *args], env=lab.env(**env), capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)


@pytest.fixture
def de_locale(lab):
    """LC_ALL/LANG=de_DE.UTF-8, compiled into the lab: the environment of a German desktop."""
    locdir = lab.mkdir("locale")
    subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8",
                    os.path.join(locdir, "de_DE.UTF-8")],
                   check=True, capture_output=True, timeout=120)
    return {"LOCPATH": locdir, "LC_ALL": "de_DE.UTF-8", "LANG": "de_DE.UTF-8",
            "LANGUAGE": None}


def test_usage_error_in_german(lab):
    r = run_nfltr(lab, "login", **GERMAN)
    assert r.returncode == 2, r
    assert r.stderr == ("nfltr: --relay HOST:PORT fehlt\n"
                        "Versuchen Sie „nfltr login --help“.\n"), r.stderr

    r = run_nfltr(lab, "lgin", **GERMAN)
    assert r.returncode == 2, r
    assert r.stderr == ("nfltr: unbekannter Befehl „lgin“\n"
                        "Meinten Sie „nfltr login“?\n"
                        "„nfltr help“ zeigt die Liste der Befehle.\n"), r.stderr


def test_english_is_unchanged(lab):
    """Without a German setting nothing changes: the other tests match these words."""
    r = run_nfltr(lab, "login")
    assert r.returncode == 2, r
    assert r.stderr == "nfltr: missing --relay HOST:PORT\nTry “nfltr login --help”.\n", r.stderr
    r = run_nfltr(lab, "http", "3000", "--e2ee=maybe")
    assert r.returncode == 2, r
    assert r.stderr.startswith("nfltr: --e2ee takes true or false, not “maybe”\n"), r.stderr


def test_german_desktop_locale(lab, de_locale):
    r = run_nfltr(lab, **de_locale)
    assert r.returncode == 2, r
    assert r.stderr.startswith("Aufruf: nfltr COMMAND [ARGUMENTS…]\n"), r.stderr
    assert "\nBefehle:\n" in r.stderr and "Alle Tunnel auflisten" in r.stderr, r.stderr
    # GOption's --help: our option descriptions through our domain.
    r = run_nfltr(lab, "http", "--help", **de_locale)
    assert r.returncode == 0, r
    assert "Ende-zu-Ende-Verschlüsselung (Vorgabe: true)" in r.stdout, r.stdout
    assert "Beispiele:\n  nfltr http 3000\n" in r.stdout, r.stdout


def test_service_lines_german_json_english(lab, relay, origin):
    agent = GermanAgent(lab, "de")
    r = agent.login(relay)
    assert f"Das Relay {relay.address} weist sich mit dem Zertifikat sha256:" in r.stdout, r.stdout
    assert f"Bei {relay.address} angemeldet — Fingerabdruck festgelegt" in r.stdout, r.stdout

    r = agent.run("list")
    assert r.returncode == 0 and r.stdout == "Keine Tunnel. Starten Sie einen mit „nfltr http PORT“.\n", r

    # The JSON events of a tunnel are an API: English keys and values in any language.
    t = agent.http(origin.port, "--name", "hallo")
    assert t.mode == "verified" and t.ready["kind"] == "http", t.ready
    assert t.url.startswith(f"https://hallo.{DOMAIN}"), t.ready

    r = agent.run("list", "--json")
    assert r.returncode == 0, r
    [tunnel] = json.loads(r.stdout)
    assert {"id", "name", "kind", "target", "url", "mode", "fingerprint", "state", "last_error",
            "transient", "active_connections", "total_connections", "bytes_in", "bytes_out",
            "online_since"} <= set(tunnel), tunnel
    assert (tunnel["name"], tunnel["kind"], tunnel["mode"], tunnel["state"]) == \
        ("hallo", "http", "verified", "online"), tunnel

    r = agent.run("list")
    assert r.returncode == 0, r
    header, row = r.stdout.splitlines()
    assert header.split() == ["NAME", "QUELLE", "ZUSTAND", "URL", "ART", "ZIEL", "MODUS",
                              "VERBINDUNGEN", "EMPFANGEN", "GESENDET"], r.stdout
    assert row.split()[:3] == ["hallo", "Terminal", "online"], r.stdout

    r = agent.run("status", "--json")
    assert r.returncode == 0, r
    status = json.loads(r.stdout)
    assert status["service"] == "bus" and status["state"] == "connected", status
    assert status["relay"] == relay.address and status["tunnels"] == 1, status

    r = agent.run("status")
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    # The lab's bus is named by $NFLTR_SERVICE_BUS_ADDRESS.
    assert lines[0].startswith("Dienst:        ") and \
        lines[0].endswith("(Bus $NFLTR_SERVICE_BUS_ADDRESS)"), lines
    assert f"Relay:         {relay.address}" in lines, lines
    assert "Zustand:       connected" in lines, lines
    assert "Tunnel:        1" in lines, lines
    # Every value starts in the same column.
    assert {len(line) - len(line.split(":", 1)[1].lstrip()) for line in lines} == {15}, lines
