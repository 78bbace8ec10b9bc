"""The WireGuard track's netstack and SOCKS5 front, two processes: curl (and a Python SOCKS5
client for UDP ASSOCIATE) → wg-net-lab socks5 (SOCKS5 → netstack 100.64.0.2) ↔ inner IPv4
packets, one per UDP datagram on loopback ↔ wg-net-lab serve (netstack 100.64.0.1 → forwarder)
→ an HTTP server on 127.0.0.1. The WireGuard device will replace the datagram link (issue 12).
"""
import hashlib
import json
import os
import secrets
import socket
import struct
import subprocess
import sys

import pytest

from nfltrlab import binary

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "labs"))
import nslab  # noqa: E402

BLOB = secrets.token_bytes(16 << 20)


@pytest.fixture
def origin(lab):
    server = nslab.BlobServer(BLOB)
    yield server.port
    server.close()


@pytest.fixture
def udp_echo(lab):
    echo = nslab.UdpEcho()
    yield echo.port
    echo.close()


def start_net(lab, allow=None):
    """Starts the serve side and the SOCKS5 side; returns the SOCKS5 port."""
    lab_bin = binary("tests/unit/wg-net/wg-net-lab")
    argv = [lab_bin, "serve", "--address", "100.64.0.1", "--link-listen", "127.0.0.1:0"]
    if allow is not None:
        argv += ["--allow", allow]
    serve = lab.spawn("wg-serve", argv)
    ready = json.loads(serve.wait_line(r'^\{"event":"ready"', 20).string)
    socks = lab.spawn("wg-socks5", [lab_bin, "socks5", "--address", "100.64.0.2",
                                    "--link-peer", f"127.0.0.1:{ready['link-port']}",
                                    "--dns", "100.64.0.1", "--listen", "127.0.0.1:0"])
    return json.loads(socks.wait_line(r'^\{"event":"ready"', 20).string)["socks-port"]


socks5_request = nslab.socks5_request


def test_curl_socks5_hostname_download_matches(lab, origin):
    port = start_net(lab, allow="127.0.0.0/8")
    out = os.path.join(lab.dir, "blob")
    # socks5h: "localhost" travels as a name and is resolved on the serve side (its DNS on
    # 100.64.0.1:53, reached through the netstack)
    r = subprocess.run(["curl", "-sS", "--fail", "--max-time", "120", "-o", out,
                        "--socks5-hostname", f"127.0.0.1:{port}",
                        f"http://localhost:{origin}/blob"],
                       capture_output=True, text=True, timeout=150)
    assert r.returncode == 0, r.stderr
    with open(out, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == hashlib.sha256(BLOB).hexdigest()


def test_allow_excludes_loopback(lab, origin):
    port = start_net(lab, allow="10.0.0.0/8")
    s, rep, _, _ = socks5_request(port, 1, 1, "127.0.0.1", origin)
    s.close()
    assert rep == 0x02  # RFC 1928 §6: connection not allowed by ruleset
    r = subprocess.run(["curl", "-sS", "--max-time", "30", "--socks5-hostname",
                        f"127.0.0.1:{port}", f"http://localhost:{origin}/blob", "-o", os.devnull],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 97, (r.returncode, r.stderr)  # CURLE_PROXY


def test_default_allow_is_private_networks_only(lab, origin):
    # no --allow: RFC 1918 only, so the serve side's own loopback is out of reach
    port = start_net(lab)
    s, rep, _, _ = socks5_request(port, 1, 1, "127.0.0.1", origin)
    s.close()
    assert rep == 0x02


def test_udp_associate_echo_and_dns(lab, udp_echo):
    port = start_net(lab, allow="127.0.0.0/8")
    control, rep, bnd_addr, bnd_port = socks5_request(port, 3, 1, "0.0.0.0", 0)
    assert rep == 0
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(2)
    try:
        marker = b"nfltr-udp-" + secrets.token_hex(8).encode()
        header = b"\x00\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", udp_echo)
        got = None
        for _ in range(5):
            u.sendto(header + marker, (bnd_addr, bnd_port))
            try:
                got = u.recv(4096)
                break
            except socket.timeout:
                continue
        assert got == header + marker

        # A DNS query for localhost to the serve side's resolver, inside the network
        qid = secrets.randbelow(65536)
        query = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + b"\x09localhost\x00" + \
            struct.pack("!HH", 1, 1)
        dns_header = b"\x00\x00\x00\x01" + socket.inet_aton("100.64.0.1") + struct.pack("!H", 53)
        answer = None
        for _ in range(5):
            u.sendto(dns_header + query, (bnd_addr, bnd_port))
            try:
                answer = u.recv(4096)
                break
            except socket.timeout:
                continue
        assert answer is not None and answer[:10] == dns_header
        dns = answer[10:]
        assert struct.unpack("!H", dns[:2])[0] == qid
        assert dns[3] & 0x0F == 0  # NOERROR
        assert struct.unpack("!H", dns[6:8])[0] >= 1  # ANCOUNT
        assert socket.inet_aton("127.0.0.1") in dns[len(query):]
    finally:
        u.close()
        control.close()


def test_bad_socks5_input_then_still_serving(lab, origin):
    port = start_net(lab, allow="127.0.0.0/8")
    for garbage in (b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00", b"\x05\x00", b"\x05\xff" + b"A" * 300,
                    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", secrets.token_bytes(2048)):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            s.sendall(garbage)
            s.shutdown(socket.SHUT_WR)
            while s.recv(4096):
                pass
        except (ConnectionResetError, BrokenPipeError, OSError):
            # The server may close before our shutdown (ENOTCONN) or reset: what matters is
            # that it still serves below.
            pass
        finally:
            s.close()
    s, rep, _, _ = socks5_request(port, 2, 1, "127.0.0.1", origin)  # BIND
    s.close()
    assert rep == 0x07
    s, rep, _, _ = socks5_request(port, 1, 9, "127.0.0.1", origin)  # address type 9
    s.close()
    assert rep == 0x08
    r = subprocess.run(["curl", "-sS", "--fail", "--max-time", "60", "-o", os.devnull,
                        "-w", "%{size_download}", "--socks5-hostname", f"127.0.0.1:{port}",
                        f"http://127.0.0.1:{origin}/blob"],
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) == len(BLOB)
