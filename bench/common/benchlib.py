"""Helpers shared by the benchmarks in bench/: the TLS backend, process probes, machine facts,
h2load parsing and the docs/benchmarks.md section writer.

Everything here talks to 127.0.0.1 only."""
import os
import re
import signal
import socket
import statistics
import subprocess
import time

SNI = "bench.nfltr.localhost"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited ({proc.returncode}) before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def wait_line(path, pattern, timeout, proc=None):
    """Waits until a line of the file at path matches pattern; returns the match."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    m = rx.search(line)
                    if m:
                        return m
        except FileNotFoundError:
            pass
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.05)
    tail = open(path, errors="replace").read()[-3000:] if os.path.exists(path) else ""
    raise RuntimeError(f"no line matching {pattern!r} in {path}:\n{tail}")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def nfds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid):
    """utime + stime of a process, all its threads, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) / 1048576
    return f"{model}, {os.cpu_count()} cores, {mem_gib:.0f} GiB RAM, Linux {os.uname().release}"


def tool_version(argv, rx=r"(\d+\.\d+(\.\d+)?)"):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        m = re.search(rx, out.stdout + out.stderr)
        return m.group(1) if m else "?"
    except OSError:
        return "?"


def stop(proc, timeout=5):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Backend:
    """nginx (Debian's nginx-light) terminating TLS with an ECDSA P-256 certificate for
    *.nfltr.localhost, serving /big (a sparse file: zeros from the page cache, so nginx never
    waits on the disk) and /small (1 KiB). One worker per core; idle connections are kept
    10 minutes so the idle-connection test measures the proxies, not the backend's timeouts."""

    def __init__(self, workdir, big_bytes, port=None):
        self.dir = os.path.join(workdir, "backend")
        self.port = port or free_port()
        self.big_bytes = big_bytes
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        self.proc = None

    def start(self):
        d = self.dir
        for sub in ("www", "logs", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "7",
                        "-subj", f"/CN={SNI}",
                        "-addext", f"subjectAltName=DNS:{SNI},DNS:*.nfltr.localhost",
                        "-keyout", self.key, "-out", self.cert],
                       check=True, capture_output=True)
        big = os.path.join(d, "www", "big")
        with open(big, "wb") as f:
            f.truncate(self.big_bytes)
        with open(os.path.join(d, "www", "small"), "wb") as f:
            f.write(os.urandom(1024))
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""user root;
daemon off;
master_process on;
worker_processes auto;
worker_rlimit_nofile 19000;
pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections 18000; multi_accept on; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;
  default_type application/octet-stream;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  client_header_timeout 600s;
  send_timeout 600s;
  server {{
    listen 127.0.0.1:{self.port} ssl;
    server_name {SNI};
    ssl_certificate {self.cert};
    ssl_certificate_key {self.key};
    ssl_protocols TLSv1.2 TLSv1.3;
    root {d}/www;
  }}
}}
""")
        self.proc = subprocess.Popen(["nginx", "-p", d, "-c", conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(d, "logs", "stderr.log"), "w"))
        wait_port(self.port, proc=self.proc)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)   # graceful: workers finish, master exits
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def curl_download(port, path, cacert=None, timeout=1800):
    """One HTTPS download to bench.nfltr.localhost:port via 127.0.0.1; returns bytes/s."""
    argv = ["curl", "-sS", "-o", "/dev/null", "--resolve", f"{SNI}:{port}:127.0.0.1",
            "-w", "%{http_code} %{size_download} %{speed_download}"]
    argv += ["--cacert", cacert] if cacert else ["-k"]
    out = subprocess.run(argv + [f"https://{SNI}:{port}{path}"], capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"curl via port {port} failed: {out.stderr.strip()}")
    code, size, speed = out.stdout.split()
    if code != "200":
        raise RuntimeError(f"curl via port {port}: HTTP {code}")
    return int(size), float(speed)


def h2load(port, path, conns, requests, log_path, threads=1, timeout=600):
    """HTTP/1.1 over TLS, `conns` keep-alive connections. Returns req/s, p50, p99 (ms), failures."""
    argv = ["h2load", "--h1", "-c", str(conns), "-n", str(requests), "-t", str(threads),
            f"--connect-to=127.0.0.1:{port}", f"--log-file={log_path}",
            f"https://{SNI}:{port}{path}"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    text = out.stdout + out.stderr
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", text)
    r = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed", text)
    if not m or not r:
        raise RuntimeError(f"h2load via port {port} failed:\n{text[-2000:]}")
    micros = []
    with open(log_path) as f:
        for line in f:
            parts = line.split("\t")
            if len(parts) >= 3 and parts[1] == "200":
                micros.append(int(parts[2]))
    micros.sort()
    if not micros:
        raise RuntimeError(f"h2load via port {port}: no successful request")
    return {
        "rps": float(m.group(3)),
        "p50_ms": micros[len(micros) // 2] / 1000,
        "p99_ms": micros[min(len(micros) - 1, int(len(micros) * 0.99))] / 1000,
        "failed": int(r.group(3)),
        "ok": int(r.group(2)),
    }


SSHD_CONFIG = """Port {port}
ListenAddress {listen}
HostKey {dir}/host_key
PidFile {dir}/sshd.pid
AuthorizedKeysFile {dir}/authorized_keys
# This throwaway instance only: root may log in with the run's key, nothing else.
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding remote
GatewayPorts no
X11Forwarding no
PermitTTY no
LogLevel INFO
"""


def ssh_reverse(lab, L, sshd_addr, forward_addr, target_port, sshd_prefix=(), ssh_prefix=(),
                sshd_port=None, forward_port=None, reachable=None):
    """OpenSSH's `ssh -R`, as a user would set it up, for the benchmarks: a throwaway
    `sshd -D -f <temp config>` listening on sshd_addr (its own ed25519 host key, root login
    by a temp key for this instance only, `UsePAM no`), and `ssh -N -R
    forward_addr:FWD:127.0.0.1:target_port` to it. sshd_prefix / ssh_prefix are argv
    prefixes (e.g. `ip netns exec NS`) for each side; reachable(port) tells when the forward
    listens (default: a connect to 127.0.0.1). Returns (FWD, the negotiated cipher)."""
    d = lab.mkdir("sshd")
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        os.path.join(d, key)], check=True, capture_output=True)
    with open(os.path.join(d, "client_key.pub")) as src, \
            open(os.path.join(d, "authorized_keys"), "w") as dst:
        dst.write(src.read())
    sshd_port = sshd_port or L.free_port()
    fwd_port = forward_port or L.free_port()
    reachable = reachable or L.port_accepts
    with open(os.path.join(d, "sshd_config"), "w") as f:
        f.write(SSHD_CONFIG.format(port=sshd_port, listen=sshd_addr, dir=d))
    # sshd insists on its privilege-separation directory even with UsePAM no; Debian's
    # package creates it only when the system's sshd starts.
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    sshd = lab.spawn("sshd", list(sshd_prefix) + ["/usr/sbin/sshd", "-D", "-e", "-f",
                                                  os.path.join(d, "sshd_config")])
    sshd.wait_line(r"Server listening", 20, stream="out")
    ssh = lab.spawn("ssh -R", list(ssh_prefix) + [
        "ssh", "-v", "-N", "-F", "/dev/null", "-i", os.path.join(d, "client_key"),
        "-p", str(sshd_port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
        "-o", f"UserKnownHostsFile={d}/known_hosts", "-o", "ExitOnForwardFailure=yes",
        "-R", f"{forward_addr}:{fwd_port}:127.0.0.1:{target_port}", f"root@{sshd_addr}"])
    try:
        L.wait_until(lambda: reachable(fwd_port), 30, "the ssh -R forward to listen")
    except AssertionError:
        lab.dump_logs()
        raise
    m = re.search(r"kex: server->client cipher: (\S+)", ssh.text())
    return fwd_port, (m.group(1) if m else "?")


def median(values):
    return statistics.median(values) if values else float("nan")


def replace_section(path, begin, end, text, heading_block):
    """Puts text between the begin/end markers of path, leaving the rest of the file alone. If
    the markers are absent, appends heading_block (which must contain both markers) first."""
    content = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    if begin not in content or end not in content:
        content = content.rstrip("\n") + "\n\n" + heading_block.rstrip("\n") + "\n"
    head, rest = content.split(begin, 1)
    _, tail = rest.split(end, 1)
    new = head + begin + "\n" + text.rstrip("\n") + "\n" + end + tail
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, path)


def meson_buildtype(builddir):
    try:
        out = subprocess.run(["meson", "introspect", "--buildoptions", builddir],
                             capture_output=True, text=True, timeout=30).stdout
        import json
        for opt in json.loads(out):
            if opt["name"] == "buildtype":
                return opt["value"]
    except (OSError, ValueError):
        pass
    return "?"
