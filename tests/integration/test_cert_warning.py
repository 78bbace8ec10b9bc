"""Visitors get a certificate warning, and the publisher is told (issue 9 §1).

Where the URL is shown — `nfltr http`'s lines, its `--json` ready event, `nfltr list --json`
and the D-Bus Tunnel.Certificate property the app reads — the tunnel says what visitors' clients
will make of its certificate, and curl agrees: the generated certificate is refused without
-k (exit 60), a certificate from an authority the system trusts is accepted, and a user's own
certificate that the trust store rejects is flagged with the reason."""
import json
import os
import subprocess

from nfltrlab import DOMAIN, Agent, curl, nfltr_bin

SELF_SIGNED_EXIT = 60   # curl: "SSL peer certificate or SSH remote key was not OK"


def openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r


def make_ca_and_leaf(directory, host):
    """A private CA (standing in for a public one through NFLTR_TRUST_FILE) and a leaf for
    host signed by it; plus a self-made leaf for host that nobody signed."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Test Root",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign", cwd=directory)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", f"/CN={host}", cwd=directory)
    with open(os.path.join(directory, "ext.cnf"), "w") as f:
        f.write(f"subjectAltName=DNS:{host}\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "leaf.crt", "-days", "1", "-extfile", "ext.cnf",
            cwd=directory)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "own.key", "-out", "own.crt", "-days", "1", "-subj", f"/CN={host}",
            "-addext", f"subjectAltName=DNS:{host}", cwd=directory)
    return {n: os.path.join(directory, n) for n in ("ca.crt", "leaf.crt", "leaf.key", "own.crt",
                                                  "own.key")}


def listed(agent, name):
    r = agent.run("list", "--json")
    assert r.returncode == 0, r.stderr
    return next(t for t in json.loads(r.stdout) if t["name"] == name)


def test_generated_certificate_is_flagged_where_the_url_is(lab, relay, agent, origin):
    agent.login(relay)
    t = agent.http(origin.port, "--name", "selfmade")
    assert t.ready["certificate"] == "self-signed", t.ready
    warning = t.ready["certificate_warning"]
    assert "browsers will warn" in warning and "--e2ee-cert" in warning, warning
    assert listed(agent, "selfmade")["certificate"] == "self-signed"
    # curl agrees with the warning: refused without -k.
    r = curl(t.url, resolve=(t.host, t.port))
    assert r.curl_rc == SELF_SIGNED_EXIT, r
    t.proc.stop()

    # The human lines say it under the fingerprint.
    proc = lab.spawn("agent:nfltr-http-plain", [nfltr_bin(), "http", str(origin.port), "--name",
                                                "plainout"], env=agent.env())
    proc.wait_line(r"^Fingerprint: ", 60)
    line = proc.wait_line(r"^Certificate: .*", 10).group(0)
    assert "self-signed" in line, line
    proc.stop()


def test_own_certificates_trusted_or_not(lab, relay, origin):
    agent = Agent(lab, "owncert")
    host = f"owned.{DOMAIN}"
    files = make_ca_and_leaf(lab.mkdir("owncert-pki"), host)
    base_env = agent.env
    agent.env = lambda: {**base_env(), "NFLTR_TRUST_FILE": files["ca.crt"]}
    agent.login(relay)

    # Signed by an authority the (test) trust store holds: no warning, and curl accepts it.
    t = agent.http(origin.port, "--name", "owned", "--e2ee-cert", files["leaf.crt"],
                   "--e2ee-key", files["leaf.key"])
    assert t.ready["certificate"] == "trusted", t.ready
    assert "certificate_warning" not in t.ready, t.ready
    r = curl(t.url, "--cacert", files["ca.crt"], resolve=(t.host, t.port))
    assert r.curl_rc == 0 and r.status == 200, r
    t.proc.stop()

    # The user's own, self-made: flagged with the reason; curl refuses it like the warning says.
    t = agent.http(origin.port, "--name", "owned", "--e2ee-cert", files["own.crt"],
                   "--e2ee-key", files["own.key"])
    assert t.ready["certificate"] == "untrusted", t.ready
    assert "not signed by an authority clients trust" in t.ready["certificate_warning"], t.ready
    r = curl(t.url, "--cacert", files["ca.crt"], resolve=(t.host, t.port))
    assert r.curl_rc == SELF_SIGNED_EXIT, r
    t.proc.stop()

    # A CA-signed certificate for another name: "not valid for" the tunnel's host.
    t = agent.http(origin.port, "--name", "other", "--e2ee-cert", files["leaf.crt"],
                   "--e2ee-key", files["leaf.key"])
    assert t.ready["certificate"] == "untrusted", t.ready
    assert f"not valid for other.{DOMAIN}" in t.ready["certificate_warning"], t.ready
    t.proc.stop()


def test_inspectable_is_not_flagged_for_the_agents_certificate(lab, relay, agent, origin):
    """Inspectable: visitors see the relay's certificate, so the agent's says nothing."""
    agent.login(relay)
    t = agent.http(origin.port, "--name", "peek", "--e2ee=false")
    assert t.ready["certificate"] == "relay", t.ready
    assert "certificate_warning" not in t.ready
    t.proc.stop()
