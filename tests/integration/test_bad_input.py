"""Bad input: each gets a clear message on stderr and a non-zero exit (issue #2), and no
tunnel is left behind. The message must name what is wrong (the port, the file, the relay,
the key, the name), not only fail."""
import os
import re
import subprocess

import pytest

from nfltrlab import (DOMAIN, Agent, curl_tunnel, der_fingerprint, free_port, pem_to_der,
                      relay_bin, served_cert_pem)


@pytest.fixture(scope="module")
def env(shared_tunnel):
    return shared_tunnel


@pytest.fixture(scope="module")
def certs(mlab):
    """Two ECDSA P-256 pairs made by openssl: (cert1, key1, cert2, key2), plus junk."""
    out = {}
    for n in (1, 2):
        cert, key = mlab.path(f"user{n}.crt"), mlab.path(f"user{n}.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", f"/CN=user{n}.{DOMAIN}"],
                       check=True, capture_output=True)
        out[f"cert{n}"], out[f"key{n}"] = cert, key
    out["junk"] = mlab.path("junk.pem")
    with open(out["junk"], "w") as f:
        f.write("this is not a PEM file\n")
    out["missing"] = mlab.path("no-such-dir", "missing.pem")
    return out


def assert_clear_failure(r, *patterns):
    """Non-zero exit, a message on stderr matching every pattern (case-insensitive), and no
    sign of a crash or a programmer's message instead of a user's."""
    assert r.returncode != 0, f"exit 0 for bad input; stdout={r.stdout!r} stderr={r.stderr!r}"
    assert r.returncode < 128, f"killed by signal {r.returncode - 128}: {r.stderr}"
    err = r.stderr.strip()
    assert err, f"no message on stderr (stdout={r.stdout!r})"
    for pat in patterns:
        assert re.search(pat, err, re.I), f"stderr does not match {pat!r}: {err!r}"
    for bad in ("CRITICAL", "(null)", "assertion", "Traceback", "g_variant"):
        assert bad not in err, f"stderr shows {bad!r}: {err!r}"
    assert '"event":"ready"' not in r.stdout.replace(" ", ""), \
        f"a ready line was printed for bad input: {r.stdout!r}"


def tunnel_count(agent):
    r = agent.run("list")
    assert r.returncode == 0, r.stderr
    return r.stdout.count(DOMAIN)


@pytest.mark.parametrize("kind,target,bad", [
    ("http", "70000", "70000"),
    ("http", "65536", "65536"),
    ("http", "0", r"\b0\b"),
    ("tcp", "127.0.0.1:99999", "99999"),
])
def test_port_out_of_range(env, kind, target, bad):
    before = tunnel_count(env.agent)
    r = env.agent.run(kind, target)
    assert_clear_failure(r, r"port", bad)
    assert tunnel_count(env.agent) == before


@pytest.mark.parametrize("which", ["missing", "junk"])
def test_unreadable_certificate(env, certs, which):
    r = env.agent.run("http", str(env.origin.port), "--e2ee-cert", certs[which],
                      "--e2ee-key", certs["key1"])
    assert_clear_failure(r, re.escape(certs[which]))


@pytest.mark.parametrize("which", ["missing", "junk"])
def test_unreadable_key(env, certs, which):
    r = env.agent.run("http", str(env.origin.port), "--e2ee-cert", certs["cert1"],
                      "--e2ee-key", certs[which])
    assert_clear_failure(r, re.escape(certs[which]))


def test_key_not_matching_certificate(env, certs):
    r = env.agent.run("http", str(env.origin.port), "--e2ee-cert", certs["cert1"],
                      "--e2ee-key", certs["key2"])
    assert_clear_failure(r, r"match")


def test_own_certificate_is_served(env, certs):
    """The good case next to the bad ones: --e2ee-cert/--e2ee-key of a matching pair is
    what the public client gets."""
    t = env.agent.http(env.origin.port, "--e2ee-cert", certs["cert1"], "--e2ee-key",
                       certs["key1"])
    with open(certs["cert1"]) as f:
        mine = der_fingerprint(pem_to_der(f.read()))
    assert t.fingerprint == mine
    assert der_fingerprint(pem_to_der(served_cert_pem(t.host, t.port))) == mine
    t.proc.stop()


@pytest.mark.parametrize("command", ["serve", "keys", "fingerprint"])
def test_relay_unknown_option(lab, command):
    r = subprocess.run([relay_bin(), command, "--no-such-option"], capture_output=True, text=True,
                       timeout=30, env=lab.env(XDG_DATA_HOME=lab.mkdir("data")))
    assert r.returncode == 2, r
    assert_clear_failure(r, rf"^nfltr-relay {command}: .*--no-such-option")


def test_relay_commands_share_the_default_data_dir(lab):
    """Without --data-dir, keys and fingerprint both use $XDG_DATA_HOME/nfltr-relay."""
    env = lab.env(XDG_DATA_HOME=lab.mkdir("data"))
    keys = subprocess.run([relay_bin(), "keys", "list"], capture_output=True, text=True,
                          timeout=30, env=env)
    assert keys.returncode == 0, keys
    fp = subprocess.run([relay_bin(), "fingerprint"], capture_output=True, text=True, timeout=30,
                        env=env)
    assert fp.returncode == 0 and fp.stdout.startswith("sha256:"), fp
    assert sorted(os.listdir(lab.path("data", "nfltr-relay"))) == \
        ["relay.crt", "relay.db", "relay.key"]


def test_relay_unreachable(mlab):
    agent = Agent(mlab, "unreachable")
    port = free_port()
    r = agent.run("login", "--relay", f"{DOMAIN}:{port}", "--api-key", "nfk-anything",
                  timeout=45)
    assert_clear_failure(r, rf"{port}|refused|unreachable|connect")


def test_wrong_api_key(env, mlab):
    agent = Agent(mlab, "wrongkey")
    r = agent.run("login", "--relay", env.relay.address, "--fingerprint",
                  env.relay.fingerprint(), env={"NFLTR_API_KEY": "not-a-key-this-relay-issued"})
    assert_clear_failure(r, r"api.?key|auth|rejected|invalid|unknown|revoked")


def test_http_before_login(mlab):
    agent = Agent(mlab, "nologin")
    r = agent.run("http", "3000")
    assert_clear_failure(r, r"log ?in")


def test_name_already_taken(env, mlab):
    first = env.agent.http(env.origin.port, "--name", "same")
    assert first.host == f"same.{DOMAIN}", first.url
    other = Agent(mlab, "second")     # its own HOME, agent id and private bus
    other.login(env.relay)
    r = other.run("http", str(env.origin.port), "--name", "same")
    assert_clear_failure(r, r"taken|in use|already")
    assert "same" in r.stderr
    # The first agent still holds it and serves.
    assert first.proc.alive()
    res = curl_tunnel(first, "/still-mine")
    assert res.status == 200, res
    first.proc.stop()
