"""mTLS agent authentication (issue 11 item 6): `nfltr login --mtls` makes a key, the relay's
agent CA certifies it (authorised by an API key or a fleet token), the control channel then
authenticates with the client certificate alone; revocation by serial cuts the live session
within seconds. The operator's own CA (`serve --agent-ca FILE`) is accepted too, and a
certificate from any other CA is not. Bearer agents and plain HTTPS clients are unaffected
(the relay requests a certificate, it does not require one)."""
import os
import re
import stat
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "abuse"))
import abuselab  # noqa: E402
from abuselab import AgentRefused, RawAgent  # noqa: E402
from nfltrlab import Agent, Relay, curl_tunnel, relay_bin, wait_until  # noqa: E402

REVOKE_BOUND_S = 10


def relay_cmd(relay, *args):
    return subprocess.run([relay_bin(), *args, "--data-dir", relay.data_dir],
                          env=relay.lab.env(), capture_output=True, text=True, timeout=30)


def login_mtls(agent, relay, env):
    return agent.run("login", "--relay", relay.address, "--fingerprint", relay.fingerprint(),
                     "--mtls", env=env)


def certs(relay):
    r = relay_cmd(relay, "certs", "list")
    assert r.returncode == 0, r.stderr
    return [line.split() for line in r.stdout.splitlines()[1:] if line.strip()]


def agent_file(agent, *parts):
    return os.path.join(agent.home, ".config", "nfltr", *parts)


def test_mtls_login_serves_and_revocation_cuts_within_seconds(lab, relay, origin):
    key = relay.create_key("mtls")
    agent = Agent(lab, "mtls")
    r = login_mtls(agent, relay, {"NFLTR_API_KEY": key})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "client certificate" in r.stdout, r.stdout
    # The key is 0600; what is stored as the credential is no bearer secret.
    assert stat.S_IMODE(os.stat(agent_file(agent, "client.key")).st_mode) == 0o600
    with open(agent_file(agent, "credentials")) as f:
        stored = f.read()
    assert key not in stored and "nfltr_mtls" in stored, stored
    # The certificate is the relay CA's, for this agent.
    subject = subprocess.run(["openssl", "x509", "-noout", "-subject", "-issuer", "-serial",
                              "-in", agent_file(agent, "client.crt")],
                             capture_output=True, text=True).stdout
    assert "NFLTR relay agent CA" in subject, subject
    serial = re.search(r"serial=([0-9A-Fa-f]+)", subject).group(1)

    t = agent.http(origin.port)
    assert curl_tunnel(t, "/mtls").status == 200
    assert re.search(r"connected from .* \(certificate \d+", relay.log()), relay.log()[-2000:]
    rows = certs(relay)
    assert len(rows) == 1 and rows[0][1] == "relay" and rows[0][-1] == "active", rows

    # Revoke by serial as openssl prints it (upper case, maybe with a leading zero byte).
    start = time.monotonic()
    r = relay_cmd(relay, "certs", "revoke", serial)
    assert r.returncode == 0, r.stderr

    def gone():
        status, _, _ = relay.api(f"/api/v1/tunnels/{t.host}")
        return status == 404

    wait_until(gone, REVOKE_BOUND_S, "the revoked certificate's tunnel to go", interval=0.2)
    assert time.monotonic() - start <= REVOKE_BOUND_S
    assert "client certificate was revoked" in relay.log()
    assert curl_tunnel(t, "/after", timeout=5).status != 200
    # It stays out: the next HELLO is refused.
    wait_until(lambda: re.search(r"client certificate \w+ is revoked", relay.log()), 60,
               "the agent's reconnect to be refused", interval=0.3)


def test_mtls_with_a_fleet_token_keeps_its_prefix(lab, relay, origin):
    r = relay_cmd(relay, "tokens", "create", "--prefix", "edge-", "--max-uses", "1")
    token = r.stdout.strip()
    agent = Agent(lab, "edge")
    r = login_mtls(agent, relay, {"NFLTR_FLEET_TOKEN": token})
    assert r.returncode == 0, r.stdout + r.stderr
    t = agent.http(origin.port, "--name", "edge-one")
    assert curl_tunnel(t, "/edge").status == 200
    r = agent.run("http", str(origin.port), "--name", "core-one", "--json", timeout=60)
    assert r.returncode != 0 and "prefix" in (r.stdout + r.stderr)
    # The token is spent: a second agent gets no certificate.
    r = login_mtls(Agent(lab, "edge2"), relay, {"NFLTR_FLEET_TOKEN": token})
    assert r.returncode != 0 and "used up" in r.stderr, r.stderr


def test_bearer_agents_and_browsers_still_work_and_no_cert_is_refused(relay, http_tunnel):
    # A bearer-key agent (the fixture) serves; the relay's API answers a client without a cert.
    assert curl_tunnel(http_tunnel.tunnel, "/bearer").status == 200
    status, body, _ = relay.api("/api/v1/health")
    assert status == 200 and body["status"] == "ok"
    # The mTLS marker without a certificate is refused with a reason.
    raw = RawAgent(relay.port)
    with pytest.raises(AgentRefused) as refused:
        raw.hello("nfltr_mtls")
    assert "no client certificate" in refused.value.message
    raw.close()


def make_ca(lab, name):
    key, crt = lab.path(name + ".key"), lab.path(name + ".crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "30", "-subj", f"/CN={name}",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign"],
                   check=True, capture_output=True)
    return key, crt


def issue(lab, ca, name):
    ca_key, ca_crt = ca
    key, csr, crt = lab.path(name + ".key"), lab.path(name + ".csr"), lab.path(name + ".crt")
    ext = lab.path(name + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={name}"],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
                    "-CAcreateserial", "-out", crt, "-days", "5", "-extfile", ext],
                   check=True, capture_output=True)
    serial = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", crt],
                            check=True, capture_output=True, text=True).stdout.split("=")[1].strip()
    return crt, key, serial


def raw_agent_with_cert(port, crt, key):
    """abuselab's hand-written control channel, presenting a client certificate."""
    original = abuselab.client_context

    def context():
        ctx = original()
        ctx.load_cert_chain(crt, key)
        return ctx

    abuselab.client_context = context
    try:
        return RawAgent(port)
    finally:
        abuselab.client_context = original


def test_operator_ca_is_accepted_and_revocable(lab):
    operator = make_ca(lab, "operator-ca")
    stranger = make_ca(lab, "stranger-ca")
    relay = Relay(lab, extra_args=["--agent-ca", operator[1]]).start()
    crt, key, serial = issue(lab, operator, "fleet-box-1")

    agent = raw_agent_with_cert(relay.port, crt, key)
    agent.hello("nfltr_mtls")
    host = agent.bind("opca")
    assert host.startswith("opca.")
    assert any(row[1] == "operator" for row in certs(relay)), certs(relay)

    # Another CA's certificate gets nowhere.
    s_crt, s_key, _ = issue(lab, stranger, "intruder")
    intruder = raw_agent_with_cert(relay.port, s_crt, s_key)
    with pytest.raises(AgentRefused) as refused:
        intruder.hello("nfltr_mtls")
    assert "not issued by this relay" in refused.value.message
    intruder.close()

    # Revoked by serial: the live channel is cut within seconds, with the reason. (Frames the
    # relay sends meanwhile, such as its own proof check's CONN_OPEN, are skipped.)
    start = time.monotonic()
    assert relay_cmd(relay, "certs", "revoke", serial).returncode == 0
    reason = None
    while time.monotonic() - start < REVOKE_BOUND_S + 5 and reason is None:
        try:
            ftype, attrs = agent.recv_frame()
        except (OSError, ConnectionError, AssertionError):
            break
        if ftype == abuselab.FRAME_ERROR:
            reason = attrs.get(abuselab.ATTR_MESSAGE, b"").decode()
    assert reason == "client certificate was revoked", reason
    assert time.monotonic() - start <= REVOKE_BOUND_S
    # A serial revoked before it is ever seen never gets in.
    crt2, key2, serial2 = issue(lab, operator, "fleet-box-2")
    assert relay_cmd(relay, "certs", "revoke", serial2).returncode == 0
    late = raw_agent_with_cert(relay.port, crt2, key2)
    with pytest.raises(AgentRefused) as refused:
        late.hello("nfltr_mtls")
    assert "revoked" in refused.value.message
    late.close()


def test_a_key_the_relay_cannot_certify_costs_the_token_nothing(lab, relay):
    import json
    from nfltrlab import DOMAIN, curl
    token = relay_cmd(relay, "tokens", "create", "--max-uses", "1").stdout.strip()
    body = json.dumps({"token": token, "agent_id": "ab" * 16,
                       "public_key": "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"})
    r = curl(f"https://{DOMAIN}:{relay.port}/api/v1/enrol", "-k", "-X", "POST",
             "--data-binary", body, resolve=(DOMAIN, relay.port))
    assert r.status == 400 and b"public key" in r.body, r
    listing = relay_cmd(relay, "tokens", "list").stdout
    assert re.search(r"\s0/1\s", listing), listing
    assert certs(relay) == []


def test_a_restarted_service_logs_in_again_with_its_certificate(lab, relay, origin):
    """The stored credential is the marker: a new nfltr-service loads client.key/client.crt
    and the relay still knows the agent by its certificate."""
    import signal
    from nfltrlab import tagged_processes
    agent = Agent(lab, "restart")
    assert login_mtls(agent, relay, {"NFLTR_API_KEY": relay.create_key()}).returncode == 0
    services = tagged_processes(lab.tag, "nfltr-service")
    assert len(services) == 1, services
    os.kill(services[0], signal.SIGTERM)
    wait_until(lambda: not tagged_processes(lab.tag, "nfltr-service"), 20, "the service to stop")
    t = agent.http(origin.port)   # the CLI starts a new service, which restores the login
    assert curl_tunnel(t, "/again").status == 200
    assert len(re.findall(r"connected from .* \(certificate \d+", relay.log())) >= 2, relay.log()[-2000:]


def test_real_agent_with_an_operator_ca_certificate(lab, origin):
    operator = make_ca(lab, "operator-ca")
    relay = Relay(lab, extra_args=["--agent-ca", operator[1]]).start()
    crt, key, serial = issue(lab, operator, "ops-agent")
    agent = Agent(lab, "ops")
    r = agent.run("login", "--relay", relay.address, "--fingerprint", relay.fingerprint(),
                  "--client-cert", crt, "--client-key", key)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "client certificate" in r.stdout, r.stdout
    assert stat.S_IMODE(os.stat(agent_file(agent, "client.key")).st_mode) == 0o600
    t = agent.http(origin.port)
    assert curl_tunnel(t, "/ops").status == 200
    rows = certs(relay)
    assert [row[1] for row in rows] == ["operator"], rows
    # Without its key, a certificate is no login.
    r = Agent(lab, "half").run("login", "--relay", relay.address, "--fingerprint",
                               relay.fingerprint(), "--client-cert", crt)
    assert r.returncode == 2 and "go together" in r.stderr, r.stderr
