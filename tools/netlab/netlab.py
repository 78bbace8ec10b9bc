#!/usr/bin/python3
"""netlab — two network namespaces joined by a WAN-like link, for benchmarks and tests.

    ns A (10.99.0.1) ── tun ── nfltr-delay-line ── tun ── ns B (10.99.0.2)

The delay line (tools/netlab/nfltr-delay-line.c, built by meson) holds every packet for half
the asked round trip in each direction, drops a seeded fraction and can rate-limit; this
machine's kernel has no sch_netem, so this replaces `tc qdisc … netem`. `kind="veth"` joins the
namespaces with a plain veth pair instead: the reference the delay line is measured against.

As a module (needs root):

    import netlab
    with netlab.Link(rtt_ms=20, loss=0.0) as link:
        link.run("b", ["nginx", ...])            # ip netns exec <ns B> …, ended at close
        subprocess.run(link.argv("a", ["curl", f"http://{link.addr_b}/"]))
        s = link.socket("a")                     # a socket created inside ns A
        print(link.tcp_rtt_ms(), link.tcp_stream(seconds=5))
    print(link.counters)                         # the delay line's counts, after close

`Link.close()` (also on an exception inside `with`, and at interpreter exit) ends every
process left in either namespace, the delay line, deletes both namespaces and their
/etc/netns files. Namespaces left behind by a process that died (SIGKILL) are removed by the
next `Link` or by `netlab.py cleanup`.

As a command (its own small CLI for people and other languages' tests):

    tools/netlab/netlab.py up NAME --rtt-ms 20 [--loss 0.01] [--rate-mbit 100] [--veth]
    tools/netlab/netlab.py exec NAME a|b -- COMMAND…
    tools/netlab/netlab.py measure NAME            # RTT by TCP handshakes, one TCP stream
    tools/netlab/netlab.py down NAME
    tools/netlab/netlab.py check [--rtt-ms 20]     # up, measure, down: a self-check
    tools/netlab/netlab.py cleanup                 # remove what dead labs left

`up` leaves the delay line running in the background; its state is in
/run/nfltr-netlab/NAME.json. The delay line binary is found through $NFLTR_DELAY_LINE, then
$NFLTR_BUILD_ROOT/tools/netlab/nfltr-delay-line, then <checkout>/build/tools/netlab/.
"""
import argparse
import atexit
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
NETNS_DIR = "/run/netns"
STATE_DIR = "/run/nfltr-netlab"
PREFIX = "nfltr-nl"
ADDR_A, ADDR_B = "10.99.0.1", "10.99.0.2"
CLONE_NEWNET = 0x40000000

_counter = 0
_libc = ctypes.CDLL(None, use_errno=True)


def delay_line_bin():
    for cand in (os.environ.get("NFLTR_DELAY_LINE"),
                 os.path.join(os.environ.get("NFLTR_BUILD_ROOT", ""), "tools", "netlab",
                              "nfltr-delay-line") if os.environ.get("NFLTR_BUILD_ROOT") else None,
                 os.path.join(TOP, "build", "tools", "netlab", "nfltr-delay-line")):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise RuntimeError("nfltr-delay-line not found: build it (ninja -C build) or set "
                       "NFLTR_DELAY_LINE")


def _ip(*args, check=True, ns=None):
    argv = ["ip"] + (["-n", ns] if ns else []) + list(args)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")
    return r


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _netns_pids(ns):
    r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=30)
    return [int(x) for x in r.stdout.split()] if r.returncode == 0 else []


def _kill_netns_processes(ns, timeout=5.0):
    """Ends every process inside ns: SIGTERM, then SIGKILL after timeout."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = [p for p in _netns_pids(ns) if p != os.getpid()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        end = time.monotonic() + timeout
        while pids and time.monotonic() < end:
            pids = [p for p in pids if _pid_alive(p)]
            time.sleep(0.05)   # polling process exit: no event to wait on for foreign pids
        if not pids:
            return


def _delete_netns(ns):
    _kill_netns_processes(ns)
    _ip("netns", "del", ns, check=False)
    shutil.rmtree(os.path.join("/etc/netns", ns), ignore_errors=True)


def cleanup_stale():
    """Removes namespaces (and state) of labs whose owning process is gone."""
    names = os.listdir(NETNS_DIR) if os.path.isdir(NETNS_DIR) else []
    for ns in names:
        m = re.match(rf"^{PREFIX}-(\d+)-", ns)
        if m and not _pid_alive(int(m.group(1))):
            _delete_netns(ns)
    if os.path.isdir(STATE_DIR):
        for f in [f for f in os.listdir(STATE_DIR) if f.endswith(".json")]:
            with open(os.path.join(STATE_DIR, f)) as fh:
                st = json.load(fh)
            if not st.get("delay_pid") or not _pid_alive(st["delay_pid"]):
                for ns in (st["ns_a"], st["ns_b"]):
                    _delete_netns(ns)
                os.unlink(os.path.join(STATE_DIR, f))
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(STATE_DIR, f[:-5] + ".log"))


class Link:
    """ns A — delay line (or veth) — ns B. See the module docstring."""

    def __init__(self, rtt_ms=0.0, loss=0.0, rate_mbit=None, seed=1, mtu=1500, kind="delay",
                 offload=True, queue_kib=None, name=None, owner=None, sysctls=None):
        global _counter
        if kind not in ("delay", "veth"):
            raise ValueError(f"kind must be 'delay' or 'veth', not {kind!r}")
        if kind == "veth" and (rtt_ms or loss or rate_mbit):
            raise ValueError("a veth link has no delay, loss or rate")
        _counter += 1
        self.owner = owner or os.getpid()
        # A named lab (`netlab.py up NAME`) outlives its creator; an anonymous one carries
        # its owner's pid so cleanup_stale() can tell when it was left behind.
        self.name = name
        base = f"{PREFIX}-{name}" if name else f"{PREFIX}-{self.owner}-{_counter}"
        self.ns_a, self.ns_b = f"{base}-a", f"{base}-b"
        # Device names live in the root namespace until moved: unique per lab, ≤ 15 bytes.
        tag = name[:10] if name else f"{self.owner % 100000}x{_counter}"
        self.dev_a, self.dev_b = f"nl{tag}a", f"nl{tag}b"
        self.addr_a, self.addr_b = ADDR_A, ADDR_B
        self.rtt_ms, self.loss, self.rate_mbit, self.seed = rtt_ms, loss, rate_mbit, seed
        self.mtu, self.kind, self.offload, self.queue_kib = mtu, kind, offload, queue_kib
        # Set in both namespaces, e.g. {"net.ipv4.tcp_rmem": "4096 131072 33554432"}.
        self.sysctls = dict(sysctls or {})
        self.delay = None        # the delay line's Popen
        self.procs = []          # what run() started
        self.counters = None     # the delay line's JSON counters, after close()
        self._closed = True

    # -- life cycle ------------------------------------------------------------------

    def open(self, detach=False):
        cleanup_stale()
        self._closed = False
        atexit.register(self.close)
        try:
            for ns in (self.ns_a, self.ns_b):
                _ip("netns", "add", ns)
                _ip("link", "set", "lo", "up", ns=ns)
                # IPv4 only: no router solicitations or DAD probes crossing the link, so a
                # seeded run sees the same packets and the same drops.
                subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                                "net.ipv6.conf.all.disable_ipv6=1",
                                "net.ipv6.conf.default.disable_ipv6=1"],
                               check=True, capture_output=True, timeout=30)
                for key, value in self.sysctls.items():
                    subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                                    f"{key}={value}"], check=True, capture_output=True,
                                   timeout=30)
            if self.kind == "veth":
                _ip("link", "add", self.dev_a, "mtu", str(self.mtu), "type", "veth", "peer",
                    "name", self.dev_b, "mtu", str(self.mtu))
            else:
                argv = [delay_line_bin(), "--tun-a", self.dev_a, "--tun-b", self.dev_b,
                        "--delay-ms", str(self.rtt_ms / 2), "--loss", str(self.loss),
                        "--seed", str(self.seed), "--mtu", str(self.mtu)]
                if self.rate_mbit:
                    argv += ["--rate-mbit", str(self.rate_mbit)]
                if self.queue_kib:
                    argv += ["--queue-kib", str(self.queue_kib)]
                if not self.offload:
                    argv += ["--no-offload"]
                if detach:
                    # It outlives this process: its output goes to a file, not to a pipe
                    # that would keep our caller waiting.
                    os.makedirs(STATE_DIR, exist_ok=True)
                    log = open(os.path.join(STATE_DIR, f"{self.name}.log"), "w+")
                    self.delay = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                                  stderr=log, start_new_session=True)
                    end = time.monotonic() + 10
                    while time.monotonic() < end and self.delay.poll() is None:
                        log.seek(0)
                        if log.read().startswith("ready"):
                            break
                        time.sleep(0.02)   # a file has no readiness event to wait on
                    log.seek(0)
                    line = log.readline()
                    log.close()
                else:
                    self.delay = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                                  stdout=subprocess.PIPE, text=True)
                    line = self.delay.stdout.readline()
                if line.strip() != "ready":
                    raise RuntimeError(f"nfltr-delay-line did not start: {line!r}")
            for dev, ns, mine, peer in ((self.dev_a, self.ns_a, self.addr_a, self.addr_b),
                                        (self.dev_b, self.ns_b, self.addr_b, self.addr_a)):
                _ip("link", "set", dev, "netns", ns)
                if self.kind == "veth":
                    _ip("addr", "add", f"{mine}/24", "dev", dev, ns=ns)
                else:
                    _ip("addr", "add", mine, "peer", peer, "dev", dev, ns=ns)
                _ip("link", "set", dev, "up", ns=ns)
        except BaseException:
            self.close()
            raise
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
        for ns in (self.ns_a, self.ns_b):
            _kill_netns_processes(ns)
        if self.delay is not None:
            if self.delay.poll() is None:
                self.delay.send_signal(signal.SIGTERM)
            try:
                out, _ = self.delay.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self.delay.kill()
                out, _ = self.delay.communicate()
            for line in (out or "").splitlines():
                if line.startswith("{"):
                    self.counters = json.loads(line)
        for ns in (self.ns_a, self.ns_b):
            _delete_netns(ns)
        if self.kind == "veth":
            _ip("link", "del", self.dev_a, check=False)

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    # -- running things inside ---------------------------------------------------------

    def ns(self, side):
        return {"a": self.ns_a, "b": self.ns_b}[side]

    def addr(self, side):
        return {"a": self.addr_a, "b": self.addr_b}[side]

    def argv(self, side, argv):
        """argv prefixed so it runs inside the side's namespace."""
        return ["ip", "netns", "exec", self.ns(side)] + list(argv)

    def run(self, side, argv, **kw):
        """Starts argv inside the namespace (Popen); it is ended at close()."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(self.argv(side, argv), **kw)
        self.procs.append(p)
        return p

    def hosts(self, side, entries):
        """/etc/hosts as seen by processes started in the namespace with `ip netns exec`
        (which bind-mounts /etc/netns/NS/hosts over /etc/hosts): {name: address}."""
        d = os.path.join("/etc/netns", self.ns(side))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n::1 localhost\n")
            for name, address in entries.items():
                f.write(f"{address} {name}\n")

    def socket(self, side, family=socket.AF_INET, type=socket.SOCK_STREAM):
        """A socket created inside the side's namespace (setns on a short-lived thread, so
        this process stays where it is); usable from any thread afterwards."""
        box = {}

        def make():
            try:
                fd = os.open(os.path.join(NETNS_DIR, self.ns(side)), os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns")
                finally:
                    os.close(fd)
                box["sock"] = socket.socket(family, type)
            except BaseException as exc:   # handed to the caller's thread
                box["exc"] = exc

        t = threading.Thread(target=make)
        t.start()
        t.join()
        if "exc" in box:
            raise box["exc"]
        return box["sock"]

    # -- measuring ---------------------------------------------------------------------

    def tcp_rtt_samples(self, samples=20, port=7001):
        """Round trip A→B measured as the time of TCP handshakes (connect() returns after the
        SYN-ACK: one round trip), in ms, one per handshake. There is no ping on this machine.
        The minimum is the link's own round trip; the rest add the scheduling delays of a
        busy machine."""
        srv = self.socket("b")
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((self.addr_b, port))
        srv.listen(samples + 8)
        times = []
        try:
            for _ in range(samples):
                c = self.socket("a")
                try:
                    t0 = time.perf_counter()
                    c.settimeout(10)
                    c.connect((self.addr_b, port))
                    times.append((time.perf_counter() - t0) * 1000)
                finally:
                    c.close()
                srv.accept()[0].close()
        finally:
            srv.close()
        return times

    def tcp_rtt_ms(self, samples=20, port=7001):
        """The median of tcp_rtt_samples()."""
        return statistics.median(self.tcp_rtt_samples(samples, port))

    def udp_loss(self, count=2000, port=7002, size=200):
        """Fraction of UDP datagrams A→B→A (echoed by B) that did not come back. Each makes
        two crossings, so with loss p per packet the expected value is 1 − (1 − p)²."""
        srv, cli = self.socket("b", type=socket.SOCK_DGRAM), self.socket("a", type=socket.SOCK_DGRAM)
        srv.bind((self.addr_b, port))
        srv.settimeout(0.5)
        stop = threading.Event()

        def echo():
            while not stop.is_set():
                try:
                    data, peer = srv.recvfrom(65536)
                except socket.timeout:
                    continue
                srv.sendto(data, peer)

        got = set()

        def collect():
            while not stop.is_set():
                try:
                    got.add(int.from_bytes(cli.recv(65536)[:4], "big"))
                except socket.timeout:
                    continue

        threads = [threading.Thread(target=echo), threading.Thread(target=collect)]
        cli.connect((self.addr_b, port))
        cli.settimeout(0.2)
        for t in threads:
            t.start()
        try:
            for i in range(count):
                cli.send(i.to_bytes(4, "big") + bytes(size - 4))
                # Paced (~5,000/s) so no queue anywhere overflows: only the delay line's
                # draw drops.
                time.sleep(0.0002)
            # The last echoes are a round trip (and a little) behind the last send.
            time.sleep(self.rtt_ms / 1000 + 0.5)
        finally:
            stop.set()
            for t in threads:
                t.join()
            srv.close()
            cli.close()
        return 1 - len(got) / count

    def tcp_stream(self, seconds=5.0, port=7003, src="a"):
        """One kernel TCP stream from side src to the other for `seconds`; returns bytes/s
        at the receiver over the whole run (slow start included). Sender and receiver are
        processes of their own (this file's `_sink` and `_source`)."""
        dst = "b" if src == "a" else "a"
        sink = self.run(dst, [sys.executable, os.path.abspath(__file__), "_sink",
                              self.addr(dst), str(port)], stdout=subprocess.PIPE, text=True)
        line = sink.stdout.readline()
        if line.strip() != "listening":
            raise RuntimeError(f"sink did not start: {line!r}")
        src_p = self.run(src, [sys.executable, os.path.abspath(__file__), "_source",
                               self.addr(dst), str(port), str(seconds)])
        src_p.wait(seconds + 60)
        out = sink.stdout.readline()
        sink.wait(30)
        nbytes, secs = out.split()
        return int(nbytes) / float(secs)


# -- the sink and source of tcp_stream (run inside the namespaces) --------------------------

def _sink(host, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(1)
    print("listening", flush=True)
    c, _ = s.accept()
    buf = bytearray(1 << 20)
    total, t0 = 0, time.perf_counter()
    while True:
        n = c.recv_into(buf)
        if n == 0:
            break
        total += n
    print(total, time.perf_counter() - t0, flush=True)


def _source(host, port, seconds):
    c = socket.create_connection((host, int(port)), timeout=30)
    chunk = bytes(1 << 20)
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        c.sendall(chunk)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    c.close()


# -- the command line ---------------------------------------------------------------------

def _state_path(name):
    return os.path.join(STATE_DIR, f"{name}.json")


def _load(name):
    with open(_state_path(name)) as f:
        return json.load(f)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for cmd in ("up", "check"):
        p = sub.add_parser(cmd)
        if cmd == "up":
            p.add_argument("name")
        p.add_argument("--rtt-ms", type=float, default=0.0)
        p.add_argument("--loss", type=float, default=0.0)
        p.add_argument("--rate-mbit", type=float)
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--mtu", type=int, default=1500)
        p.add_argument("--veth", action="store_true", help="a plain veth pair, no delay line")
    p = sub.add_parser("exec")
    p.add_argument("name")
    p.add_argument("side", choices=("a", "b"))
    p.add_argument("command", nargs=argparse.REMAINDER)
    for cmd in ("down", "measure"):
        sub.add_parser(cmd).add_argument("name")
    sub.add_parser("cleanup")
    p = sub.add_parser("_sink")
    p.add_argument("host")
    p.add_argument("port")
    p = sub.add_parser("_source")
    p.add_argument("host")
    p.add_argument("port")
    p.add_argument("seconds")
    args = ap.parse_args(argv)

    if args.cmd == "_sink":
        return _sink(args.host, args.port)
    if args.cmd == "_source":
        return _source(args.host, args.port, args.seconds)
    if args.cmd == "cleanup":
        return cleanup_stale()
    if args.cmd in ("up", "check"):
        link = Link(rtt_ms=args.rtt_ms, loss=args.loss, rate_mbit=args.rate_mbit,
                    seed=args.seed, mtu=args.mtu, kind="veth" if args.veth else "delay",
                    name=args.name if args.cmd == "up" else None)
        if args.cmd == "check":
            with link:
                print(f"rtt {link.tcp_rtt_ms():.2f} ms (asked {args.rtt_ms})")
                print(f"one TCP stream A→B: {link.tcp_stream(5) / 1e6:.0f} MB/s")
            print(json.dumps(link.counters))
            return 0
        link.open(detach=True)
        atexit.unregister(link.close)   # it outlives this command; `down` ends it
        link._closed = True
        os.makedirs(STATE_DIR, exist_ok=True)
        st = {"name": args.name, "ns_a": link.ns_a, "ns_b": link.ns_b, "addr_a": link.addr_a,
              "addr_b": link.addr_b, "delay_pid": link.delay.pid if link.delay else 0,
              "owner": 0, "kind": link.kind, "rtt_ms": args.rtt_ms, "loss": args.loss}
        with open(_state_path(args.name), "w") as f:
            json.dump(st, f)
        print(json.dumps(st))
        return 0
    st = _load(args.name)
    if args.cmd == "exec":
        cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
        return subprocess.call(["ip", "netns", "exec", st[f"ns_{args.side}"]] + cmd)
    if args.cmd == "measure":
        link = Link(rtt_ms=st["rtt_ms"])
        link.ns_a, link.ns_b = st["ns_a"], st["ns_b"]
        print(f"rtt {link.tcp_rtt_ms():.2f} ms")
        print(f"one TCP stream A→B: {link.tcp_stream(5) / 1e6:.0f} MB/s")
        return 0
    if args.cmd == "down":
        for ns in (st["ns_a"], st["ns_b"]):
            _kill_netns_processes(ns)
        if st["delay_pid"]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(st["delay_pid"], signal.SIGTERM)
        for ns in (st["ns_a"], st["ns_b"]):
            _delete_netns(ns)
        os.unlink(_state_path(args.name))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(STATE_DIR, f"{args.name}.log"))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
