"""A first login you can trust (issue 8 §5).

- `nfltr login` never sends the API key to a relay nobody confirmed: at a terminal it shows the
  fingerprint and asks; without one it needs --fingerprint or an explicit --trust-on-first-use.
- A relay whose certificate changed since it was pinned is refused loudly, as ssh does, until
  its new fingerprint is given; the service refuses a trust-on-first-use Login for it too.
- The key comes from a file, standard input or $NFLTR_API_KEY; --api-key still works but warns
  that other users see it in ps.

"Not sent" is checked where it would show: the relay logs every agent that says HELLO with a
key ("agent … connected"), and the service pins nothing.
"""
import json
import os
import pty
import re
import select
import subprocess
import time

from nfltrlab import Relay, nfltr_bin, wait_until


def status(agent):
    r = agent.run("status", "--json")
    assert r.returncode == 0, r
    return json.loads(r.stdout)


def agents_connected(relay):
    return len(re.findall(r"agent \S+ connected from", relay.log()))


def test_unconfirmed_relay_gets_no_key(lab, relay, agent):
    key = relay.create_key()
    r = agent.run("login", "--relay", relay.address, env={"NFLTR_API_KEY": key})
    assert r.returncode == 1, r
    # The user is shown what to check, and how to go on.
    fp = relay.fingerprint()
    assert f"presents certificate {fp}" in r.stdout, r.stdout
    assert "not sending the API key" in r.stderr, r.stderr
    assert f"--fingerprint {fp}" in r.stderr and "--trust-on-first-use" in r.stderr, r.stderr
    # Nothing reached the relay but the credential-less probe, and nothing was pinned.
    assert agents_connected(relay) == 0, relay.log()
    assert status(agent).get("fingerprint", "") == "", status(agent)


def test_trust_on_first_use_is_explicit(lab, relay, agent):
    key = relay.create_key()
    r = agent.run("login", "--relay", relay.address, "--trust-on-first-use",
                  env={"NFLTR_API_KEY": key})
    assert r.returncode == 0, r
    assert "--trust-on-first-use: trusting this certificate" in r.stdout, r.stdout
    assert status(agent)["fingerprint"] == relay.fingerprint()
    # --fingerprint and --trust-on-first-use do not go together.
    r = agent.run("login", "--relay", relay.address, "--trust-on-first-use", "--fingerprint",
                  relay.fingerprint(), env={"NFLTR_API_KEY": key})
    assert r.returncode == 2 and "exclude each other" in r.stderr, r


def test_changed_certificate_is_refused_until_confirmed(lab, relay, agent):
    key = relay.create_key()
    agent.login(relay, api_key=key)
    old = relay.fingerprint()
    relay.stop()
    # Same address, another certificate: a man in the middle, or a relay remade.
    impostor = Relay(lab, name="impostor", port=relay.port).start()
    new = impostor.fingerprint()
    assert new != old

    for extra in ([], ["--trust-on-first-use"]):
        r = agent.run("login", "--relay", relay.address, *extra, env={"NFLTR_API_KEY": key})
        assert r.returncode == 1, r
        assert "THE RELAY'S CERTIFICATE HAS CHANGED" in r.stderr, r.stderr
        assert f"pinned:    {old}" in r.stderr and f"presented: {new}" in r.stderr, r.stderr
        assert f"--fingerprint {new}" in r.stderr, r.stderr
    assert agents_connected(impostor) == 0, impostor.log()
    assert status(agent)["fingerprint"] == old

    # A client of the D-Bus API that asks for trust on first use (expected "") is refused too.
    r = subprocess.run(["gdbus", "call", "--address", agent.bus.address,
                        "--dest", "xyz.nfltr.Nfltr.Service", "--object-path", "/xyz/nfltr/Nfltr",
                        "--method", "xyz.nfltr.Nfltr.Manager.Login", relay.address, key, ""],
                       env=agent.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode != 0, r.stdout
    assert "FingerprintMismatch" in r.stderr and new in r.stderr and old in r.stderr, r.stderr
    assert agents_connected(impostor) == 0, impostor.log()

    # Confirming the new fingerprint is what replaces the pin.
    r = agent.run("login", "--relay", relay.address, "--fingerprint", new,
                  env={"NFLTR_API_KEY": impostor.create_key()})
    assert r.returncode == 0, r
    assert status(agent)["fingerprint"] == new


class Terminal:
    """`nfltr ARGS` with a pseudo-terminal for stdin and stdout, as a person runs it."""

    def __init__(self, agent, *args, env=None):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([nfltr_bin(), *args], env={**agent.env(), **(env or {})},
                                     stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                                     close_fds=True)
        os.close(slave)
        self.out = b""

    def expect(self, text, timeout=60):
        end = time.monotonic() + timeout
        while text.encode() not in self.out:
            left = end - time.monotonic()
            assert left > 0, f"{text!r} not shown; the terminal shows {self.out!r}"
            if select.select([self.master], [], [], left)[0]:
                try:
                    self.out += os.read(self.master, 4096)
                except OSError:
                    break
        assert text.encode() in self.out, f"{text!r} not shown; the terminal shows {self.out!r}"

    def type(self, line):
        os.write(self.master, line.encode() + b"\n")

    def finish(self, timeout=60):
        rc = self.proc.wait(timeout)
        try:
            while select.select([self.master], [], [], 0.2)[0]:
                self.out += os.read(self.master, 4096)
        except OSError:
            pass
        os.close(self.master)
        return rc, self.out.decode(errors="replace"), self.proc.stderr.read().decode()


def test_terminal_asks_before_sending_the_key(lab, relay, agent):
    key = relay.create_key()
    fp = relay.fingerprint()

    t = Terminal(agent, "login", "--relay", relay.address, env={"NFLTR_API_KEY": key})
    t.expect(f"presents certificate {fp}")
    t.expect("Trust this certificate and log in? [y/N] ")
    t.type("n")
    rc, out, err = t.finish()
    assert rc == 1 and "the API key was not sent" in err, (rc, out, err)
    assert agents_connected(relay) == 0, relay.log()

    # Yes, then the key typed at the prompt (not echoed).
    t = Terminal(agent, "login", "--relay", relay.address)
    t.expect("Trust this certificate and log in? [y/N] ")
    t.type("y")
    t.expect("API key: ")
    t.type(key)
    rc, out, err = t.finish()
    assert rc == 0, (rc, out, err)
    assert key not in out, out
    assert "Logged in to" in out, out
    assert status(agent)["fingerprint"] == fp


def test_api_key_sources(lab, relay, agent, tmp_path):
    fp = relay.fingerprint()
    key_file = tmp_path / "key"
    key_file.write_text(relay.create_key() + "\n")
    r = agent.run("login", "--relay", relay.address, "--fingerprint", fp,
                  "--api-key-file", str(key_file))
    assert r.returncode == 0 and r.stderr == "", r
    wait_until(lambda: agents_connected(relay) == 1, 10, "the agent with the file's key")

    r = agent.run("login", "--relay", relay.address, "--fingerprint", fp, "--api-key-file", "-",
                  input=relay.create_key() + "\n")
    assert r.returncode == 0 and r.stderr == "", r

    r = agent.run("login", "--relay", relay.address, "--fingerprint", fp,
                  env={"NFLTR_API_KEY": relay.create_key()})
    assert r.returncode == 0 and r.stderr == "", r

    # Still accepted on the command line, with a warning.
    r = agent.run("login", "--relay", relay.address, "--fingerprint", fp, "--api-key",
                  relay.create_key())
    assert r.returncode == 0, r
    assert "warning: --api-key puts the key on the command line" in r.stderr, r.stderr

    # A key the relay did not issue fails as before, whichever way it came.
    key_file.write_text("not-a-key\n")
    r = agent.run("login", "--relay", relay.address, "--fingerprint", fp,
                  "--api-key-file", str(key_file))
    assert r.returncode == 1, r
    # No key at all, and no terminal to ask at: a usage error before anything is contacted.
    r = agent.run("login", "--relay", relay.address, "--fingerprint", fp)
    assert r.returncode == 2 and "missing API key" in r.stderr, r
