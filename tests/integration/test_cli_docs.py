"""The man pages and shell completions that meson builds and installs (docs/cli/) cover every
command and option the binaries offer, render without groff warnings, load in bash, zsh and
fish, and complete what a user types. The systemd unit's Documentation= names pages that exist."""
import json
import os
import re
import subprocess

import pytest

from nfltrlab import BUILD_ROOT, binary, nfltr_bin as cli_bin, relay_bin

SOURCE_ROOT = os.environ.get("NFLTR_SOURCE_ROOT", "")
DOCS = os.path.join(BUILD_ROOT, "docs", "cli")
ENV = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8", LANGUAGE="C",
           DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent")
OPTION = re.compile(r"^\s+(?:-\w, )?(--[\w-]+)", re.M)


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=60)


def commands(binary, top):
    out, block = [], False
    for line in top.splitlines():
        if line.startswith("Commands:"):
            block = True
        elif block and not line.strip():
            break
        elif block and re.match(r"^  [a-z]", line):
            out.append(line.split()[0])
    return out


def man_text(page):
    r = subprocess.run(["man", "-l", "-P", "cat", os.path.join(DOCS, page)],
                       capture_output=True, text=True, env=dict(ENV, MANWIDTH="200"), timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("page", ["nfltr.1", "nfltr-relay.1", "nfltr-service.1"])
def test_man_page_renders_without_warnings(page):
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", os.path.join(DOCS, page)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    text = man_text(page)
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"):
        assert re.search(rf"^{section}$", text, re.M), (section, text[:2000])


@pytest.mark.parametrize("binary,page,list_args", [
    (cli_bin, "nfltr.1", ["help"]),
    (relay_bin, "nfltr-relay.1", ["--help"]),
])
def test_man_page_has_every_command_and_option(binary, page, list_args):
    text = man_text(page)
    cmds = [c for c in commands(binary(), run(binary(), *list_args).stdout) if c != "help"]
    assert len(cmds) >= 4, cmds
    for cmd in cmds:
        assert re.search(rf"^   {cmd}\b", text, re.M), f"{page} has no section for {cmd}"
        for opt in OPTION.findall(run(binary(), cmd, "--help").stdout):
            if opt != "--help":
                assert opt in text, f"{page}: {cmd} {opt} is missing"


def test_service_man_page_has_its_options():
    text = man_text("nfltr-service.1")
    for opt in OPTION.findall(run(binary("service/nfltr-service"),
                                  "--help").stdout):
        if opt != "--help":
            assert opt in text, opt


def bash_complete(words):
    script = os.path.join(DOCS, "nfltr")
    line = " ".join(words)
    prog = (f'source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; '
            f'_nfltr; printf "%s\\n" "${{COMPREPLY[@]}}"')
    r = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_bash_completes_commands_and_options():
    cmds = commands(cli_bin(), run(cli_bin(), "help").stdout)
    got = bash_complete(["nfltr", "''"])
    for cmd in cmds:
        assert cmd in got, (cmd, got)
    assert bash_complete(["nfltr", "rel"]) == ["release"]
    got = bash_complete(["nfltr", "http", "--na"])
    assert got == ["--name"], got
    got = bash_complete(["nfltr", "login", "--"])
    for opt in OPTION.findall(run(cli_bin(), "login", "--help").stdout):
        assert opt in got, (opt, got)


def test_zsh_and_fish_load_the_completions():
    for name in ("_nfltr", "_nfltr-relay"):
        r = subprocess.run(["zsh", "-n", os.path.join(DOCS, name)], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, (name, r.stderr)
    for name in ("nfltr.fish", "nfltr-relay.fish"):
        r = subprocess.run(["fish", "--no-execute", os.path.join(DOCS, name)],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, (name, r.stderr)
    # fish answers for real: the commands after `nfltr `
    r = subprocess.run(["fish", "-c", f"source {os.path.join(DOCS, 'nfltr.fish')}; "
                        "complete -C 'nfltr '"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    offered = [line.split("\t")[0] for line in r.stdout.splitlines()]
    for cmd in ("login", "http", "tcp", "list", "release"):
        assert cmd in offered, (cmd, offered)


def test_meson_installs_pages_and_completions():
    r = subprocess.run(["meson", "introspect", BUILD_ROOT, "--installed"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    installed = list(json.loads(r.stdout).values())
    for tail in ("man1/nfltr.1", "man1/nfltr-relay.1", "man1/nfltr-service.1",
                 "bash-completion/completions/nfltr", "zsh/site-functions/_nfltr",
                 "fish/vendor_completions.d/nfltr.fish"):
        assert any(p.endswith(tail) for p in installed), (tail, installed)


def test_systemd_unit_documentation_names_real_pages():
    unit = open(os.path.join(BUILD_ROOT, "data", "nfltr-service.service")).read()
    docs = re.search(r"^Documentation=(.*)$", unit, re.M).group(1).split()
    assert docs, unit
    for ref in docs:
        m = re.fullmatch(r"man:([\w.-]+)\((\d)\)", ref)
        assert m, ref
        assert os.path.exists(os.path.join(DOCS, f"{m.group(1)}.{m.group(2)}")), ref
