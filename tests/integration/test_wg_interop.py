"""WireGuard interop (issue 12): our device, driven by nfltr-wg-probe, against stock
wireguard-go + wg in two network namespaces joined by a veth pair.

    ns A (stock)                               ns B (ours)
    wireguard-go wg0 10.9.0.1/24 :51820        nfltr-wg-probe 10.9.0.2 (userspace, no TUN)
    UDP echo on 10.9.0.1:7                     192.168.77.2 (and .3 to roam to)
    192.168.77.1 ── veth ──────────────────────

Every test builds its own lab and removes it. Needs root (namespaces, TUN), wireguard-go and
wg (Debian packages wireguard-go, wireguard-tools); there is no kernel WireGuard here.
"""
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "labs"))
import nslab  # noqa: E402

BUILD = os.environ.get("NFLTR_BUILD_ROOT",
                       os.path.join(os.path.dirname(__file__), "..", "..", "build"))
PROBE = os.path.join(BUILD, "tests", "unit", "wg", "nfltr-wg-probe")
PYTHON = "/usr/bin/python3"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("wireguard-go") is None or shutil.which("wg") is None,
    reason="needs root, wireguard-go and wg (tools/packages.txt)")

ECHO_SERVER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.9.0.1", 7))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(4096)
    s.sendto(data, peer)
"""

# A handshake flood as an attacker who knows our public key would send it: initiations with
# a valid mac1 (so they pass the cheap check) and garbage inside. Counts the cookie replies.
FLOODER = r"""
import hashlib, os, socket, sys, time
public, target, port, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
import base64
mac1_key = hashlib.blake2s(b"mac1----" + base64.b64decode(public)).digest()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
sent = cookies = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    body = bytes([1, 0, 0, 0]) + os.urandom(4 + 32 + 48 + 28)
    msg = body + hashlib.blake2s(body, key=mac1_key, digest_size=16).digest() + bytes(16)
    try:
        s.sendto(msg, (target, port))
        sent += 1
    except BlockingIOError:
        pass
    try:
        while True:
            reply = s.recv(2048)
            if len(reply) == 64 and reply[0] == 3:
                cookies += 1
                if cookies == 1:
                    print("under-load", flush=True)
    except BlockingIOError:
        pass
    time.sleep(0.001)  # pacing: about a thousand a second, far above the device's threshold
print(sent, cookies, flush=True)
"""


# ICMP echo from inside a namespace (no iputils here): prints how many of COUNT requests were
# answered within WAIT seconds each; an optional source address plays `ping -I`.
PINGER = r"""
import os, socket, struct, sys, time

target, count, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
source = sys.argv[4] if len(sys.argv) > 4 else None
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
if source: s.bind((source, 0))
ident, answered = os.getpid() & 0xffff, 0
for seq in range(count):
    body = b"nfltr-wg-interop"
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    s.sendto(struct.pack("!BBHHH", 8, 0, csum(hdr + body), ident, seq) + body, (target, 0))
    end = time.monotonic() + wait
    while time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try: pkt = s.recv(2048)
        except socket.timeout: break
        ihl = (pkt[0] & 15) * 4
        t, _, _, i, q = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
        if t == 0 and i == ident and q == seq:
            answered += 1
            break
print(answered, flush=True)
"""


def run(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


class WgLab:
    def __init__(self):
        self.net = nslab.Lab().open()
        self.tmp = f"/tmp/nfltr-wg-{self.net.tag}"
        # wireguard-go's control socket is /var/run/wireguard/<name>.sock, shared by every
        # namespace: a name of this run's own, so a concurrent run or a stale socket of
        # another cannot take ours.
        self.iface = f"nfwg{self.net.tag}"
        os.makedirs(self.tmp)
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self):
        self.a, self.b = self.net.host("wga"), self.net.host("wgb")
        self.va, self.vb = self.net.veth(self.a, "192.168.77.1/24", self.b, "192.168.77.2/24")
        self.net.addr(self.b, self.vb, "192.168.77.3/24")

        self.key_a = run("wg", "genkey").stdout.strip()
        self.pub_a = run("wg", "pubkey", input=self.key_a).stdout.strip()
        self.key_b = run("wg", "genkey").stdout.strip()
        self.pub_b = run("wg", "pubkey", input=self.key_b).stdout.strip()
        with open(os.path.join(self.tmp, "a.key"), "w") as f:
            f.write(self.key_a + "\n")

        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"/var/run/wireguard/{self.iface}.sock")
        log = os.path.join(self.tmp, "wireguard-go.log")
        with open(log, "w") as out:
            wggo = self.net.popen(self.a, ["wireguard-go", "-f", self.iface], stdout=out,
                                  stderr=subprocess.STDOUT)
        self.net.wait_link(self.a, self.iface, timeout=20, proc=wggo, log=log)
        self.ns(self.a, "wg", "set", self.iface, "private-key", os.path.join(self.tmp, "a.key"),
                "listen-port", "51820", "peer", self.pub_b, "allowed-ips", "10.9.0.2/32",
                "endpoint", "192.168.77.2:51821")
        self.ns(self.a, "ip", "addr", "add", "10.9.0.1/24", "dev", self.iface)
        self.ns(self.a, "ip", "link", "set", self.iface, "up")

        echo = self.net.popen(self.a, [PYTHON, "-c", ECHO_SERVER], stdout=subprocess.PIPE, text=True)
        assert echo.stdout.readline().strip() == "ready"

    def ns(self, ns, *args, **kw):
        return run("ip", "netns", "exec", ns, *args, **kw)

    def probe_args(self, *extra):
        return ["ip", "netns", "exec", self.b, PROBE, "--private-key", self.key_b, "--peer", self.pub_a,
                "--listen", "192.168.77.2:51821", "--address", "10.9.0.2",
                "--allowed-ip", "10.9.0.1/32", *extra]

    def probe(self, *extra, timeout=60):
        out = run(*self.probe_args(*extra), timeout=timeout)
        return json.loads(out.stdout.strip().splitlines()[-1])

    def start_probe(self, *extra):
        p = subprocess.Popen(self.probe_args(*extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.net.procs.append(p)
        # Its socket is bound and its peer configured once it says so.
        assert json.loads(p.stdout.readline()) == {"ready": True}
        return p

    def ping(self, target, count=1, wait=3, source=None):
        """Echo requests from ns A (through wireguard-go); returns how many were answered."""
        args = [PYTHON, "-c", PINGER, target, str(count), str(wait)] + ([source] if source else [])
        return int(self.ns(self.a, *args, timeout=count * wait + 30).stdout.strip())

    def wg_show(self, field):
        return self.ns(self.a, "wg", "show", self.iface, field).stdout.strip()

    def close(self):
        self.net.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture
def wglab():
    lab = WgLab()
    yield lab
    lab.close()


def probe_json(p, timeout=60):
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_handshake_ping_and_udp_echo(wglab):
    r = wglab.probe("--endpoint", "192.168.77.1:51820", "--initiate", "--ping", "10.9.0.1",
                    "--udp", "10.9.0.1:7", "--duration", "4")
    assert r["handshakes"] == 1
    assert r["pings_sent"] >= 10 and r["pings_received"] == r["pings_sent"]
    # The first datagram may beat nothing here (the echo server said ready), so all come back.
    assert r["udp_sent"] >= 10 and r["udp_received"] == r["udp_sent"]
    assert "10.9.0.2/32" in wglab.wg_show("allowed-ips")
    latest = int(wglab.wg_show("latest-handshakes").split()[-1])
    assert latest > 0, "wireguard-go did not record a handshake"


def test_stock_peer_initiates_and_pings_us(wglab):
    p = wglab.start_probe("--duration", "6")
    answered = wglab.ping("10.9.0.2", count=3)
    r = probe_json(p)
    assert answered == 3
    assert r["echo_answered"] >= 3
    assert r["handshakes"] == 1


def test_rekey_after_forced_timer(wglab):
    # REKEY_AFTER_TIME shortened to 2 s: the initiator rekeys (rate-limited by REKEY_TIMEOUT,
    # 5 s), traffic keeps flowing across the change of keys.
    r = wglab.probe("--endpoint", "192.168.77.1:51820", "--initiate", "--ping", "10.9.0.1",
                    "--rekey-after", "2", "--duration", "9")
    assert r["handshakes"] >= 2
    assert r["pings_received"] >= r["pings_sent"] - 1


def test_roaming_source_address_changes(wglab):
    # Half way the probe moves from 192.168.77.2:51821 to 192.168.77.3:51822; wireguard-go
    # must follow (its endpoint changes) and pings keep being answered.
    r = wglab.probe("--endpoint", "192.168.77.1:51820", "--initiate", "--ping", "10.9.0.1",
                    "--roam-to", "192.168.77.3:51822", "--duration", "6")
    assert r["port"] == 51822
    assert r["pings_received"] >= r["pings_sent"] - 1
    assert wglab.wg_show("endpoints").split()[-1] == "192.168.77.3:51822"


def test_stock_peer_roams_and_we_follow(wglab):
    p = wglab.start_probe("--duration", "8")
    first = wglab.ping("10.9.0.2", count=2)
    wglab.ns(wglab.a, "wg", "set", wglab.iface, "listen-port", "51999")
    second = wglab.ping("10.9.0.2", count=2)
    r = probe_json(p)
    assert (first, second) == (2, 2)
    assert r["endpoint"] == "192.168.77.1:51999"


def test_replayed_data_packet_is_dropped_and_counted(wglab):
    r = wglab.probe("--own-transport", "--endpoint", "192.168.77.1:51820", "--initiate", "--ping",
                    "10.9.0.1", "--duration", "4", "--replay", "3")
    assert r["pings_received"] >= 10
    assert r["replay_captured"]
    assert r["replay_dropped_after"] - r["replay_dropped_before"] == 3
    assert r["replay_rx_after"] == r["replay_rx_before"], "a replayed packet was delivered"


def test_inner_source_outside_allowed_ips_is_dropped(wglab):
    # wireguard-go sends from 10.9.0.77, which it may (its side routes by destination), but
    # our peer entry allows only 10.9.0.1/32.
    wglab.ns(wglab.a, "ip", "addr", "add", "10.9.0.77/32", "dev", wglab.iface)
    p = wglab.start_probe("--duration", "7")
    good = wglab.ping("10.9.0.2", count=2)
    bad = wglab.ping("10.9.0.2", count=3, wait=1, source="10.9.0.77")
    r = probe_json(p)
    assert good == 2
    assert bad == 0, "a packet from outside the allowed IPs was answered"
    assert r["dropped_allowed_ips"] == 3
    assert r["echo_answered"] == 2


def test_handshake_flood_gets_cookies_and_legitimate_peer_connects(wglab):
    # The probe is not forced: the flood itself puts the device under load (paper §5.3).
    p = wglab.start_probe("--duration", "24")
    flood = subprocess.Popen(["ip", "netns", "exec", wglab.a, PYTHON, "-c", FLOODER, wglab.pub_b,
                              "192.168.77.2", "51821", "18"], stdout=subprocess.PIPE, text=True)
    wglab.net.procs.append(flood)
    # The first cookie reply: the device has decided it is under load.
    assert flood.stdout.readline().strip() == "under-load"
    connected_at = None
    start = time.monotonic()
    while time.monotonic() - start < 15:
        if wglab.ping("10.9.0.2", count=1, wait=1) == 1:
            connected_at = time.monotonic()
            break
    still_flooding = flood.poll() is None
    sent, cookies = map(int, flood.communicate(timeout=30)[0].split())
    r = probe_json(p)
    assert connected_at is not None, f"the legitimate peer never connected: {r}"
    assert still_flooding, "the peer connected only after the flood ended"
    assert cookies > 0 and r["cookie_replies_sent"] >= cookies
    # wireguard-go answered our cookie with mac2 on its retry, and only its handshake counted.
    assert r["handshakes"] == 1
    assert r["echo_answered"] >= 1
    print(f"flood: {sent} initiations, {cookies} cookie replies; peer connected after "
          f"{connected_at - start:.1f} s", file=sys.stderr)
