#!/usr/bin/python3
"""Throughput of one download through an NFLTR tunnel against a direct TLS connection to the
same local server, in the same run (issue #2's closing figure; a benchmark, not a test).

    sudo ./tools/setup && bench/tunnel-vs-direct.py [--size-mib 1024] [--rounds 1] [--build build]

What is measured, each with `curl -k -o /dev/null` of SIZE bytes from loopback (one download
per path and round; rounds interleave the paths so load changes hit all of them alike):

  origin   a local plain-HTTP server (Python, in this process) streaming SIZE zero bytes from
           memory in 1 MiB writes. Every path below ends at this same server.
  plain    curl http://127.0.0.1:ORIGIN/ — no TLS: what the origin and curl can do at all.
  socat    curl https://127.0.0.1:SOCAT/ — socat (OpenSSL) terminating TLS with an ECDSA P-256
           key in front of the origin. socat gets a 256 KiB buffer (-b) so it is not held
           back by its 8 KiB default.
  nginx    curl https://127.0.0.1:NGINX/ — nginx (OpenSSL, one worker) terminating TLS with the
           same key and proxying to the origin, unbuffered.
           Both are "a direct TLS connection to the same local server": the limit for anything
           that adds TLS in front of this origin. The ratio is taken against the faster one.
  tunnel   curl https://bench.nfltr.localhost:RELAY/ — through nfltr-relay (SNI routing,
           splice) and nfltr-service (TLS with the agent's ECDSA P-256 key, HTTP forwarding
           to the origin), logged in on a private D-Bus bus, as `nfltr http` sets it up.
  nginx h2, tunnel h2
           the same two with HTTP/2 (curl's default over TLS; nginx's second port has http2
           on; the tunnel offers h2 by ALPN and serves it through the agent's HTTP/2 proxy).
           Every other path is fetched with --http1.1: socat and nginx's first port speak
           nothing else, and HTTP/1.1 through the tunnel is the agent's plain pump — like for
           like. tunnel/direct is taken in HTTP/1.1, tunnel h2 against nginx h2.
  ssh -R   curl http://127.0.0.1:FORWARD/ — OpenSSH's reverse tunnel, what many users reach
           for: a throwaway sshd (Debian's openssh-server, its own host key and sshd_config in
           the run's temp dir, `sshd -f`, root login by key for this instance only) listens on
           FORWARD for `ssh -N -R FORWARD:127.0.0.1:ORIGIN` and carries each connection over
           the one SSH session (OpenSSH's default cipher, named in the output). The visitor's
           hop to sshd is plain HTTP: ssh -R encrypts only between its two ends, so this path
           does less cryptography than the TLS paths (one encryption and one decryption of the
           SSH channel, against TLS's one each at the origin's front and at curl).

With --profile DIR, after the rounds: `perf record -g` of nfltr-relay and nfltr-service during
one more tunnel download, and during `h2load --h1 -c 100` against a 1 KiB page through a
second tunnel whose local server is nginx (plain HTTP) — the requests/s case — then the same
h2load under `perf stat` (CPU and context switches per request) and under `perf trace -s`
(system calls; tracing slows it tenfold, so only its counts mean anything); the reports are
written to DIR. `--rounds 0 --profile DIR` runs only the profile.

Every TLS path is asked for the same TLS 1.3 suite (`--tls13-ciphers`, default
TLS_AES_128_GCM_SHA256: the agent's first choice; nginx would follow curl's order and pick
TLS_AES_256_GCM_SHA384, which costs more per byte), so tunnel and direct encrypt alike.

Prints bytes/s for each, the HTTP version curl used, the negotiated TLS version and cipher of
the TLS paths, the relay's and the agent's CPU seconds per GiB through the tunnel, and
tunnel/direct. Everything runs on 127.0.0.1; all processes are ended at exit.
"""
import argparse
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "common"))


NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port} ssl;
    listen 127.0.0.1:{port_h2} ssl http2;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {{
      proxy_pass http://127.0.0.1:{origin};
      proxy_http_version 1.1;
      proxy_buffering off;
      proxy_buffer_size 256k;
      proxy_buffers 4 256k;
      proxy_busy_buffers_size 256k;
    }}
  }}
}}
"""


def perf_record(pids, out_dir, label, run):
    """perf record -g on each pid while run() runs; writes DIR/perf-<label>-<pid>.txt."""
    recs = []
    for name, pid in pids.items():
        data = os.path.join(out_dir, f"perf-{label}-{name}.data")
        recs.append((name, data, subprocess.Popen(
            ["perf", "record", "-g", "-F", "999", "-o", data, "-p", str(pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    time.sleep(0.5)   # perf attaches asynchronously; it has no ready signal to wait for
    try:
        result = run()
    finally:
        for _, _, rec in recs:
            rec.send_signal(signal.SIGINT)
            rec.wait(60)
    for name, data, _ in recs:
        with open(os.path.join(out_dir, f"perf-{label}-{name}.txt"), "w") as f:
            subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                            "--percent-limit", "0.5", "-g", "caller,0.5,callee,function,percent"],
                           stdout=f, stderr=subprocess.DEVNULL)
    return result


# The TLS 1.3 suite every TLS path is asked for (--tls13-ciphers): like with like. The agent
# prefers TLS_AES_128_GCM_SHA256 (its priority string, %SERVER_PRECEDENCE), nginx follows the
# client, and curl offers TLS_AES_256_GCM_SHA384 first — 14 AES rounds against 10 — so
# without a pin the tunnel and direct nginx encrypt with different ciphers.
TLS13_CIPHERS = "TLS_AES_128_GCM_SHA256"


def curl_download(url, resolve=None, http="1.1", cpu_pids=()):
    """One download; (bytes, seconds, bytes/s, HTTP version, {pid: CPU seconds used})."""
    argv = ["curl", "-sS", "-k", "-o", "/dev/null", "-w",
            "%{http_code} %{size_download} %{time_total} %{speed_download} %{http_version}",
            "--http2" if http == "2" else "--http1.1"]
    if TLS13_CIPHERS and url.startswith("https:"):
        argv += ["--tls13-ciphers", TLS13_CIPHERS]
    if resolve:
        argv += ["--resolve", f"{resolve[0]}:{resolve[1]}:127.0.0.1"]
    before = {pid: cpu_seconds(pid) for pid in cpu_pids}
    out = subprocess.run(argv + [url], capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"curl {url} failed: {out.stderr}")
    cpu = {pid: cpu_seconds(pid) - before[pid] for pid in cpu_pids}
    code, size, total, speed, version = out.stdout.split()
    if code != "200":
        raise SystemExit(f"curl {url}: HTTP {code}")
    return int(size), float(total), float(speed), version, cpu


def cpu_seconds(pid):
    """utime + stime of a process, all its threads, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def negotiated(port, sni):
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", sni]
    if TLS13_CIPHERS:
        argv += ["-ciphersuites", TLS13_CIPHERS]
    out = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, timeout=30).stdout
    m = re.search(r"New, (\S+), Cipher is (\S+)", out)
    return f"{m.group(1)} {m.group(2)}" if m else "?"


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


NGINX_SMALL_CONF = """daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{ root {dir}/www; }}
  }}
}}
"""


def profile(out_dir, lab, L, agent, relay, tunnel, tunnel_url):
    """The two perf runs of --profile (see the module docstring)."""
    os.makedirs(out_dir, exist_ok=True)
    service = L.tagged_processes(lab.tag, "nfltr-service")
    assert service, "no nfltr-service process found to profile"
    pids = {"relay": relay.proc.pid, "agent": service[0]}
    url, resolve = tunnel_url
    r = perf_record(pids, out_dir, "download", lambda: curl_download(url, resolve))
    print(f"profile: download through the tunnel at {r[2] / 1e6:.0f} MB/s under perf")

    ngdir = lab.mkdir("nginx-small")
    os.makedirs(os.path.join(ngdir, "www"), exist_ok=True)
    with open(os.path.join(ngdir, "www", "small"), "wb") as f:
        f.write(b"x" * 1024)
    port = L.free_port()
    with open(os.path.join(ngdir, "nginx.conf"), "w") as f:
        f.write(NGINX_SMALL_CONF.format(dir=ngdir, port=port))
    lab.spawn("nginx-small", ["nginx", "-p", ngdir, "-c", os.path.join(ngdir, "nginx.conf"),
                              "-e", os.path.join(ngdir, "error.log")])
    L.wait_until(lambda: L.port_accepts(port), 10, "nginx (small) to listen")
    small = agent.http(port, "--name", "small")
    host, relay_port = small.host, small.port

    def h2load():
        return subprocess.run(["h2load", "--h1", "-c", "100", "-n", "30000", "-t", "1",
                               "--connect-to", f"127.0.0.1:{relay_port}",
                               f"https://{host}:{relay_port}/small"],
                              capture_output=True, text=True, timeout=600).stdout

    out = perf_record(pids, out_dir, "h2load", h2load)
    with open(os.path.join(out_dir, "h2load.txt"), "w") as f:
        f.write(out)
    m = re.search(r"finished in .*?, ([\d.]+) req/s", out)
    print(f"profile: h2load through the tunnel {m.group(1) if m else '?'} req/s under perf")
    # CPU time and context switches per request, without the sampling's own cost.
    stats = {name: subprocess.Popen(["perf", "stat", "-e",
                                     "task-clock,context-switches,cpu-migrations", "-p",
                                     str(pid), "-o", os.path.join(out_dir, f"stat-h2load-{name}.txt")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for name, pid in pids.items()}
    time.sleep(0.5)   # perf attaches asynchronously; it has no ready signal to wait for
    try:
        out = h2load()
    finally:
        for st in stats.values():
            st.send_signal(signal.SIGINT)
            st.wait(60)
    m = re.search(r"finished in .*?, ([\d.]+) req/s", out)
    print(f"profile: h2load {m.group(1) if m else '?'} req/s under perf stat")
    for name in pids:
        with open(os.path.join(out_dir, f"stat-h2load-{name}.txt")) as f:
            text = f.read()
        clock = re.search(r"([\d.,]+) msec task-clock", text)
        cs = re.search(r"([\d,]+)\s+context-switches", text)
        if clock and cs:
            ms = float(clock.group(1).replace(",", ""))
            n = int(cs.group(1).replace(",", ""))
            print(f"  {name}: {ms * 1000 / 30000:.1f} µs CPU and {n / 30000:.2f} context "
                  f"switches per request")
    # System calls per request: the same h2load again under `perf trace -s`, started while the
    # agent's 100 worker threads of the run above are still alive (they wait 10 s for more).
    trace_out = os.path.join(out_dir, "syscalls-h2load.txt")
    trace = subprocess.Popen(["perf", "trace", "-s", "-p",
                              ",".join(str(p) for p in pids.values()), "-o", trace_out],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)   # perf trace attaches asynchronously; it has no ready signal to wait for
    try:
        out = h2load()
    finally:
        trace.send_signal(signal.SIGINT)
        trace.wait(60)
    m = re.search(r"finished in .*?, ([\d.]+) req/s", out)
    print(f"profile: h2load {m.group(1) if m else '?'} req/s under perf trace; "
          f"reports in {out_dir}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--rounds", type=int, default=1,
                    help="downloads per path, interleaved; the median is reported "
                    "(0 with --profile: only the profile)")
    ap.add_argument("--profile", metavar="DIR",
                    help="perf-record the relay and the agent (download and h2load) into DIR")
    ap.add_argument("--no-ssh", action="store_true", help="leave out the ssh -R column")
    ap.add_argument("--tls13-ciphers", default=TLS13_CIPHERS,
                    help="the TLS 1.3 suite curl asks every TLS path for, so that all of them "
                    "encrypt alike (default %(default)s, the agent's first choice; '' = curl's "
                    "own order, where nginx then picks TLS_AES_256_GCM_SHA384)")
    args = ap.parse_args()
    globals()["TLS13_CIPHERS"] = args.tls13_ciphers
    os.environ["NFLTR_BUILD_ROOT"] = os.path.abspath(args.build)
    os.environ["NFLTR_SOURCE_ROOT"] = TOP

    import nfltrlab as L   # after NFLTR_BUILD_ROOT is set
    import benchlib

    size = args.size_mib * 1024 * 1024
    lab = L.Lab("bench")
    try:
        origin = L.Origin(lab)
        path = f"/bytes/{size}"

        cert, key = lab.path("direct.crt"), lab.path("direct.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=direct.localhost"],
                       check=True, capture_output=True)
        socat_port = L.free_port()
        lab.spawn("socat", ["socat", "-b", "262144",
                            f"OPENSSL-LISTEN:{socat_port},bind=127.0.0.1,reuseaddr,fork,"
                            f"cert={cert},key={key},verify=0",
                            f"TCP:127.0.0.1:{origin.port}"])
        L.wait_until(lambda: L.port_accepts(socat_port), 10, "socat to listen")

        nginx_port = L.free_port()
        nginx_h2_port = L.free_port()
        ngdir = lab.mkdir("nginx")
        with open(os.path.join(ngdir, "nginx.conf"), "w") as f:
            f.write(NGINX_CONF.format(dir=ngdir, port=nginx_port, port_h2=nginx_h2_port,
                                      cert=cert, key=key, origin=origin.port))
        nginx = lab.spawn("nginx", ["nginx", "-p", ngdir, "-c", os.path.join(ngdir, "nginx.conf"),
                            "-e", os.path.join(ngdir, "error.log")])
        try:
            L.wait_until(lambda: L.port_accepts(nginx_port), 10, "nginx to listen")
        except AssertionError:
            lab.dump_logs()
            raise

        relay = L.Relay(lab).start()
        agent = L.Agent(lab)
        agent.login(relay)
        tunnel = agent.http(origin.port, "--name", "bench")

        # Like for like: HTTP/1.1 on every path (socat and nginx's first port speak nothing
        # else), and HTTP/2 — curl's default over TLS, which the tunnel offers by ALPN and
        # serves through the agent's HTTP/2 proxy — against nginx with http2 on.
        tunnel_url = (tunnel.url.rstrip("/") + path, (tunnel.host, tunnel.port))
        urls = {
            "plain": (f"http://127.0.0.1:{origin.port}{path}", None),
            "socat": (f"https://127.0.0.1:{socat_port}{path}", None),
            "nginx": (f"https://127.0.0.1:{nginx_port}{path}", None),
            "tunnel": tunnel_url,
            "nginx h2": (f"https://127.0.0.1:{nginx_h2_port}{path}", None, "2"),
            "tunnel h2": tunnel_url + ("2",),
        }
        if not args.no_ssh:
            ssh_port, ssh_cipher = benchlib.ssh_reverse(lab, L, "127.0.0.1", "127.0.0.1",
                                                        origin.port)
            urls["ssh -R"] = (f"http://127.0.0.1:{ssh_port}{path}", None)
        load_start = os.getloadavg()[0]
        runs = {name: [] for name in urls}
        if args.rounds == 0:   # --profile alone
            profile(args.profile, lab, L, agent, relay, tunnel, urls["tunnel"])
            return
        service_pid = L.tagged_processes(lab.tag, "nfltr-service")[0]
        cpu_pids = {"tunnel": (relay.proc.pid, service_pid),
                    "tunnel h2": (relay.proc.pid, service_pid),
                    # master_process off: the one process is nginx's worker
                    "nginx": (nginx.p.pid,), "nginx h2": (nginx.p.pid,)}
        for _ in range(args.rounds):
            for name, (url, resolve, *http) in urls.items():
                runs[name].append(curl_download(url, resolve, *http,
                                                cpu_pids=cpu_pids.get(name, ())))
        # The median round of each path by speed (the middle one for odd --rounds).
        results = {name: sorted(r, key=lambda x: x[2])[len(r) // 2] for name, r in runs.items()}
        ciphers = {"socat": negotiated(socat_port, "direct.localhost"),
                   "nginx": negotiated(nginx_port, "direct.localhost"),
                   "nginx h2": negotiated(nginx_h2_port, "direct.localhost"),
                   "tunnel": negotiated(tunnel.port, tunnel.host)}
        ciphers["tunnel h2"] = ciphers["tunnel"]
        if not args.no_ssh:
            ciphers["ssh -R"] = f"SSH {ssh_cipher}"

        print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, {platform.release()}")
        print(f"download: {size} bytes ({args.size_mib} MiB), {args.rounds} curl(s) per path, "
              f"interleaved, same run; median shown")
        for name, r in runs.items():
            if len(r) > 1:
                print(f"  {name:7s} rounds (MB/s): "
                      + " ".join(f"{x[2] / 1e6:.0f}" for x in r))
        print(f"load average at start: {load_start:.2f}")
        for name in results:
            got, secs, speed, version, _ = results[name]
            if got != size:
                raise SystemExit(f"{name}: got {got} bytes, expected {size}")
            extra = f"  [HTTP/{version}" + (f", {ciphers[name]}]" if name in ciphers else "]")
            print(f"{name:9s} {speed / 1e6:9.1f} MB/s  {speed * 8 / 1e9:6.2f} Gbit/s"
                  f"  {secs:7.2f} s{extra}")
        for name, pids in cpu_pids.items():
            # CPU per GiB over all rounds: steadier than the rates on a shared machine.
            per_gib = {pid: sum(r[4][pid] for r in runs[name]) / (size * len(runs[name]) / 2**30)
                       for pid in pids}
            label = {relay.proc.pid: "relay", service_pid: "agent", nginx.p.pid: "nginx"}
            print(f"{name}: CPU seconds per GiB: " +
                  ", ".join(f"{label[pid]} {v:.2f}" for pid, v in per_gib.items()))
        direct = max(("socat", "nginx"), key=lambda n: results[n][2])
        ratio = results["tunnel"][2] / results[direct][2]
        print(f"tunnel/direct, HTTP/1.1 ({direct}): {ratio:.2f}")
        print(f"tunnel h2/nginx h2: {results['tunnel h2'][2] / results['nginx h2'][2]:.2f}")
        if "ssh -R" in results:
            print(f"ssh -R/direct ({direct}): {results['ssh -R'][2] / results[direct][2]:.2f}; "
                  f"tunnel/ssh -R: {results['tunnel'][2] / results['ssh -R'][2]:.2f}")
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
        if args.profile:
            profile(args.profile, lab, L, agent, relay, tunnel, urls["tunnel"])
    finally:
        left = lab.close()
        if left:
            print(f"warning: processes left: {left}", file=sys.stderr)


if __name__ == "__main__":
    main()
