"""The WireGuard track end to end through the real relay (issue 12): two real agents
(`nfltr-service` on private buses, driven by the real CLI) — one `nfltr wg serve`, one
`nfltr wg socks5` — and curl through the SOCKS5 server; UDP through SOCKS5 UDP ASSOCIATE;
addresses stable across a relay restart; the UDP-blocked fallback (WG_PACKET on the control
channel); and what the relay sees on its UDP port: only WireGuard message types 1–4, never a
marker sent through the tunnel.

Everything runs on loopback in the host namespace; the nftables rule of the fallback test
names the relay's own random port only.
"""
import hashlib
import http.server
import json
import os
import secrets
import socket
import struct
import subprocess
import threading
import time

import pytest

from nfltrlab import Agent, Relay, wait_until

SIZE = int(os.environ.get("NFLTR_WG_RELAY_MIB", "20")) << 20
MARKER = b"NFLTR-PLAINTEXT-MARKER-" + secrets.token_hex(8).encode()
# the marker repeated through the blob: a relay that saw inner bytes would see it
BLOB = (secrets.token_bytes(4000) + MARKER) * (SIZE // (4000 + len(MARKER)) + 1)
BLOB = BLOB[:SIZE]


class BlobHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(BLOB)))
        self.end_headers()
        self.wfile.write(BLOB)


@pytest.fixture
def origin(lab):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BlobHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def udp_echo(lab):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    stop = threading.Event()

    def run():
        s.settimeout(0.2)
        while not stop.is_set():
            try:
                data, peer = s.recvfrom(4096)
            except (socket.timeout, OSError):
                continue
            s.sendto(data, peer)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    yield s.getsockname()[1]
    stop.set()
    t.join(2)
    s.close()


class Net:
    """A relay and two agents of one credential: serve and socks5 of network `net`."""

    def __init__(self, lab, allow="127.0.0.0/8"):
        self.lab = lab
        self.relay = Relay(lab).start()
        key = self.relay.create_key()
        self.serve = Agent(lab, "serve")
        self.peer = Agent(lab, "peer")
        self.serve.login(self.relay, api_key=key)
        self.peer.login(self.relay, api_key=key)
        self.allow = allow
        self.socks_port = None

    def start(self):
        r = self.serve.run("wg", "serve", "--name", "net", "--allow", self.allow, "--json", timeout=60)
        assert r.returncode == 0, (r.stdout, r.stderr)
        self.serve_ready = json.loads(r.stdout.splitlines()[-1])
        assert self.serve_ready["event"] == "ready", r.stdout
        self.socks_port = free_port()
        r = self.peer.run("wg", "socks5", "net", "--listen", f"127.0.0.1:{self.socks_port}", "--json",
                          timeout=60)
        assert r.returncode == 0, (r.stdout, r.stderr)
        self.peer_ready = json.loads(r.stdout.splitlines()[-1])
        assert self.peer_ready["event"] == "ready", r.stdout
        return self

    def status(self, agent):
        r = agent.run("wg", "status", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["networks"]

    def curl(self, url, out, max_time=120):
        return subprocess.run(["curl", "-sS", "--fail", "--max-time", str(max_time), "-o", out,
                               "--socks5-hostname", f"127.0.0.1:{self.socks_port}", url],
                              capture_output=True, text=True, timeout=max_time + 30)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def service_logs(net):
    text = ""
    for agent in (net.serve, net.peer):
        path = os.path.join(agent.home, ".local", "state", "nfltr", "service.log")
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                text += f"----- {agent.name} service.log\n" + f.read()[-6000:]
    return text


def download_ok(net, origin, name="blob"):
    out = os.path.join(net.lab.dir, name)
    r = net.curl(f"http://localhost:{origin}/blob", out)
    assert r.returncode == 0, r.stderr + service_logs(net)
    assert sha256_file(out) == hashlib.sha256(BLOB).hexdigest()


def test_serve_and_socks5_through_the_relay(lab, origin):
    net = Net(lab).start()
    # the serve side is the network's first host; the peer the next one, both in one /20
    assert net.serve_ready["address"].endswith("/20"), net.serve_ready
    assert net.serve_ready["address"].split("/")[0].startswith("100.")
    assert net.peer_ready["address"] != net.serve_ready["address"]
    assert net.peer_ready["listen"] == f"127.0.0.1:{net.socks_port}"

    download_ok(net, origin)

    serve = net.status(net.serve)
    assert [n["network"] for n in serve] == ["net"]
    peers = serve[0]["peers"]
    assert len(peers) == 1, peers
    assert peers[0]["address"] == net.peer_ready["address"].split("/")[0]
    assert peers[0]["kind"] == "peer"
    wait_until(lambda: net.status(net.serve)[0]["peers"][0]["rx-bytes"] > 0, 5, "serve side's byte counters")
    # what the serve side sent the peer is at least the download (counters follow each second)
    wait_until(lambda: net.status(net.peer)[0]["peers"][0]["rx-bytes"] >= SIZE, 5, "the peer's byte counters")
    peer = net.status(net.peer)[0]
    assert peer["peers"][0]["kind"] == "serve"
    assert peer["peers"][0]["last-handshake"] > 0
    assert peer["peers"][0]["endpoint"] == f"127.0.0.1:{net.relay.port}"
    assert peer["transport"] == "udp"


def socks5_request(port, cmd, atyp, addr, dport):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    body = bytes([len(addr)]) + addr.encode() if atyp == 3 else socket.inet_aton(addr)
    s.sendall(bytes([5, cmd, 0, atyp]) + body + struct.pack("!H", dport))
    reply = b""
    while len(reply) < 10:
        chunk = s.recv(10 - len(reply))
        if not chunk:
            break
        reply += chunk
    assert len(reply) == 10, reply
    return s, reply[1], socket.inet_ntoa(reply[4:8]), struct.unpack("!H", reply[8:10])[0]


def test_udp_associate_through_the_relay(lab, udp_echo):
    net = Net(lab).start()
    control, rep, bnd_addr, bnd_port = socks5_request(net.socks_port, 3, 1, "0.0.0.0", 0)
    assert rep == 0
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(3)
    payload = b"udp through wg " + secrets.token_hex(8).encode()
    header = b"\x00\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", udp_echo)
    got = None
    for _ in range(10):
        u.sendto(header + payload, (bnd_addr, bnd_port))
        try:
            got, _ = u.recvfrom(4096)
            break
        except socket.timeout:
            continue
    assert got is not None, "no UDP echo through SOCKS5 UDP ASSOCIATE"
    assert got[10:] == payload
    # a DNS query through the association, answered by the serve side's resolver (100.64.x.1:53)
    dns = net.serve_ready["address"].split("/")[0]
    query = (struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x09localhost\x00" + struct.pack("!HH", 1, 1))
    header = b"\x00\x00\x00\x01" + socket.inet_aton(dns) + struct.pack("!H", 53)
    answer = None
    for _ in range(10):
        u.sendto(header + query, (bnd_addr, bnd_port))
        try:
            while answer is None:
                got, _ = u.recvfrom(4096)
                # late echoes of the retried datagram above are not the answer
                if got[10:12] == b"\x12\x34":
                    answer = got
            break
        except socket.timeout:
            continue
    assert answer is not None, "no DNS answer through SOCKS5 UDP ASSOCIATE"
    msg = answer[10:]
    assert msg[:2] == b"\x12\x34" and struct.unpack("!H", msg[6:8])[0] >= 1, msg
    assert socket.inet_aton("127.0.0.1") in msg
    u.close()
    control.close()


def test_addresses_stable_across_relay_restart_and_rejoin(lab, origin):
    net = Net(lab).start()
    serve_addr, peer_addr = net.serve_ready["address"], net.peer_ready["address"]
    net.relay.stop()
    net.relay.start()
    # the agents reconnect by themselves and join again
    wait_until(lambda: all(n["state"] == "online" for n in net.status(net.serve) + net.status(net.peer)),
               60, "both networks online after the relay restart")
    assert net.status(net.serve)[0]["address"] == serve_addr
    assert net.status(net.peer)[0]["address"] == peer_addr
    download_ok(net, origin, "after-restart")
    # leaving gives the address back; joining again with the same key (kept by the service)
    # would be the same address — a fresh key after leave gets the lowest free one again
    r = net.peer.run("wg", "leave", "net")
    assert r.returncode == 0, r.stderr
    assert net.status(net.peer) == []
    wait_until(lambda: net.status(net.serve)[0]["peers"] == [], 10, "the serve side forgets the peer")
    r = net.peer.run("wg", "socks5", "net", "--listen", f"127.0.0.1:{net.socks_port}", "--json", timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["address"] == peer_addr
    download_ok(net, origin, "after-rejoin")


def test_service_restart_brings_networks_back(lab, origin):
    net = Net(lab).start()
    peer_addr = net.peer_ready["address"]
    for agent in (net.serve, net.peer):
        # networks.json keeps the network (and its key: 0600)
        path = os.path.join(agent.home, ".config", "nfltr", "networks.json")
        assert os.stat(path).st_mode & 0o777 == 0o600
        with open(path) as f:
            assert json.load(f)["networks"][0]["name"] == "net"
    # stop the peer's service by its bus name owner and let the CLI start it again
    pid = int(subprocess.run(["dbus-send", f"--bus={net.peer.bus.address}", "--print-reply",
                              "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                              "org.freedesktop.DBus.GetConnectionUnixProcessID",
                              "string:xyz.nfltr.Nfltr.Service"],
                             capture_output=True, text=True, check=True).stdout.split()[-1])
    os.kill(pid, 15)
    wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 10, "the peer's service to stop")
    wait_until(lambda: (net.status(net.peer) or [{}])[0].get("state") == "online", 60,
               "the peer's network back after the service restart")
    assert net.status(net.peer)[0]["address"] == peer_addr
    download_ok(net, origin, "after-service-restart")


@pytest.fixture
def udp_blocked(lab):
    """An nftables table dropping UDP to one port (the relay's), removed afterwards."""
    table = f"nfltr_wg_{os.getpid()}_{secrets.token_hex(3)}"
    ports = []

    def block(port):
        ports.append(port)
        subprocess.run(["nft", "add", "table", "inet", table], check=True)
        subprocess.run(["nft", "add", "chain", "inet", table, "out",
                        "{ type filter hook output priority 0 ; }"], check=True)
        subprocess.run(["nft", "add", "rule", "inet", table, "out", "udp", "dport", str(port), "drop"], check=True)

    yield block
    if ports:
        subprocess.run(["nft", "delete", "table", "inet", table], check=False)


def test_udp_blocked_falls_back_to_the_control_channel(lab, origin, udp_blocked):
    net = Net(lab)
    udp_blocked(net.relay.port)
    net.start()
    download_ok(net, origin, "over-websocket")
    wait_until(lambda: net.status(net.peer)[0]["transport"] == "websocket", 10, "the peer on the control channel")


def test_relay_sees_only_outer_headers(lab, origin):
    """A capture of the relay's UDP port during a download: every datagram is one of the four
    WireGuard messages (type and exact length), and the marker that fills the downloaded file
    is never there."""
    net = Net(lab)
    pcap = os.path.join(lab.dir, "relay-udp.pcap")
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-B", "32768", "-w", pcap, "-s", "0",
                             f"udp port {net.relay.port}"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        net.start()
        download_ok(net, origin, "captured")
        time.sleep(1.0)
    finally:
        dump.terminate()
        dump.wait(10)
    with open(pcap, "rb") as f:
        data = f.read()
    assert MARKER not in data, "the relay's UDP traffic carries a plaintext marker"
    # parse pcap: global header 24 bytes; records: ts_sec, ts_usec, incl_len, orig_len
    magic = struct.unpack("<I", data[:4])[0]
    assert magic in (0xa1b2c3d4, 0xa1b23c4d), hex(magic)
    link = struct.unpack("<I", data[20:24])[0]
    off, types, relayed_data = 24, {}, 0
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = frame[14:] if link == 1 else frame[16:] if link == 113 else frame[4:]
        ihl = (ip[0] & 0x0f) * 4
        sport = struct.unpack("!H", ip[ihl:ihl + 2])[0]
        payload = ip[ihl + 8:]
        t = payload[0]
        assert payload[1:4] == b"\x00\x00\x00", payload[:16].hex()
        assert t in (1, 2, 3, 4), t
        assert (t == 1 and len(payload) == 148) or (t == 2 and len(payload) == 92) or \
               (t == 3 and len(payload) == 64) or \
               (t == 4 and ((len(payload) - 32) % 16 == 0 or len(payload) == 32 + 1420)), \
            (t, len(payload))
        # no inner IPv4 header where the encrypted payload starts
        types[t] = types.get(t, 0) + 1
        if t == 4 and sport == net.relay.port:
            relayed_data += len(payload)
    assert types.get(1) and types.get(2) and types.get(4, 0) > 100, types
    # the download reached the peer over UDP from the relay, not over its control channel (most
    # of it: a loaded machine's capture may drop some datagrams, and the first ones of a session
    # may go both ways while the agent probes)
    assert relayed_data >= SIZE // 2, (relayed_data, SIZE)
