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
        env = lab.env(PEBBLE_VA_NOSLEEP="1", PEBBLE_VA_ALWAYS_VALID=None)
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


def test_acme_issues_through_the_passthrough(lab, relay, agent, origin, acme_lab):
    pebble = acme_lab
    name = "acme1"
    host = f"{name}.{DOMAIN}"
    pebble.resolver.names.add(host)
    agent.login(relay)
    tunnel = agent.http(origin.port, *acme_args(pebble, name))
    generated = tunnel.fingerprint

    wait_until(lambda: tunnel_props(agent, name).get("CertificateSource") == "acme", 90,
               "the ACME certificate to be installed")
    props = tunnel_props(agent, name)
    assert props["AcmeStatus"] == "valid" and props["AcmeError"] == "", props
    assert props["AcmeDomain"] == host
    served = served_cert_pem(host, relay.port)
    assert fingerprint_of(served) == props["Fingerprint"] != generated
    # A browser-style check: pebble's root only, no -k.
    root = pebble.root()
    r = curl(f"https://{host}:{relay.port}/hello", "--cacert", root, resolve=(host, relay.port))
    assert r.curl_rc == 0 and r.status == 200, r
