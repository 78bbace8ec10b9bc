"""Strict TLS on every public face (issue 8 §5): the relay's own name, a verified tunnel (the
agent's GnuTLS server) and an inspectable tunnel (the relay's TLS with its wildcard
certificate) each speak TLS 1.2 and 1.3 only, with ECDHE and AEAD suites only, in the
server's order.

Each property is probed with gnutls-cli offering exactly one thing at a time, as testssl.sh
does; docs/security.md has testssl.sh's own summary (run by hand: it takes minutes).
"""
import subprocess

import pytest

from nfltrlab import DOMAIN

# (what the client offers, as a GnuTLS priority string; must the server accept it?)
VERSIONS_ONLY = "NORMAL:-VERS-ALL:"
PROBES = [
    ("TLS 1.0", VERSIONS_ONLY + "+VERS-TLS1.0", False),
    ("TLS 1.1", VERSIONS_ONLY + "+VERS-TLS1.1", False),
    ("TLS 1.2 CBC", VERSIONS_ONLY + "+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC:"
                    "+CAMELLIA-128-CBC:+CAMELLIA-256-CBC:+3DES-CBC:+MAC-ALL", False),
    ("TLS 1.2 RSA key exchange", VERSIONS_ONLY + "+VERS-TLS1.2:-KX-ALL:+RSA", False),
    ("TLS 1.2 AES-128-GCM", VERSIONS_ONLY + "+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM", True),
    ("TLS 1.2 AES-256-GCM", VERSIONS_ONLY + "+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM", True),
    ("TLS 1.2 CHACHA20", VERSIONS_ONLY + "+VERS-TLS1.2:-CIPHER-ALL:+CHACHA20-POLY1305", True),
    ("TLS 1.3", VERSIONS_ONLY + "+VERS-TLS1.3", True),
]


def probe(port, sni, priority):
    """gnutls-cli offering only `priority`: the negotiated "(TLS1.x-…)-(…)" description, or
    None when the handshake failed."""
    r = subprocess.run(["gnutls-cli", "--no-ca-verification", "--port", str(port),
                        "--sni-hostname", sni, "--priority", priority, "127.0.0.1"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
    for line in out.splitlines():
        if line.startswith("- Description:"):
            return line.split(":", 1)[1].strip()
    return None


def check_face(port, sni):
    wrong = []
    for what, priority, accepted in PROBES:
        got = probe(port, sni, priority)
        if (got is not None) != accepted:
            wrong.append(f"{what}: {'accepted as ' + got if got else 'refused'}")
    # The server's order: a client that prefers ChaCha20 still gets AES-GCM.
    for version in ("+VERS-TLS1.2", "+VERS-TLS1.3"):
        got = probe(port, sni, VERSIONS_ONLY + version +
                    ":-CIPHER-ALL:+CHACHA20-POLY1305:+AES-256-GCM:+AES-128-GCM")
        if got is None or "AES-128-GCM" not in got:
            wrong.append(f"{version} client order ChaCha20 first: got {got}")
    assert not wrong, f"{sni}:{port}:\n  " + "\n  ".join(wrong)


def test_relay_own_name(relay):
    check_face(relay.port, DOMAIN)


@pytest.mark.parametrize("e2ee", ["true", "false"], ids=["verified", "inspectable"])
def test_tunnel(relay, logged_in, origin, e2ee):
    t = logged_in.http(origin.port, f"--e2ee={e2ee}")
    assert t.mode == ("verified" if e2ee == "true" else "inspectable"), t.ready
    check_face(t.port, t.host)
