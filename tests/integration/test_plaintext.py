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

    def sync(self, port):
        """Sends a fresh marker in clear to PORT (the relay closes it as not-TLS) and waits until
        the file has it: packets are written in order, so everything before is in the file.
        Returns the marker, which also shows the capture sees plaintext on that port."""
        marker = secrets.token_bytes(32)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"\x00" + marker)
            s.settimeout(10)
            try:
                while s.recv(4096):
                    pass
            except ConnectionResetError:
                pass
        wait_until(lambda: self.contains(marker), 10, "the control marker in the capture")
        return marker

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
    request_marker, response_marker = secrets.token_bytes(32), secrets.token_bytes(32)
    origin.server.response_body = response_marker
    body_file = lab.path("request-body")
    with open(body_file, "wb") as f:
        f.write(request_marker)
    pin = spki_pin(served_cert_pem(t.host, t.port))

    cap = Capture(lab, relay.port)
    r = curl_tunnel(t, "/marker", "--data-binary", f"@{body_file}",
                    "-H", "Content-Type: application/octet-stream", pin=pin)
    # Control: plaintext on the same port, which the relay closes as not-TLS.
    control_marker = cap.sync(relay.port)
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


def test_inspectable_mode_is_labelled_and_uses_the_relays_certificate(relay, logged_in, origin,
                                                                      lab):
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

    # It works, with the relay's key pinned; and both hops are still encrypted on the wire
    # (the relay reads the traffic in its memory, not the network): the marker is not in a
    # capture of the relay's port.
    marker = secrets.token_bytes(32)
    origin.server.response_body = marker
    cap = Capture(lab, relay.port)
    r = curl_tunnel(t, "/marker", "--data-binary", "inspectable", pin=spki_pin(pem))
    assert r.curl_rc == 0 and r.status == 200 and r.body == marker, r
    cap.sync(relay.port)
    capture = cap.stop()
    assert t.host.encode() in capture, "the capture has no ClientHello for the tunnel's host"
    for form in marker_forms(marker):
        assert form not in capture, f"the marker crossed the relay's port in clear as {form!r}"

    # The listing says so too.
    r = logged_in.run("list")
    assert r.returncode == 0 and "inspectable" in r.stdout.lower(), r.stdout
