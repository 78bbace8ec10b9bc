"""The relay never sees plaintext in verified mode; inspectable mode says what it is.

Verified: tcpdump captures every byte on the relay's port (public client <-> relay and
relay <-> agent: control channel and data connections) while a random marker travels in a
request body and another in the response body. Neither marker, nor its hex or base64 form, is
in the capture, while both reached their ends, and a control marker sent in clear to the same
port *is* in the capture (so the capture could have seen it).

Inspectable (`--e2ee=false`): the CLI's ready line, the relay API and the certificate the
public client gets all say so: the client gets the relay's certificate, not the agent's.
"""
import os
import secrets
import signal
import socket

from nfltrlab import (curl_tunnel, der_fingerprint, marker_forms, pem_to_der, served_cert_pem,
                      spki_pin, wait_until)


class Capture:
    """tcpdump on lo for one TCP port, written to a pcap file. --immediate-mode and -U: each
    packet is in the file as soon as it is seen (without them the last packets sit in a
    capture buffer block and are lost when tcpdump is stopped)."""

    def __init__(self, lab, port):
        assert os.geteuid() == 0, \
            "capturing loopback needs root: run the tests with `sudo ./tools/test`"
        self.file = lab.path("capture.pcap")
        # -U: write each packet as it comes; -s 0: whole packets.
        self.proc = lab.spawn("tcpdump", ["tcpdump", "-i", "lo", "--immediate-mode", "-n", "-U", "-s", "0",
                                          "-w", self.file, f"tcp port {port}"])
        self.proc.wait_line(r"listening on lo", 15)

    def contains(self, needle):
        with open(self.file, "rb") as f:
            return needle in f.read()

    def stop(self):
        status = self.proc.stop(signal.SIGINT, timeout=10)
        assert status == 0, f"tcpdump exited {status}:\n{self.proc.text()}"
        with open(self.file, "rb") as f:
            return f.read()


def test_relay_forwards_only_ciphertext_in_verified_mode(http_tunnel, lab):
    relay, origin, t = http_tunnel.relay, http_tunnel.origin, http_tunnel.tunnel
    assert t.mode == "verified"
    request_marker, response_marker, control_marker = (secrets.token_bytes(32) for _ in range(3))
    origin.server.response_body = response_marker
    body_file = lab.path("request-body")
    with open(body_file, "wb") as f:
        f.write(request_marker)
    pin = spki_pin(served_cert_pem(t.host, t.port))

    cap = Capture(lab, relay.port)
    r = curl_tunnel(t, "/marker", "--data-binary", f"@{body_file}",
                    "-H", "Content-Type: application/octet-stream", pin=pin)
    # Control: plaintext on the same port, which the relay closes as not-TLS.
    with socket.create_connection(("127.0.0.1", relay.port), timeout=5) as s:
        s.sendall(b"\x00" + control_marker)
        s.settimeout(10)
        try:
            while s.recv(4096):
                pass
        except ConnectionResetError:
            pass
    # Packets reach the file in order: once the control marker is there, so is all before it.
    wait_until(lambda: cap.contains(control_marker), 10, "the control marker in the capture")
    capture = cap.stop()

    # Both markers reached their ends...
    assert r.curl_rc == 0 and r.status == 200, r
    assert r.body == response_marker, r
    assert any(q["path"] == "/marker" and q["body"] == request_marker for q in origin.requests)
    # ...the capture saw this port's traffic, including bytes sent in clear...
    assert control_marker in capture, "the capture missed plaintext sent to the relay port"
    assert t.host.encode() in capture, "the capture has no ClientHello for the tunnel's host"
    # ...and neither marker crossed the relay's port in any readable form.
    for marker, what in ((request_marker, "request"), (response_marker, "response")):
        for form in marker_forms(marker):
            assert form not in capture, f"the {what} marker is in the capture as {form!r}"


def test_inspectable_mode_is_labelled_and_uses_the_relays_certificate(relay, logged_in, origin):
    t = logged_in.http(origin.port, "--e2ee=false")
    assert t.mode == "inspectable", t.ready

    status, body, raw = relay.api(f"/api/v1/tunnels/{t.host}")
    assert status == 200, raw
    assert body["mode"] == "inspectable", body

    # The public client gets the relay's certificate, not the agent's.
    pem = served_cert_pem(t.host, t.port)
    served = der_fingerprint(pem_to_der(pem))
    assert served == relay.fingerprint(), "public client did not get the relay's certificate"
    assert served != t.fingerprint, "inspectable mode served the agent's own certificate"

    # And it still works, with the relay's key pinned.
    r = curl_tunnel(t, "/inspectable", pin=spki_pin(pem))
    assert r.curl_rc == 0 and r.status == 200, r
    assert any(q["path"] == "/inspectable" for q in origin.requests)

    # The listing says so too.
    r = logged_in.run("list")
    assert r.returncode == 0 and "inspectable" in r.stdout.lower(), r.stdout
