"""A stock WireGuard peer (wireguard-go + `wg`, TUN in a network namespace) joins an NFLTR
network through the relay with the config `nfltr wg export` wrote (issue 12): ping of the serve
side's address, a TCP download with matching SHA-256 and a UDP echo — both to an address
that only the serve side (an `nfltr-service` in the host namespace) reaches — then roaming:
the stock peer's source address changes and traffic still flows.

    netns S: wireguard-go wg0 (from the export) ── veth 10.77.N.2 ──► host 10.77.N.1:PORT
             (the relay's UDP port, same number as its TLS port) ──► serve agent's netstack
             ──► forwarder ──► 10.78.N.1 (an address on the host side only)
"""
import hashlib
import contextlib
import json
import os
import re
import secrets
import subprocess
import sys

import pytest

from nfltrlab import Agent, Relay, wait_until
from test_wg_interop import PINGER

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "labs"))
import nslab  # noqa: E402

PYTHON = "/usr/bin/python3"
BLOB = secrets.token_bytes(int(os.environ.get("NFLTR_WG_STOCK_MIB", "4")) << 20)

UDP_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
msg = sys.argv[3].encode()
for _ in range(10):
    s.sendto(msg, (sys.argv[1], int(sys.argv[2])))
    try:
        data, _ = s.recvfrom(4096)
    except socket.timeout:
        continue
    if data == msg:
        print("echoed", flush=True)
        break
"""


def run(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


class StockLab:
    def __init__(self, lab):
        self.lab = lab
        self.net = nslab.Lab().open()
        tag = self.net.tag
        n = int(tag[:2], 16) % 200 + 20
        # wireguard-go's control socket is /var/run/wireguard/<name>.sock, shared by every
        # namespace: a name of this run's own
        self.dev = f"wgs{tag}"
        self.host_ip, self.ns_ip, self.ns_ip2 = f"10.77.{n}.1", f"10.77.{n}.2", f"10.77.{n}.3"
        self.lan_ip, self.lan_net = f"10.78.{n}.1", f"10.78.{n}.0/24"
        self.servers = []
        self.udp = None
        self.ns = self.net.host("stock")
        self.host_if, self.ns_if = self.net.veth(None, f"{self.host_ip}/24", self.ns, f"{self.ns_ip}/24",
                                                 dev2="eth0")
        # the "LAN" only the serve side (host namespace) reaches: no route to it from S but wg0
        self.net.addr(None, self.host_if, f"{self.lan_ip}/32")

        self.relay = Relay(lab, extra_args=["--listen", f"0.0.0.0:{0}"])
        self.relay.extra_args = ["--listen", f"0.0.0.0:{self.relay.port}"]
        self.relay.start()
        self.serve = Agent(lab, "serve")
        self.serve.login(self.relay)
        r = self.serve.run("wg", "serve", "--name", "lan", "--allow", self.lan_net, "--json", timeout=60)
        assert r.returncode == 0, (r.stdout, r.stderr)

        self.servers.append(nslab.BlobServer(BLOB, self.lan_ip))
        self.http_port = self.servers[0].port
        self.udp = nslab.UdpEcho(self.lan_ip)
        self.udp_port = self.udp.port

    def in_ns(self, *args, **kw):
        return run("ip", "netns", "exec", self.ns, *args, **kw)

    def export(self):
        path = os.path.join(self.lab.dir, "laptop.conf")
        r = self.serve.run("wg", "export", "lan", "--peer", "laptop", "-o", path,
                           "--endpoint", f"{self.host_ip}:{self.relay.port}")
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert os.stat(path).st_mode & 0o777 == 0o600
        with open(path) as f:
            text = f.read()
        conf = {}
        for line in text.splitlines():
            m = re.match(r"^(\w+)\s*=\s*(.+)$", line)
            if m:
                conf[m.group(1)] = m.group(2).strip()
        return text, conf

    def start_stock(self, conf):
        key = os.path.join(self.lab.dir, "laptop.key")
        with open(key, "w") as f:
            f.write(conf["PrivateKey"] + "\n")
        log = os.path.join(self.lab.dir, "wireguard-go.log")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"/var/run/wireguard/{self.dev}.sock")
        with open(log, "w") as out:
            wggo = self.net.popen(self.ns, ["wireguard-go", "-f", self.dev], stdout=out,
                                  stderr=subprocess.STDOUT)
        self.net.wait_link(self.ns, self.dev, timeout=20, proc=wggo, log=log)
        allowed = conf["AllowedIPs"].replace(" ", "")
        self.in_ns("wg", "set", self.dev, "private-key", key, "peer", conf["PublicKey"], "endpoint",
                   conf["Endpoint"], "allowed-ips", allowed, "persistent-keepalive", conf["PersistentKeepalive"])
        self.in_ns("ip", "addr", "add", conf["Address"], "dev", self.dev)
        self.in_ns("ip", "link", "set", self.dev, "up")
        for cidr in allowed.split(","):
            self.in_ns("ip", "route", "replace", cidr, "dev", self.dev)

    def close(self):
        for s in self.servers:
            s.close()
        if self.udp is not None:
            self.udp.close()
        self.net.close()


@pytest.fixture
def stock(lab):
    s = StockLab(lab)
    yield s
    s.close()


def ping(stock, target, count=3, wait=3):
    """ICMP echo from S (the interop test's raw-socket pinger: there is no ping binary)."""
    r = stock.in_ns(PYTHON, "-c", PINGER, target, str(count), str(wait), check=False, timeout=count * wait + 30)
    stock.last_ping = r.stdout + r.stderr
    return int(r.stdout.strip() or 0)


def download(stock, name):
    out = os.path.join(stock.lab.dir, name)
    r = stock.in_ns("curl", "-sS", "--fail", "--max-time", "120", "-o", out,
                    f"http://{stock.lan_ip}:{stock.http_port}/blob", check=False, timeout=150)
    assert r.returncode == 0, r.stderr
    with open(out, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == hashlib.sha256(BLOB).hexdigest()


def udp_echo(stock):
    r = stock.in_ns(PYTHON, "-c", UDP_CLIENT, stock.lan_ip, str(stock.udp_port), "stock " + secrets.token_hex(4),
                    check=False, timeout=60)
    return r.stdout.strip() == "echoed"


def test_stock_wireguard_go_through_the_relay(stock):
    text, conf = stock.export()
    # what the export holds: a key pair made for the stock peer, its address in the network,
    # the serve side as its peer through the relay's UDP port
    assert conf["Address"].startswith("100.") and conf["Address"].endswith("/32"), text
    assert conf["Endpoint"] == f"{stock.host_ip}:{stock.relay.port}", text
    assert stock.lan_net in conf["AllowedIPs"] and "/20" in conf["AllowedIPs"], text
    status = stock.serve.run("wg", "status", "--json")
    net = json.loads(status.stdout)["networks"][0]
    serve_addr = net["address"].split("/")[0]
    assert conf["PublicKey"] == net["public-key"]
    # the serve side hears of the stock peer from the relay, with its export name
    wait_until(lambda: any(p["name"] == "laptop" and p["kind"] == "stock"
                           for p in json.loads(stock.serve.run("wg", "status", "--json").stdout)
                           ["networks"][0]["peers"]), 10, "the stock peer in wg status")

    stock.start_stock(conf)
    # the first echo request waits for the handshake
    assert ping(stock, serve_addr, 5) >= 1, "no echo reply from the serve side's address: " + stock.last_ping
    download(stock, "stock-blob")
    assert udp_echo(stock), "no UDP echo through the serve side"
    hs = stock.in_ns("wg", "show", stock.dev, "latest-handshakes").stdout.split()
    assert len(hs) == 2 and int(hs[1]) > 0

    # roaming: the stock peer's source address changes; the relay follows its newest source
    # (deleting a primary address deletes its secondaries: remove first, then add)
    stock.in_ns("ip", "addr", "del", f"{stock.ns_ip}/24", "dev", stock.ns_if)
    stock.in_ns("ip", "addr", "add", f"{stock.ns_ip2}/24", "dev", stock.ns_if)
    wait_until(lambda: ping(stock, serve_addr, 1) == 1, 60, "ping after the stock peer roamed")
    download(stock, "stock-blob-roamed")
    assert udp_echo(stock)
