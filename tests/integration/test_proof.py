"""The relay checks verified tunnels itself (issue 11 items 1–3).

A tampering agent — a hand-written agent over the real protocol that declares one certificate's
fingerprint in BIND and serves another certificate on its data connections — is flagged in the
proof JSON, on the proof page and in the signed bundle, and `nfltr verify` refuses the bundle
saying why. An honest agent (the same hand-written one, and the real nfltr) is checked OK, again
on schedule. A bundle changed by one byte anywhere, or re-signed with another key, fails
`nfltr verify` with the message that names the fault. The agent pins the relay's signing key at
login and refuses a changed one."""
import base64
import contextlib
import hashlib
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "abuse"))
from abuselab import (ATTR_CONN_ID, ATTR_FINGERPRINT, ATTR_HOST, ATTR_MODE, ATTR_NAME,  # noqa: E402
                      ATTR_REQUEST_ID, FRAME_BIND, FRAME_BOUND, FRAME_CONN_OPEN, RawAgent)
from nfltrlab import DOMAIN, Agent, Relay, curl, nfltr_bin, relay_bin, wait_until  # noqa: E402

FRAME_PING, FRAME_PONG, ATTR_SEQ = 0x04, 0x05, 18

EXIT_OK, EXIT_MALFORMED, EXIT_BAD_SIGNATURE, EXIT_OTHER_KEY = 0, 3, 4, 5
EXIT_FINGERPRINT, EXIT_FLAGGED, EXIT_NOT_VERIFIED = 6, 7, 8


def make_cert(lab, label, host):
    """A self-signed P-256 certificate for host; returns (cert path, key path, fingerprint)."""
    cert, key = lab.path(f"{label}.crt"), lab.path(f"{label}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={host}",
                    "-addext", f"subjectAltName=DNS:{host}"],
                   check=True, capture_output=True, timeout=60)
    with open(cert) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return cert, key, "sha256:" + hashlib.sha256(der).hexdigest()


class ProofAgent(threading.Thread):
    """An agent over the real protocol that declares `declared` (a fingerprint) in BIND and
    serves the certificate `cert` on every data connection: honest when they agree."""

    def __init__(self, relay, api_key, name, declared, cert, key, mode=1):
        super().__init__(daemon=True)
        self.relay, self.cert, self.key = relay, cert, key
        self.raw = RawAgent(relay.port, timeout=10)
        self.raw.hello(api_key)
        self.raw.send_frame(FRAME_BIND, [(ATTR_REQUEST_ID, struct.pack(">I", 1)),
                                         (ATTR_NAME, name.encode()), (ATTR_MODE, bytes([mode])),
                                         (ATTR_FINGERPRINT, bytes.fromhex(declared.split(":")[1]))])
        self.host = self.raw.expect(FRAME_BOUND)[ATTR_HOST].decode()
        self.handshakes = 0
        self.stopping = threading.Event()
        self.start()

    def run(self):
        while not self.stopping.is_set():
            try:
                ftype, attrs = self.raw.recv_frame(timeout=0.5)
            except (socket.timeout, TimeoutError):
                continue
            except (OSError, ConnectionError):
                return
            if ftype == FRAME_CONN_OPEN:
                threading.Thread(target=self.serve, args=(attrs[ATTR_CONN_ID],), daemon=True).start()
            elif ftype == FRAME_PING:
                self.raw.send_frame(FRAME_PONG, [(ATTR_SEQ, attrs[ATTR_SEQ])])

    def serve(self, conn_id):
        """docs/protocol.md §5: the preamble, then a TLS server with our certificate."""
        sock = socket.create_connection(("127.0.0.1", self.relay.port), timeout=10)
        sock.sendall(b"NFLTRD\x01\x00" + conn_id + bytes(16))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        try:
            with ctx.wrap_socket(sock, server_side=True) as tls:
                self.handshakes += 1
                request = tls.recv(4096)
                if request:
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        except (OSError, ssl.SSLError):
            pass

    def stop(self):
        self.stopping.set()
        self.join(5)
        self.raw.close()


def signing_key(relay):
    r = subprocess.run([relay_bin(), "signing-key", "--data-dir", relay.data_dir],
                       env=relay.lab.env(), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def proof_json(relay, name):
    status, body, raw = relay.api(f"/api/v1/proof/{name}")
    assert status == 200, f"/api/v1/proof/{name}: {status} {raw[:300]!r}"
    return body


def wait_result(relay, name, want, timeout=30):
    wait_until(lambda: proof_json(relay, name)["result"] == want, timeout,
               f"the relay's check of {name} to say {want} (now {proof_json(relay, name)})")
    return proof_json(relay, name)


def fetch_bundle(relay, name):
    r = curl(f"https://{DOMAIN}:{relay.port}/api/v1/proof/{name}/bundle", "-k", resolve=(DOMAIN, relay.port))
    assert r.curl_rc == 0 and r.status == 200, r
    return r.body


def verify(lab, bundle_bytes, *args, label="bundle"):
    path = lab.path(f"{label}.json")
    with open(path, "wb") as f:
        f.write(bundle_bytes)
    return subprocess.run([nfltr_bin(), "verify", path, *args], env=lab.env(), capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.fixture
def relay(lab):
    # Checks every 2 s, so a test sees the schedule at work.
    return Relay(lab, extra_args=["--proof-interval", "2"]).start()


def test_tampering_agent_is_flagged_in_json_page_and_bundle(lab, relay):
    host = f"tamper.{DOMAIN}"
    _, _, declared = make_cert(lab, "declared", host)
    cert, key, served = make_cert(lab, "served", host)
    agent = ProofAgent(relay, relay.create_key(), "tamper", declared, cert, key)
    try:
        proof = wait_result(relay, "tamper", "mismatch")
        assert proof["flagged"] is True
        assert proof["declared-fingerprint"] == declared
        assert proof["observed-fingerprint"] == served
        assert proof["mode"] == "verified" and proof["checked"]
        assert agent.handshakes >= 1, "the relay's check never reached the agent's TLS server"
        relay.wait_log(r"proof: tamper\.nfltr\.localhost FLAGGED")

        r = curl(f"https://{DOMAIN}:{relay.port}/proof/tamper", "-k", resolve=(DOMAIN, relay.port))
        page = r.body.decode()
        assert r.status == 200 and 'data-result="flagged"' in page
        assert "Flagged: the agent serves a certificate other than the one it declared" in page
        assert served in page and declared in page and "<svg" in page and "<script" not in page

        bundle = fetch_bundle(relay, "tamper")
        assert json.loads(bundle)["proof"]["flagged"] is True
        out = verify(lab, bundle, "--relay-key", signing_key(relay))
        assert out.returncode == EXIT_FLAGGED, out
        assert "tunnel flagged" in out.stderr
        assert "It does not prove" in out.stdout and "sign a lie" in out.stdout
    finally:
        agent.stop()


def test_honest_agent_is_checked_ok_and_again_on_schedule(lab, relay):
    host = f"honest.{DOMAIN}"
    cert, key, fp = make_cert(lab, "honest", host)
    _, _, other = make_cert(lab, "other", host)
    agent = ProofAgent(relay, relay.create_key(), "honest", fp, cert, key)
    try:
        proof = wait_result(relay, "honest", "verified")
        assert proof["flagged"] is False
        assert proof["observed-fingerprint"] == proof["declared-fingerprint"] == fp
        assert proof["relay"]["signing-key"] == signing_key(relay)
        first = proof["checks"]
        # --proof-interval 2: more checks come without anything else happening.
        wait_until(lambda: proof_json(relay, "honest")["checks"] >= first + 2, 30, "two scheduled re-checks")

        key_text = signing_key(relay)
        bundle = fetch_bundle(relay, "honest")
        ok = verify(lab, bundle, "--relay-key", key_text)
        assert ok.returncode == EXIT_OK, ok
        assert "OK: the signature holds" in ok.stdout
        ok = verify(lab, bundle, "--relay-key", key_text, "--fingerprint", fp)
        assert ok.returncode == EXIT_OK, ok
        bad = verify(lab, bundle, "--relay-key", key_text, "--fingerprint", other)
        assert bad.returncode == EXIT_FINGERPRINT, bad
        assert "fingerprint mismatch" in bad.stderr and other in bad.stderr
    finally:
        agent.stop()


def canonical(value):
    """docs/protocol.md §10's canonical form, written independently of the C code."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_changed_or_resigned_bundle_fails_verify(lab, relay):
    host = f"signed.{DOMAIN}"
    cert, key, fp = make_cert(lab, "signed", host)
    agent = ProofAgent(relay, relay.create_key(), "signed", fp, cert, key)
    try:
        wait_result(relay, "signed", "verified")
        key_text = signing_key(relay)
        bundle = fetch_bundle(relay, "signed")
        doc = json.loads(bundle)
        # The bytes served are the canonical form (our independent writer agrees), newline-ended.
        assert bundle == canonical(doc) + b"\n"
        assert verify(lab, bundle, "--relay-key", key_text).returncode == EXIT_OK

        # One byte changed anywhere: every position of the document up to 1,500, then a sample.
        positions = list(range(len(bundle)))
        if len(positions) > 1500:
            positions = positions[:1000] + positions[1000::max(1, (len(positions) - 1000) // 500)]

        def flipped(i):
            b = bytearray(bundle)
            b[i] ^= 0x01
            return i, verify(lab, bytes(b), "--relay-key", key_text, label=f"flip-{i}")

        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(flipped, positions))
        passed = [i for i, r in results if r.returncode == EXIT_OK or r.returncode not in (3, 4, 5)]
        assert not passed, f"bundles changed at {passed[:10]} were not refused as changed"
        for i, r in results:
            assert "FAILED" in r.stderr, (i, r.stderr)

        # A change inside the signed document itself is a bad signature, by name.
        start = bundle.index(b'"host":"') + len(b'"host":"')
        i, r = flipped(start)
        assert r.returncode == EXIT_BAD_SIGNATURE, r
        assert "bad signature" in r.stderr

        # The same document re-signed by another key: valid for that key, refused for ours.
        other = Ed25519PrivateKey.generate()
        other_pub = other.public_key().public_bytes_raw() if hasattr(other.public_key(), "public_bytes_raw") \
            else other.public_key().public_bytes(*_raw_encoding())
        other_key = "ed25519:" + base64.b64encode(other_pub).decode()
        message = b"nfltr-proof-v1\n" + canonical(doc["proof"])
        resigned = dict(doc, **{"relay-key": other_key,
                                "signature": base64.b64encode(other.sign(message)).decode()})
        forged = canonical(resigned) + b"\n"
        r = verify(lab, forged, "--relay-key", key_text, label="resigned")
        assert r.returncode == EXIT_OTHER_KEY, r
        assert "signed by another relay key" in r.stderr and other_key in r.stderr
        # ... and the signature itself is good: only the key gives it away.
        assert verify(lab, forged, "--relay-key", other_key, label="resigned2").returncode == EXIT_OK
    finally:
        agent.stop()


def _raw_encoding():
    from cryptography.hazmat.primitives import serialization
    return serialization.Encoding.Raw, serialization.PublicFormat.Raw


def test_inspectable_tunnel_is_labelled_never_verified(lab, relay):
    host = f"plain.{DOMAIN}"
    cert, key, fp = make_cert(lab, "plain", host)
    agent = ProofAgent(relay, relay.create_key(), "plain", fp, cert, key, mode=2)
    try:
        proof = proof_json(relay, "plain")
        assert proof["result"] == "inspectable" and proof["mode"] == "inspectable"
        assert proof["observed-fingerprint"] is None and proof["checks"] == 0
        assert any("can read" in s for s in proof["relay-can-see"])
        r = curl(f"https://{DOMAIN}:{relay.port}/proof/plain", "-k", resolve=(DOMAIN, relay.port))
        assert b"Inspectable: the relay can read" in r.body and b"Verified:" not in r.body
        out = verify(lab, fetch_bundle(relay, "plain"), "--relay-key", signing_key(relay))
        assert out.returncode == EXIT_NOT_VERIFIED, out
        assert "not verified" in out.stderr and "inspectable" in out.stderr
    finally:
        agent.stop()


def test_real_agent_pins_the_signing_key_and_proves_its_tunnel(lab, relay, origin):
    agent = Agent(lab)
    agent.login(relay)
    with open(os.path.join(agent.home, ".config", "nfltr", "relay.json")) as f:
        assert json.load(f)["signing-key"] == signing_key(relay)
    tunnel = agent.http(origin.port, "--name", "real")
    proof = wait_result(relay, "real", "verified")
    assert proof["observed-fingerprint"] == tunnel.fingerprint

    out_file = lab.path("real.proof.json")
    r = agent.run("proof", "real", "-o", out_file)
    assert r.returncode == EXIT_OK, r
    assert "OK: the signature holds" in r.stdout
    # Offline, against the pinned key (no --relay-key).
    r = agent.run("verify", out_file, "--fingerprint", tunnel.fingerprint)
    assert r.returncode == EXIT_OK, r
    assert signing_key(relay) in r.stdout

    # The relay comes back with another signing key: the agent refuses it, loudly.
    relay.stop()
    os.unlink(os.path.join(relay.data_dir, "relay-signing.key"))
    relay.start()

    def refused():
        s = agent.run("status", "--json")
        st = json.loads(s.stdout) if s.returncode == 0 else {}
        return st.get("state") == "fingerprint-mismatch" and "signing key" in st.get("error", "")
    wait_until(refused, 60, "the agent to refuse the relay's new signing key")
    # Refused for good, not retried in a loop: one connection to the new relay, no more.
    time.sleep(3)
    assert relay.proc.text().count("connected from") == 1, relay.proc.text()
    tunnel.proc.stop()
    # Logging in again to the same relay (same certificate) does not quietly take the new key.
    r = agent.run("login", "--relay", relay.address, "--fingerprint", relay.fingerprint(),
                  env={"NFLTR_API_KEY": relay.create_key()})
    assert r.returncode == 1, r
    assert "proof signing key" in r.stderr and "has changed" in r.stderr, r.stderr


def tunnel_property(agent, tunnel_id, prop):
    r = subprocess.run(["gdbus", "call", "--address", agent.bus.address, "--dest", "xyz.nfltr.Nfltr.Service",
                        "--object-path", f"/xyz/nfltr/Nfltr/tunnels/{tunnel_id}", "--method",
                        "org.freedesktop.DBus.Properties.Get", "xyz.nfltr.Nfltr.Tunnel", prop],
                       env=agent.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def tunnel_id(agent, name):
    r = agent.run("list", "--json")
    assert r.returncode == 0, r
    return next(t["id"] for t in json.loads(r.stdout) if t["name"] == name)


class TamperingPath(threading.Thread):
    """Between the real agent and the relay: control channels pass untouched, but every data
    connection is answered by this path's own TLS server (certificate `cert`) instead of the
    agent's. The agent declares its real certificate; the relay's check sees ours."""

    def __init__(self, relay, cert, key):
        super().__init__(daemon=True)
        self.relay, self.cert, self.key = relay, cert, key
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.start()

    def run(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    @staticmethod
    def pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def handle(self, conn):
        upstream = socket.create_connection(("127.0.0.1", self.relay.port), timeout=30)
        first = conn.recv(1, socket.MSG_PEEK)
        if first != b"N":
            threading.Thread(target=self.pipe, args=(upstream, conn), daemon=True).start()
            self.pipe(conn, upstream)
            return
        preamble = b""
        while len(preamble) < 40:
            preamble += conn.recv(40 - len(preamble))
        upstream.sendall(preamble)
        conn.close()   # the agent never sees this connection's TLS
        # A warm-pool slot (docs/protocol.md §5.1): the relay writes its take header first.
        with contextlib.suppress(OSError):
            if upstream.recv(1, socket.MSG_PEEK) == b"N":
                header = b""
                while len(header) < 8 or len(header) < 8 + header[7]:
                    more = upstream.recv((8 if len(header) < 8 else 8 + header[7]) - len(header))
                    if not more:
                        break
                    header += more
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        with contextlib.suppress(OSError, ssl.SSLError):
            with ctx.wrap_socket(upstream, server_side=True) as tls:
                tls.recv(4096)

    def close(self):
        self.listener.close()


def test_app_sees_the_check_on_the_tunnel_object(lab, relay, origin):
    """The service mirrors the relay's check on the Tunnel object the app shows: verified for an
    honest path; flagged when what answers the relay's check is not the agent's certificate."""
    cert, key, forged = make_cert(lab, "forged", f"watched.{DOMAIN}")
    path = TamperingPath(relay, cert, key)
    try:
        agent = Agent(lab)
        r = agent.run("login", "--relay", f"{DOMAIN}:{path.port}", "--fingerprint", relay.fingerprint(),
                      env={"NFLTR_API_KEY": relay.create_key()})
        assert r.returncode == 0, r
        tunnel = agent.http(origin.port, "--name", "watched")
        proof = wait_result(relay, "watched", "mismatch")
        assert proof["observed-fingerprint"] == forged and proof["declared-fingerprint"] == tunnel.fingerprint
        tid = tunnel_id(agent, "watched")
        wait_until(lambda: tunnel_property(agent, tid, "ProofFlagged") == "(<true>,)", 30,
                   "the Tunnel object's ProofFlagged to turn true")
        assert tunnel_property(agent, tid, "ProofResult") == "(<'mismatch'>,)"
        assert forged in tunnel_property(agent, tid, "ProofObservedFingerprint")

        # The bundle the app exports (GetProofBundle) is the relay's, and says so.
        r = subprocess.run(["gdbus", "call", "--address", agent.bus.address, "--dest", "xyz.nfltr.Nfltr.Service",
                            "--object-path", f"/xyz/nfltr/Nfltr/tunnels/{tid}", "--method",
                            "xyz.nfltr.Nfltr.Tunnel.GetProofBundle"],
                           env=agent.env(), capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "nfltr-proof-v1" in r.stdout and r'\"flagged\":true' in r.stdout
        tunnel.proc.stop()
    finally:
        path.close()


def test_app_sees_verified_for_an_honest_tunnel(lab, relay, origin):
    agent = Agent(lab)
    agent.login(relay)
    tunnel = agent.http(origin.port, "--name", "fine")
    wait_result(relay, "fine", "verified")
    tid = tunnel_id(agent, "fine")
    wait_until(lambda: tunnel_property(agent, tid, "ProofResult") == "(<'verified'>,)", 30,
               "the Tunnel object's ProofResult to say verified")
    assert tunnel_property(agent, tid, "ProofFlagged") == "(<false>,)"
    assert tunnel.fingerprint in tunnel_property(agent, tid, "ProofObservedFingerprint")
    checked = int(tunnel_property(agent, tid, "ProofChecked").split()[-1].rstrip(">,)"))
    assert checked > 0
    tunnel.proc.stop()


def test_checks_can_be_turned_off(lab):
    """--proof-interval 0: no check, no CONN_OPEN to the agent; the tunnel stays pending and is
    never called verified."""
    relay = Relay(lab, extra_args=["--proof-interval", "0"]).start()
    host = f"unchecked.{DOMAIN}"
    cert, key, fp = make_cert(lab, "unchecked", host)
    agent = ProofAgent(relay, relay.create_key(), "unchecked", fp, cert, key)
    try:
        time.sleep(3)
        proof = proof_json(relay, "unchecked")
        assert proof["result"] == "pending" and proof["checks"] == 0 and proof["checked"] is None, proof
        assert agent.handshakes == 0
        out = verify(lab, fetch_bundle(relay, "unchecked"), "--relay-key", signing_key(relay))
        assert out.returncode == EXIT_NOT_VERIFIED, out
    finally:
        agent.stop()
