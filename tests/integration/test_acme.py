"""ACME at the agent (issue 11 item 7) against Debian's pebble.

Pebble validates with TLS-ALPN-01 (RFC 8737): its validation DNS is a tiny resolver in this test
(python3-dnslib) that answers the tunnel's name with 127.0.0.1, and its TLS port is the relay's
public port, so the CA's check goes through the relay's SNI passthrough to the agent, which
answers it itself. PEBBLE_VA_ALWAYS_VALID is never set. The agent's certificate then validates
with curl (no -k) against pebble's root only; renewal (pebble's certificateValidityPeriod is
short) keeps the tunnel's public key and the fingerprint on D-Bus, on the relay's proof JSON and
on a `nfltr serve` page follows it; CA errors reach the user in words while the tunnel keeps
serving the certificate it had; the relay never holds a tunnel key."""
import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest
from dnslib import QTYPE, RR, A
from dnslib.server import BaseResolver, DNSServer

from nfltrlab import (DOMAIN, curl, free_port, pem_to_der, served_cert_pem, spki_pin,  # noqa: F401
                      wait_until)

pytestmark = pytest.mark.skipif(shutil.which("pebble") is None, reason="pebble is not installed")

# Short enough that a renewal (at 2/3 of it) happens within the test, long enough for curl.
VALIDITY_S = 45


class Resolver(BaseResolver):
    """A for every name in `names` (→ 127.0.0.1); NXDOMAIN for the rest."""

    def __init__(self):
        self.names = set()
        self.queries = []

    def resolve(self, request, handler):
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        self.queries.append((qname, QTYPE[request.q.qtype]))
        if qname in self.names:
            if request.q.qtype == QTYPE.A:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A("127.0.0.1"), ttl=1))
        else:
            reply.header.rcode = 3  # NXDOMAIN
        return reply


class Pebble:
    def __init__(self, lab, tls_port, blocklist=()):
        self.lab = lab
        self.resolver = Resolver()
        self.dns_port = free_port()
        self.dns = [DNSServer(self.resolver, port=self.dns_port, address="127.0.0.1", tcp=tcp)
                    for tcp in (False, True)]
        for server in self.dns:
            server.start_thread()
        lab.cleanups.append(self.stop_dns)
        # pebble's own HTTPS (directory, management) with a test CA the agent is told about
        self.test_ca = lab.path("pebble-https", "ca.pem")
        ca_key = lab.path("pebble-https", "ca.key")
        cert, key = lab.path("pebble-https", "cert.pem"), lab.path("pebble-https", "key.pem")
        openssl = ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        subprocess.run(openssl + ["-x509", "-keyout", ca_key, "-out", self.test_ca, "-days", "2",
                                  "-subj", "/CN=acme test HTTPS CA"], check=True, capture_output=True)
        csr = lab.path("pebble-https", "cert.csr")
        subprocess.run(openssl + ["-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
                       check=True, capture_output=True)
        ext = lab.path("pebble-https", "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", self.test_ca, "-CAkey", ca_key,
                        "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext],
                       check=True, capture_output=True)
        self.port, self.mgmt_port = free_port(), free_port()
        config = {"pebble": {
            "listenAddress": f"127.0.0.1:{self.port}",
            "managementListenAddress": f"127.0.0.1:{self.mgmt_port}",
            "certificate": cert, "privateKey": key,
            "httpPort": free_port(), "tlsPort": tls_port,
            "ocspResponderURL": "", "externalAccountBindingRequired": False,
            "domainBlocklist": list(blocklist),
            "certificateValidityPeriod": VALIDITY_S,
        }}
        conf = lab.path("pebble.json")
        with open(conf, "w") as f:
            json.dump(config, f)
        # Every order is validated afresh (no authorization reuse), so each renewal goes
        # through the tunnel again; pebble's 5 % of refused nonces stay (the agent retries).
        env = lab.env(PEBBLE_VA_NOSLEEP="1", PEBBLE_VA_ALWAYS_VALID=None, PEBBLE_AUTHZREUSE="0")
        assert "PEBBLE_VA_ALWAYS_VALID" not in env
        self.proc = lab.spawn("pebble", ["pebble", "-config", conf, "-dnsserver", f"127.0.0.1:{self.dns_port}",
                                         "-strict", "false"], env=env)
        self.proc.wait_line(r"Listening on", 30)
        self.directory = f"https://127.0.0.1:{self.port}/dir"

    def stop_dns(self):
        for server in self.dns:
            with contextlib.suppress(Exception):
                server.stop()

    def root(self):
        """The root that signs what pebble issues (management API /roots/0)."""
        r = curl(f"https://127.0.0.1:{self.mgmt_port}/roots/0", "--cacert", self.test_ca)
        assert r.status == 200, r
        path = self.lab.path("pebble-root.pem")
        with open(path, "wb") as f:
            f.write(r.body)
        return path


@pytest.fixture
def acme_lab(lab, relay, agent, origin):
    pebble = Pebble(lab, relay.port, blocklist=[f"blocked.{DOMAIN}"])
    return pebble


def tunnel_props(agent, name):
    r = agent.run("list", "--json")
    assert r.returncode == 0, r
    tid = next(t["id"] for t in json.loads(r.stdout) if t["name"] == name)
    r = subprocess.run(["gdbus", "call", "--address", agent.bus.address, "--dest", "xyz.nfltr.Nfltr.Service",
                        "--object-path", f"/xyz/nfltr/Nfltr/tunnels/{tid}", "--method",
                        "org.freedesktop.DBus.Properties.GetAll", "xyz.nfltr.Nfltr.Tunnel"],
                       env=agent.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    props = {}
    for m in re.finditer(r"'(\w+)': <([^<>]*)>", r.stdout):
        value = m.group(2)
        if value.startswith("'"):
            value = value[1:-1]
        elif value.startswith("uint64 "):
            value = int(value.split()[1])
        props[m.group(1)] = value
    return props


def acme_args(pebble, name):
    return ["--name", name, "--acme-domain", f"{name}.{DOMAIN}", "--acme-directory", pebble.directory,
            "--acme-ca-bundle", pebble.test_ca, "--acme-email", "ops@example.org"]


def fingerprint_of(pem):
    return "sha256:" + hashlib.sha256(pem_to_der(pem)).hexdigest()


def relay_files_hold(relay, needle):
    """The relay's data directory files whose bytes contain needle."""
    hits = []
    for path in glob.glob(os.path.join(relay.data_dir, "**"), recursive=True):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                if needle in f.read():
                    hits.append(path)
    return hits


def agent_acme_files(agent, name):
    certs = os.path.join(agent.home, ".local", "share", "nfltr", "certs")
    return os.path.join(certs, f"{name}.acme.crt"), os.path.join(certs, f"{name}.acme.key")


def proof(relay, name):
    status, body, raw = relay.api(f"/api/v1/proof/{name}")
    assert status == 200, raw
    return body


def test_acme_issues_renews_and_reports_errors(lab, relay, agent, origin, acme_lab):
    pebble = acme_lab
    name = "acme1"
    host = f"{name}.{DOMAIN}"
    pebble.resolver.names.add(host)
    agent.login(relay)
    tunnel = agent.http(origin.port, *acme_args(pebble, name))
    generated = tunnel.fingerprint
    generated_pin = spki_pin(served_cert_pem(host, relay.port))

    # Issuance: pebble validated through the relay's passthrough (it asked our resolver for
    # the name and connected to the relay's port, the only TLS port it was given).
    wait_until(lambda: tunnel_props(agent, name).get("CertificateSource") == "acme", 90,
               "the ACME certificate to be installed")
    props = tunnel_props(agent, name)
    assert props["AcmeStatus"] == "valid" and props["AcmeError"] == "", props
    assert props["AcmeDomain"] == host
    assert props["Certificate"] == "trusted" or props["Certificate"] == "untrusted", props
    assert props["CertificateExpires"] > time.time()
    assert (host, "A") in pebble.resolver.queries, pebble.resolver.queries
    first = served_cert_pem(host, relay.port)
    assert fingerprint_of(first) == props["Fingerprint"] != generated
    # The tunnel's own key: the public-key pin visitors may have pinned did not change.
    assert spki_pin(first) == generated_pin
    issuer = subprocess.run(["openssl", "x509", "-noout", "-issuer"], input=first,
                            capture_output=True, text=True, check=True).stdout
    assert "Pebble" in issuer, issuer

    # A browser-style check: pebble's root only, no -k; the page is the local server's.
    root = pebble.root()
    r = curl(f"https://{host}:{relay.port}/hello", "--cacert", root, resolve=(host, relay.port))
    assert r.curl_rc == 0 and r.status == 200, r
    assert any(req["path"] == "/hello" for req in origin.requests), origin.requests
    # ...and without pebble's root the same curl refuses: the trust came from the CA.
    r = curl(f"https://{host}:{relay.port}/hello", resolve=(host, relay.port))
    assert r.curl_rc != 0, r

    # The relay followed the re-BIND: its proof check saw the new certificate.
    wait_until(lambda: proof(relay, name).get("observed-fingerprint") == props["Fingerprint"], 30,
               "the relay's proof check to observe the ACME certificate")
    doc = proof(relay, name)
    assert doc["declared-fingerprint"] == props["Fingerprint"] and doc["result"] == "verified", doc

    # The relay never held the key: it is in no file of the relay's, and the relay only
    # routed by SNI and spliced (passthrough sessions in verified mode, nothing terminated).
    crt_path, key_path = agent_acme_files(agent, name)
    assert os.stat(key_path).st_mode & 0o777 == 0o600
    with open(key_path, "rb") as f:
        key_pem = f.read()
    key_der = subprocess.run(["openssl", "pkey", "-outform", "der"], input=key_pem,
                             capture_output=True, check=True).stdout
    assert relay_files_hold(relay, key_pem) == [] and relay_files_hold(relay, key_der) == []
    assert re.search(rf"closed peer=\S+ host={re.escape(host)} mode=verified", relay.log()), relay.log()
    assert not re.search(rf"host={re.escape(host)} mode=inspectable", relay.log())

    # `nfltr http --json` told its user: a "certificate" event with the new fingerprint.
    events = [e for e in tunnel.events() if e.get("event") == "certificate"]
    assert any(e["source"] == "acme" and e["fingerprint"] == props["Fingerprint"] and e["expires"] > 0
               for e in events), tunnel.events()

    # Renewal at 2/3 of pebble's short validity: a new certificate, the same public key, and
    # the fingerprint follows on D-Bus, in what is served and on the relay's proof.
    wait_until(lambda: tunnel_props(agent, name)["Fingerprint"] != props["Fingerprint"], VALIDITY_S * 2,
               "the ACME renewal")
    renewed = tunnel_props(agent, name)
    second = served_cert_pem(host, relay.port)
    assert fingerprint_of(second) == renewed["Fingerprint"]
    assert renewed["CertificateSource"] == "acme" and renewed["AcmeStatus"] == "valid", renewed
    assert spki_pin(second) == generated_pin
    wait_until(lambda: proof(relay, name).get("observed-fingerprint") == renewed["Fingerprint"], 30,
               "the relay's proof check to observe the renewed certificate")
    r = curl(f"https://{host}:{relay.port}/hello", "--cacert", root, resolve=(host, relay.port))
    assert r.curl_rc == 0 and r.status == 200, r

    # The CA cannot validate any more (its DNS no longer knows the name): the next renewal
    # fails, the user reads why, and the tunnel keeps serving the certificate it has.
    pebble.resolver.names.discard(host)
    wait_until(lambda: tunnel_props(agent, name)["AcmeStatus"] == "failed", VALIDITY_S * 2,
               "the failed renewal to be reported")
    failed = tunnel_props(agent, name)
    assert "could not validate" in failed["AcmeError"] and "resolve" in failed["AcmeError"], failed
    assert host in failed["AcmeError"], failed
    # On a slow machine a further renewal may succeed before the name is withdrawn: what is kept
    # is the last certificate issued before the failure, as `nfltr http --json` announced it.
    certs = [e for e in tunnel.events() if e.get("event") == "certificate"]
    failed_at = next(i for i, e in enumerate(certs) if e["acme_status"] == "failed")
    last_valid = [e for e in certs[:failed_at] if e["acme_status"] == "valid"][-1]
    assert failed["Fingerprint"] == last_valid["fingerprint"], (failed, certs)
    assert failed["Fingerprint"] != props["Fingerprint"], failed
    assert fingerprint_of(served_cert_pem(host, relay.port)) == failed["Fingerprint"]
    r = agent.run("list")
    assert r.returncode == 0, r
    assert "certificate: ACME" in r.stdout and "could not validate" in r.stdout, r.stdout


def test_acme_refused_name_is_explained(lab, relay, agent, origin, acme_lab):
    """A name the CA refuses: the user reads the CA's reason, the tunnel serves its own
    certificate meanwhile."""
    pebble = acme_lab
    name = "blocked"
    host = f"{name}.{DOMAIN}"
    pebble.resolver.names.add(host)
    agent.login(relay)
    tunnel = agent.http(origin.port, *acme_args(pebble, name))
    wait_until(lambda: tunnel_props(agent, name).get("AcmeStatus") == "failed", 60, "the CA's refusal")
    props = tunnel_props(agent, name)
    assert "will not issue" in props["AcmeError"] and "rejectedIdentifier" in props["AcmeError"], props
    assert props["CertificateSource"] == "generated" and props["Fingerprint"] == tunnel.fingerprint, props
    assert fingerprint_of(served_cert_pem(host, relay.port)) == tunnel.fingerprint
    r = curl_k(host, relay.port)
    assert r.curl_rc == 0 and r.status == 200, r


def curl_k(host, port, path="/"):
    return curl(f"https://{host}:{port}{path}", "-k", resolve=(host, port))


def page_fingerprint(host, port):
    """The fingerprint on the badge of an HTTPS app page (service/kinds/web)."""
    r = curl(f"https://{host}:{port}/", "-k", resolve=(host, port))
    assert r.curl_rc == 0 and r.status == 200, r
    m = re.search(rb'id="nfltr-fingerprint">(sha256:[0-9a-f]{64})<', r.body)
    return m.group(1).decode() if m else None


def openssl_fingerprint(cert_path):
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", cert_path],
                         capture_output=True, text=True, check=True).stdout
    return "sha256:" + out.split("=", 1)[1].strip().replace(":", "").lower()


def test_serve_page_shows_the_e2ee_cert_fingerprint(lab, relay, agent):
    """Issue 10's gap: with --e2ee-cert the page's badge shows the user's certificate (as
    openssl prints its fingerprint), not nothing."""
    name = "ownpage"
    host = f"{name}.{DOMAIN}"
    crt, key = lab.path("own.crt"), lab.path("own.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", f"/CN={host}",
                    "-addext", f"subjectAltName=DNS:{host}"], check=True, capture_output=True, timeout=60)
    root = lab.mkdir("site")
    with open(os.path.join(root, "a.txt"), "w") as f:
        f.write("hello\n")
    agent.login(relay)
    tunnel = agent.start("serve", root, "--name", name, "--e2ee-cert", crt, "--e2ee-key", key)
    expected = openssl_fingerprint(crt)
    assert tunnel.fingerprint == expected
    assert page_fingerprint(host, relay.port) == expected


def test_serve_page_follows_the_acme_certificate(lab, relay, agent, acme_lab):
    """The badge follows the tunnel's real certificate: the ACME one once issued, the renewed
    one after a renewal."""
    pebble = acme_lab
    name = "acmepage"
    host = f"{name}.{DOMAIN}"
    pebble.resolver.names.add(host)
    root = lab.mkdir("site")
    with open(os.path.join(root, "a.txt"), "w") as f:
        f.write("hello\n")
    agent.login(relay)
    tunnel = agent.start("serve", root, *acme_args(pebble, name))
    assert page_fingerprint(host, relay.port) == tunnel.fingerprint
    wait_until(lambda: tunnel_props(agent, name).get("CertificateSource") == "acme", 90,
               "the ACME certificate to be installed")
    first = tunnel_props(agent, name)["Fingerprint"]
    assert first != tunnel.fingerprint
    assert page_fingerprint(host, relay.port) == first == fingerprint_of(served_cert_pem(host, relay.port))
    wait_until(lambda: tunnel_props(agent, name)["Fingerprint"] != first, VALIDITY_S * 2, "the ACME renewal")
    renewed = tunnel_props(agent, name)["Fingerprint"]
    assert page_fingerprint(host, relay.port) == renewed == fingerprint_of(served_cert_pem(host, relay.port))


def test_acme_new_key_changes_the_pin(lab, relay, agent, origin, acme_lab):
    """--acme-new-key: the certificate is for a fresh key (the pin changes), still the tunnel's
    own, saved 0600 on the agent."""
    pebble = acme_lab
    name = "newkey"
    host = f"{name}.{DOMAIN}"
    pebble.resolver.names.add(host)
    agent.login(relay)
    agent.http(origin.port, *acme_args(pebble, name), "--acme-new-key")
    generated_pin = spki_pin(served_cert_pem(host, relay.port))
    wait_until(lambda: tunnel_props(agent, name).get("CertificateSource") == "acme", 90,
               "the ACME certificate to be installed")
    served = served_cert_pem(host, relay.port)
    assert spki_pin(served) != generated_pin
    crt_path, key_path = agent_acme_files(agent, name)
    assert os.stat(key_path).st_mode & 0o777 == 0o600
    key_pub = subprocess.run(["openssl", "pkey", "-in", key_path, "-pubout"], capture_output=True, text=True,
                             check=True).stdout
    cert_pub = subprocess.run(["openssl", "x509", "-noout", "-pubkey"], input=served, capture_output=True,
                              text=True, check=True).stdout
    assert key_pub == cert_pub
    root = pebble.root()
    r = curl(f"https://{host}:{relay.port}/", "--cacert", root, resolve=(host, relay.port))
    assert r.curl_rc == 0 and r.status == 200, r


def test_usage_errors_name_the_option(lab, relay, agent):
    agent.login(relay)
    r = agent.run("http", "3000", "--acme-email", "a@example.org")
    assert r.returncode == 2 and "--acme-domain" in r.stderr, r
    r = agent.run("http", "3000", "--acme-domain", "x.example", "--acme-directory", "http://ca.example/dir")
    assert r.returncode == 2 and "https://" in r.stderr, r
    r = agent.run("http", "3000", "--acme-domain", "not a name")
    assert r.returncode != 0 and "acme-domain" in r.stderr and "not a DNS name" in r.stderr, r
    crt, key = lab.path("own.crt"), lab.path("own.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=x"],
                   check=True, capture_output=True, timeout=60)
    r = agent.run("http", "3000", "--acme-domain", "x.example", "--e2ee-cert", crt, "--e2ee-key", key)
    assert r.returncode != 0 and "exclude each other" in r.stderr, r


def test_saved_acme_certificate_is_served_again_at_once(lab, relay, agent, origin, acme_lab):
    """The ACME certificate is kept: the same tunnel started again serves it from the start,
    without asking the CA."""
    pebble = acme_lab
    name = "again"
    host = f"{name}.{DOMAIN}"
    pebble.resolver.names.add(host)
    agent.login(relay)
    tunnel = agent.http(origin.port, *acme_args(pebble, name))
    wait_until(lambda: tunnel_props(agent, name).get("CertificateSource") == "acme", 90,
               "the ACME certificate to be installed")
    issued = tunnel_props(agent, name)["Fingerprint"]
    tunnel.proc.stop()
    wait_until(lambda: name not in agent.run("list").stdout, 30, "the tunnel to be removed")
    orders = pebble.proc.text().count("POST /order-plz")
    log = os.path.join(agent.home, ".local", "state", "nfltr", "service.log")
    scheduled = re.compile(rf"ACME certificate for {re.escape(host)}: next renewal attempt in [1-9]")

    def schedules():
        with open(log, errors="replace") as f:
            return len(scheduled.findall(f.read()))
    before = schedules()
    again = agent.http(origin.port, *acme_args(pebble, name))
    assert again.fingerprint == issued
    props = tunnel_props(agent, name)
    assert props["CertificateSource"] == "acme" and props["AcmeStatus"] == "valid", props
    assert fingerprint_of(served_cert_pem(host, relay.port)) == issued
    # The renewer, online with the saved certificate, logs when it will next ask the CA: from
    # then on no order can come until that time (at two thirds of the validity).
    wait_until(lambda: schedules() > before, 30, "the restarted tunnel's renewer to schedule its next renewal")
    assert pebble.proc.text().count("POST /order-plz") == orders


class CountingServer:
    """A local TCP server that counts the connections it accepts and echoes."""

    def __init__(self, lab):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()
        lab.cleanups.append(self.sock.close)

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    @staticmethod
    def _echo(c):
        with c:
            with contextlib.suppress(OSError):
                while data := c.recv(65536):
                    c.sendall(data)


def test_challenge_connections_never_reach_the_local_server(lab, agent):
    """The CA's acme-tls/1 handshakes are answered by the agent's TLS server and end there
    (TLS 1.3): the local server behind a tcp tunnel sees none of them; a visitor still gets
    through. (The relay's own proof checks are visitors too: off here, so that only the CA's
    connections and ours arrive.)"""
    from nfltrlab import Relay
    relay = Relay(lab, extra_args=["--proof-interval", "0"]).start()
    pebble = Pebble(lab, relay.port)
    name = "tcpacme"
    host = f"{name}.{DOMAIN}"
    pebble.resolver.names.add(host)
    backend = CountingServer(lab)
    agent.login(relay)
    agent.tcp(backend.port, *acme_args(pebble, name))
    wait_until(lambda: tunnel_props(agent, name).get("CertificateSource") == "acme", 90,
               "the ACME certificate to be installed")
    # pebble checked from its three "perspectives", each a connection through the tunnel
    assert "Starting 3 validations" in pebble.proc.text()
    assert backend.accepted == 0
    root = pebble.root()
    ctx = ssl.create_default_context(cafile=root)
    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(b"ping")
            assert tls.recv(4) == b"ping"
    assert backend.accepted == 1
