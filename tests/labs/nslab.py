"""nslab — network-namespace labs for the integration tests (needs root).

One `Lab` owns every namespace it creates; their names carry this process's pid and a random
tag (`nfl-<pid>-<tag>-<name>`), so two runs never collide and a lab left behind by a killed
run is removed by the next one (`cleanup_stale`). Devices are created directly inside their
namespaces (`ip link add … netns`), so their names never meet the root namespace's and can be
short and fixed ("wan", "lan"). nftables tables live inside the namespace they filter: deleting
the namespace deletes them. `Lab.close()` — also on a failure inside `with`, and at
interpreter exit — ends every process started in the lab's namespaces, the delay lines, and
deletes the namespaces and their /etc/netns files.

    with nslab.Lab() as lab:
        inet = lab.host("inet", forward=True)
        nat = lab.host("nat", forward=True)
        pc = lab.host("pc")
        lab.veth(inet, "198.18.1.1/24", nat, "198.18.1.2/24")
        lab.veth(nat, "192.168.1.1/24", pc, "192.168.1.10/24")
        lab.route(pc, "default", "192.168.1.1")
        lab.route(nat, "default", "198.18.1.1")
        lab.nat(nat, "wan", "eim")                    # or "random", "fully-random"
        p = lab.popen(pc, ["curl", …])                # ip netns exec …, ended at close

The NAT kinds, as Linux implements them (net/netfilter/nf_nat_core.c):

- ``eim`` — ``masquerade``: the mapping keeps the inside source port whenever the translated
  tuple is unique (`nf_nat_l4proto_unique_tuple`), and a tuple includes the destination, so one
  inside socket gets the same outside port towards every destination: endpoint-independent
  mapping (RFC 4787 §4.1) unless two inside hosts use the same port towards the same
  destination. Filtering is conntrack's: address- and port-dependent (only replies from where
  the inside host sent to get in), which ICE's simultaneous checks punch through; unsolicited
  packets to the box itself are dropped before conntrack keeps them (see `nat`).
  (``persistent`` would not change this: it keeps a client on one address of a range.)
- ``random`` — ``masquerade random``: the outside port is a keyed hash of the whole tuple
  (NF_NAT_RANGE_PROTO_RANDOM), so every destination sees another port: endpoint-dependent
  ("symmetric") mapping. ``fully-random`` — ``masquerade fully-random``: a fresh random port
  per connection (NF_NAT_RANGE_PROTO_RANDOM_FULLY).

`hairpin()` adds the rules a NAT box needs so that two of its inside hosts reach each other
through its outside address (RFC 4787 §6): a DNAT of what arrives from one inside segment for
the outside address to the other host (keeping the port, which `eim` mapping preserved), and a
SNAT of that hairpinned traffic to the outside address, so the answer also crosses the box.
"""
import atexit
import contextlib
import ctypes
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

NETNS_DIR = "/run/netns"
PREFIX = "nfl"
CLONE_NEWNET = 0x40000000
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_libc = ctypes.CDLL(None, use_errno=True)

sys.path.insert(0, os.path.join(TOP, "tools", "netlab"))
import netlab  # noqa: E402  (tools/netlab/netlab.py: the delay line's own lab)

NAT_RULES = {
    "eim": "masquerade",
    "random": "masquerade random",
    "fully-random": "masquerade fully-random",
}


def available():
    """Why a lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def run(*argv, check=True, input=None, timeout=30):
    r = subprocess.run(list(argv), capture_output=True, text=True, input=input, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip() or r.stdout.strip()}")
    return r


# tools/netlab's helpers for what runs in a namespace and for the delay line's binary
_pid_alive = netlab._pid_alive
netns_pids = netlab._netns_pids
delete_netns = netlab._delete_netns   # its processes ended, the namespace and /etc/netns/NS gone
_kill_netns_processes = netlab._kill_netns_processes
delay_line_bin = netlab.delay_line_bin


def cleanup_stale():
    """Removes the namespaces of labs whose owning process is gone."""
    for ns in os.listdir(NETNS_DIR) if os.path.isdir(NETNS_DIR) else []:
        m = re.match(rf"^{PREFIX}-(\d+)-", ns)
        if m and not _pid_alive(int(m.group(1))):
            delete_netns(ns)


class Lab:
    """Namespaces, links, NAT, loss and delay, and what runs inside. See the module doc."""

    def __init__(self):
        self.tag = uuid.uuid4().hex[:6]
        self.namespaces = []
        self.procs = []
        self.delays = []        # (Popen, name) of the delay lines
        self.counters = {}      # delay line name → its JSON counters, after close()
        self._links = 0
        self._closed = True

    # -- life cycle ---------------------------------------------------------------------

    def open(self):
        cleanup_stale()
        self._closed = False
        atexit.register(self.close)
        return self

    def close(self):
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for ns in self.namespaces:
            _kill_netns_processes(ns)
        for p, name in self.delays:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                out, _ = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
            for line in (out or "").splitlines():
                if line.startswith("{"):
                    import json
                    self.counters[name] = json.loads(line)
        for ns in reversed(self.namespaces):
            delete_netns(ns)
        self.namespaces = []

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    # -- building -----------------------------------------------------------------------

    def host(self, name, forward=False, ipv6=False):
        """A new namespace (lo up); forward: a router. IPv6 is off unless asked for, so a
        lab's links carry only what a test sends (no router solicitations, no DAD)."""
        ns = f"{PREFIX}-{os.getpid()}-{self.tag}-{name}"
        assert len(ns) < 64, ns
        run("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        run("ip", "-n", ns, "link", "set", "lo", "up")
        self.sysctl(ns, "net.ipv4.ip_forward", "1" if forward else "0")
        if not ipv6:
            self.sysctl(ns, "net.ipv6.conf.all.disable_ipv6", "1")
            self.sysctl(ns, "net.ipv6.conf.default.disable_ipv6", "1")
        elif forward:
            self.sysctl(ns, "net.ipv6.conf.all.forwarding", "1")
        return ns

    def sysctl(self, ns, key, value):
        run("ip", "netns", "exec", ns, "sysctl", "-qw", f"{key}={value}")

    def veth(self, ns1, addr1, ns2, addr2, dev1=None, dev2=None, mtu=1500):
        """A veth pair from ns1 to ns2, created inside them (names need be unique per
        namespace only); addresses "A.B.C.D/N" or None; returns (dev1, dev2). Deleting ns2
        at close deletes the pair, also an end in the root namespace (ns1 None)."""
        self._links += 1
        # ns1 None: the root namespace (the host side), where names must be unique per run.
        dev1 = dev1 or (f"v{self._links}a" if ns1 else f"nfl{self.tag}{self._links}")
        dev2 = dev2 or f"v{self._links}b"
        where1 = ["netns", ns1] if ns1 else []
        run("ip", "link", "add", "name", dev1, *where1, "mtu", str(mtu), "type", "veth",
            "peer", "name", dev2, "netns", ns2, "mtu", str(mtu))
        for ns, dev, addr in ((ns1, dev1, addr1), (ns2, dev2, addr2)):
            if addr:
                self.addr(ns, dev, addr)
            run("ip", *(["-n", ns] if ns else []), "link", "set", dev, "up")
        return dev1, dev2

    def bridge(self, ns, name="br0", addr=None):
        """A bridge inside ns (a LAN switch); attach veth ends to it with `enslave`."""
        run("ip", "-n", ns, "link", "add", name, "type", "bridge")
        if addr:
            self.addr(ns, name, addr)
        run("ip", "-n", ns, "link", "set", name, "up")
        return name

    def enslave(self, ns, dev, bridge):
        run("ip", "-n", ns, "link", "set", dev, "master", bridge)

    def addr(self, ns, dev, cidr):
        """An address on dev in ns (None: the root namespace)."""
        run("ip", *(["-n", ns] if ns else []), "addr", "add", cidr, "dev", dev)

    def route(self, ns, dst, via=None, dev=None):
        argv = ["ip", "-n", ns, "route", "replace", dst]
        if via:
            argv += ["via", via]
        if dev:
            argv += ["dev", dev]
        run(*argv)

    def nft(self, ns, script):
        """Loads an nftables script inside ns."""
        run("ip", "netns", "exec", ns, "nft", "-f", "-", input=script)

    def nat(self, ns, out_dev, kind="eim"):
        """Source NAT of everything leaving ns through out_dev (see the module doc for what
        each kind maps). Its own table, `nslab_nat`."""
        rule = NAT_RULES[kind]
        # The input chain is every home router's firewall, and what keeps `eim` mapping
        # endpoint-independent under ICE's simultaneous checks: without it, the peer's first
        # check (arriving before ours went out) becomes a conntrack entry of its own for
        # outside:port ↔ peer, and our later packet to the peer must then take another outside
        # port. Dropped in the input hook, that entry is never confirmed (conntrack inserts an
        # entry only once its first packet has passed every hook).
        self.nft(ns, f"""
table ip nslab_nat {{
  chain post {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname "{out_dev}" {rule}
  }}
  chain input_hook {{
    type filter hook input priority filter; policy accept;
    iifname "{out_dev}" ct state new counter drop
  }}
}}
""")

    def hairpin(self, ns, outside, hosts):
        """Hairpin NAT on the box ns whose outside address is `outside`: hosts is
        [(inside_dev, inside_address), (inside_dev, inside_address)]; what one sends to the
        outside address goes to the other (same port), its source made the outside address.
        Forwarding between the inside segments is dropped otherwise, so the hairpin is the
        only way across."""
        (dev_a, ip_a), (dev_b, ip_b) = hosts
        self.nft(ns, f"""
table ip nslab_hairpin {{
  chain pre {{
    type nat hook prerouting priority dstnat; policy accept;
    iifname "{dev_a}" ip daddr {outside} dnat to {ip_b}
    iifname "{dev_b}" ip daddr {outside} dnat to {ip_a}
  }}
  chain post {{
    type nat hook postrouting priority srcnat - 1; policy accept;
    ct status dnat iifname {{ "{dev_a}", "{dev_b}" }} oifname {{ "{dev_a}", "{dev_b}" }} snat to {outside}
  }}
  chain forward_hook {{
    type filter hook forward priority filter; policy accept;
    iifname {{ "{dev_a}", "{dev_b}" }} oifname {{ "{dev_a}", "{dev_b}" }} ct status dnat accept
    iifname {{ "{dev_a}", "{dev_b}" }} oifname {{ "{dev_a}", "{dev_b}" }} drop
  }}
}}
""")

    def drop(self, ns, dev, fraction, proto=None, table=None):
        """Drops a random fraction of what ns forwards or receives through dev (nftables
        `numgen random`), per packet; proto: "udp"/"tcp" or None for all. Returns the table
        name (delete it with `undrop`)."""
        table = table or f"nslab_drop_{dev}"
        per_mille = int(round(fraction * 1000))
        match = f"meta l4proto {proto} " if proto else ""
        self.nft(ns, f"""
table inet {table} {{
  chain forward_hook {{
    type filter hook forward priority filter - 10; policy accept;
    iifname "{dev}" {match}numgen random mod 1000 < {per_mille} counter drop
  }}
  chain input_hook {{
    type filter hook input priority filter - 10; policy accept;
    iifname "{dev}" {match}numgen random mod 1000 < {per_mille} counter drop
  }}
}}
""")
        return table

    def undrop(self, ns, table):
        run("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", table, check=False)

    def block(self, ns, rule, table="nslab_block"):
        """Drops what `rule` (an nftables match, e.g. "udp dport 8443") selects on input and
        output of ns."""
        self.nft(ns, f"""
table inet {table} {{
  chain input_hook {{ type filter hook input priority filter; policy accept; {rule} counter drop; }}
  chain output_hook {{ type filter hook output priority filter; policy accept; {rule} counter drop; }}
}}
""")

    def delay(self, ns1, addr1, ns2, addr2, rtt_ms=0.0, loss=0.0, seed=1, rate_mbit=None, mtu=1500):
        """A point-to-point link through tools/netlab's delay line (TUN in each namespace):
        rtt_ms added to the round trip, a seeded fraction lost per packet and direction.
        addr1/addr2: plain addresses (a /32 peer link). Returns (dev1, dev2)."""
        self._links += 1
        # TUN devices are born in the root namespace: names unique there, ≤ 15 bytes.
        dev1 = f"nd{os.getpid() % 100000}{self.tag[:3]}{self._links}a"[:15]
        dev2 = dev1[:-1] + "b"
        argv = [delay_line_bin(), "--tun-a", dev1, "--tun-b", dev2, "--delay-ms", str(rtt_ms / 2),
                "--loss", str(loss), "--seed", str(seed), "--mtu", str(mtu)]
        if rate_mbit:
            argv += ["--rate-mbit", str(rate_mbit)]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        self.delays.append((p, f"{dev1}-{dev2}"))
        line = p.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"nfltr-delay-line did not start: {line!r}")
        for dev, ns, mine, peer in ((dev1, ns1, addr1, addr2), (dev2, ns2, addr2, addr1)):
            run("ip", "link", "set", dev, "netns", ns)
            run("ip", "-n", ns, "addr", "add", mine, "peer", peer, "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")
        return dev1, dev2

    def hosts_file(self, ns, entries):
        """/etc/hosts for processes started in ns with `ip netns exec`: {name: address}."""
        d = os.path.join("/etc/netns", ns)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n::1 localhost\n")
            for name, address in entries.items():
                f.write(f"{address} {name}\n")

    # -- running things inside ----------------------------------------------------------

    @staticmethod
    def argv(ns, argv):
        return ["ip", "netns", "exec", ns] + list(argv)

    def run(self, ns, *argv, check=True, timeout=60, input=None):
        return run(*self.argv(ns, argv), check=check, timeout=timeout, input=input)

    def popen(self, ns, argv, **kw):
        """Starts argv inside ns; ended at close()."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(self.argv(ns, argv), **kw)
        self.procs.append(p)
        return p

    def socket(self, ns, family=socket.AF_INET, type=socket.SOCK_STREAM, proto=0):
        """A socket created inside ns (setns on a short-lived thread: this process stays
        where it is); usable from any thread afterwards."""
        box = {}

        def make():
            try:
                fd = os.open(os.path.join(NETNS_DIR, ns), os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns")
                finally:
                    os.close(fd)
                box["sock"] = socket.socket(family, type, proto)
            except BaseException as exc:   # handed to the caller's thread
                box["exc"] = exc

        t = threading.Thread(target=make)
        t.start()
        t.join()
        if "exc" in box:
            raise box["exc"]
        return box["sock"]

    def link_exists(self, ns, dev):
        return run("ip", "-n", ns, "link", "show", dev, check=False).returncode == 0

    def wait_link(self, ns, dev, timeout=10, proc=None, log=None):
        """Waits for dev to appear in ns, woken by the kernel's link notifications
        (`ip monitor link`), not a fixed sleep. proc: the process that makes it (its early
        exit fails the wait at once, with log's content as the reason)."""
        mon = subprocess.Popen(["ip", "-n", ns, "monitor", "link"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
        try:
            end = time.monotonic() + timeout
            # Subscribed first, then checked: a link made in between is not missed.
            while not self.link_exists(ns, dev):
                if proc is not None and proc.poll() is not None:
                    raise AssertionError(f"{dev} never appeared in {ns}: its maker exited with "
                                         f"{proc.returncode}: {_tail(log)}")
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{dev} did not appear in {ns} within {timeout} s: {_tail(log)}")
                # A notification (any link event) or, at the latest, a quarter second to look
                # at the maker again.
                ready, _, _ = select.select([mon.stdout], [], [], min(left, 0.25))
                if ready:
                    mon.stdout.readline()
        finally:
            mon.terminate()
            mon.wait()


def _tail(path):
    if not path:
        return "(no log)"
    try:
        with open(path, errors="replace") as f:
            return f.read()[-2000:] or "(empty log)"
    except OSError as exc:
        return f"(no log: {exc})"


class Capture:
    """Counts what crosses one interface of a namespace, and whether a byte pattern was in
    any packet: a raw AF_PACKET socket read on a thread (no tcpdump, no file)."""

    ETH_P_ALL = 0x0003

    def __init__(self, lab, ns, dev, pattern=None):
        self.sock = lab.socket(ns, socket.AF_PACKET, socket.SOCK_RAW, socket.htons(self.ETH_P_ALL))
        self.sock.bind((dev, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.settimeout(0.2)
        self.pattern = pattern
        self.packets = self.bytes = self.matches = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while not self._stop.is_set():
            try:
                pkt = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.packets += 1
            self.bytes += len(pkt)
            if self.pattern is not None and self.pattern in pkt:
                self.matches += 1

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        return self


# -- the servers the labs' tests talk to -----------------------------------------------------

class BlobServer:
    """An HTTP/1.1 server answering every GET with one blob (threads; host may be an address
    only a namespace or the host side has). `port` once started; `close()` ends it."""

    def __init__(self, blob, host="127.0.0.1"):
        import http.server

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(blob)))
                self.end_headers()
                self.wfile.write(blob)

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class UdpEcho:
    """A UDP echo on host (port 0: any); `port`; `close()` ends it."""

    def __init__(self, host="127.0.0.1", port=0, sock=None):
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except (socket.timeout, OSError):
                continue
            self.sock.sendto(data, peer)

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def socks5_request(port, cmd, atyp, addr, dport, host="127.0.0.1"):
    """A raw RFC 1928 exchange (no auth): returns (socket, reply code, bound address, bound
    port). atyp 1: IPv4, 3: a name, 4: IPv6, else raw bytes of addr."""
    import struct
    s = socket.create_connection((host, port), timeout=20)
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    if atyp == 3:
        body = bytes([len(addr)]) + addr.encode()
    elif atyp == 4:
        body = socket.inet_pton(socket.AF_INET6, addr)
    else:
        body = socket.inet_aton(addr)
    s.sendall(bytes([5, cmd, 0, atyp]) + body + struct.pack("!H", dport))
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            break
        head += chunk
    assert len(head) == 4, head
    rest_len = (16 if head[3] == 4 else 4) + 2
    rest = b""
    while len(rest) < rest_len:
        chunk = s.recv(rest_len - len(rest))
        if not chunk:
            break
        rest += chunk
    assert len(rest) == rest_len, (head, rest)
    family = socket.AF_INET6 if head[3] == 4 else socket.AF_INET
    return s, head[1], socket.inet_ntop(family, rest[:-2]), struct.unpack("!H", rest[-2:])[0]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "cleanup":
        cleanup_stale()
