"""The NFLTR test lab: real binaries, real peers, all on loopback.

Everything a test starts goes through a `Lab`, which tags it with a unique environment
variable (NFLTR_TEST_TAG) and, at teardown, ends it and every process that inherited the tag
(the nfltr-service the CLI starts on its own, for instance), by pid. Nothing waits a fixed
time for something it can observe: a line on stdout, a port that accepts, a JSON event.
"""
import base64
import contextlib
import hashlib
import http.server
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

BUILD_ROOT = os.environ.get("NFLTR_BUILD_ROOT", "")
DOMAIN = "nfltr.localhost"


def binary(rel):
    """Path of a product binary in the build tree; a clear failure when it is missing."""
    if not BUILD_ROOT:
        raise AssertionError("NFLTR_BUILD_ROOT is not set: run these tests through `meson test`")
    path = os.path.join(BUILD_ROOT, rel)
    if not os.access(path, os.X_OK):
        raise AssertionError(f"{path} was not built (the component is missing from this tree)")
    return path


def relay_bin():
    return binary("relay/nfltr-relay")


def nfltr_bin():
    return binary("cli/nfltr")


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def use_integration_fixtures(namespace):
    """Gives another suite's conftest (namespace: its globals()) the fixtures and hooks of
    tests/integration/conftest.py, loaded as is rather than copied; define a fixture after the
    call to replace one of them."""
    spec = importlib.util.spec_from_file_location(
        "nfltr_integration_conftest",
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # pytest finds fixtures and hooks as attributes of the conftest module.
    namespace.update({k: v for k, v in vars(module).items()
                      if not k.startswith("__") and k not in ("os", "sys", "types")})


def wait_until(predicate, timeout, what, interval=0.05):
    """Polls predicate() until it returns a true value; fails naming `what` after timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - kept to report the last cause
            last_exc = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                                 + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(interval)


def port_accepts(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def normalize_fingerprint(text):
    """'sha256:<hex>', bare hex or AA:BB:.. hex -> 'sha256:<64 lower-case hex>'."""
    m = re.search(r"((?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}|[0-9A-Fa-f]{64})", text)
    assert m, f"no SHA-256 fingerprint in {text!r}"
    return "sha256:" + m.group(1).replace(":", "").lower()


def der_fingerprint(der):
    return "sha256:" + hashlib.sha256(der).hexdigest()


# --------------------------------------------------------------------------------------
# Processes


class Proc:
    """A started process whose merged stdout+stderr is collected line by line."""

    def __init__(self, lab, name, argv, env=None, stdin=subprocess.DEVNULL, split_stderr=False):
        self.lab, self.name, self.argv = lab, name, argv
        self.lines = []          # stdout lines (and stderr unless split_stderr)
        self.err_lines = []      # stderr lines when split_stderr
        self._cond = threading.Condition()
        self._open_streams = 0
        self.p = subprocess.Popen(
            argv, env=env or lab.env(), stdin=stdin, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if split_stderr else subprocess.STDOUT,
            start_new_session=True)
        self._readers = [threading.Thread(target=self._read, args=(self.p.stdout, self.lines),
                                          daemon=True)]
        if split_stderr:
            self._readers.append(threading.Thread(target=self._read,
                                                  args=(self.p.stderr, self.err_lines),
                                                  daemon=True))
        self._open_streams = len(self._readers)
        for t in self._readers:
            t.start()
        lab.procs.append(self)

    def _read(self, stream, sink):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                sink.append(line)
                self._cond.notify_all()
        with self._cond:
            self._open_streams -= 1
            self._cond.notify_all()

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def text(self):
        with self._cond:
            return "\n".join(self.lines + self.err_lines)

    def wait_line(self, regex, timeout, stream="out"):
        """Waits for a line matching regex (from the first line on); returns the match.
        Fails when the process ends or the deadline passes."""
        pat = re.compile(regex)
        deadline = time.monotonic() + timeout
        with self._cond:
            idx = 0
            while True:
                sink = self.lines if stream == "out" else self.err_lines
                while idx < len(sink):
                    m = pat.search(sink[idx])
                    idx += 1
                    if m:
                        return m
                if self._open_streams == 0:
                    raise AssertionError(
                        f"{self.name} ended (status {self.p.wait()}) before a line matching "
                        f"{regex!r}; output:\n{self.text()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name}: no line matching {regex!r} within "
                                         f"{timeout}s; output:\n{self.text()}")
                self._cond.wait(left)

    def wait_exit(self, timeout):
        """The exit status, once the process has ended and its output is all read (a caller
        looks at the last lines next)."""
        try:
            status = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} did not exit within {timeout}s; output:\n"
                                 f"{self.text()}") from None
        for t in self._readers:
            t.join(10)   # the pipes reach EOF once every holder (a child too) has closed them
        return status

    def send(self, sig):
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.p.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Ends the process (sig, then SIGKILL at the deadline); returns its status."""
        if self.alive():
            self.send(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        for t in self._readers:
            t.join(5)
        return self.p.returncode


def tagged_pids(tag):
    needle = f"NFLTR_TEST_TAG={tag}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    pids.append(int(entry))
        except OSError:
            continue
    return pids


def tagged_processes(tag, name):
    """Pids of processes carrying the lab tag whose executable is called `name`."""
    out = []
    for pid in tagged_pids(tag):
        try:
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        except OSError:
            continue
        if exe == name:
            out.append(pid)
    return out


class Lab:
    """Owns temp dirs and processes for one test (or one module)."""

    def __init__(self, name="lab"):
        self.tag = uuid.uuid4().hex
        # The name ends up in D-Bus addresses, which allow few characters unescaped.
        name = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:40]
        self.dir = tempfile.mkdtemp(prefix=f"nfltr-{name}-")
        self.procs = []
        self.cleanups = []

    def path(self, *parts):
        p = os.path.join(self.dir, *parts)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    def mkdir(self, *parts):
        p = os.path.join(self.dir, *parts)
        os.makedirs(p, mode=0o700, exist_ok=True)
        return p

    def env(self, **extra):
        env = dict(os.environ)
        # Nothing of the caller's session may leak into the lab.
        for k in ("DBUS_SESSION_BUS_ADDRESS", "NFLTR_SERVICE_BUS_ADDRESS", "DISPLAY",
                  "WAYLAND_DISPLAY", "DBUS_STARTER_ADDRESS", "DBUS_STARTER_BUS_TYPE"):
            env.pop(k, None)
        env["NFLTR_TEST_TAG"] = self.tag
        # English messages (tests match them): the CLI is translated, and gettext honours a
        # caller's LANGUAGE over C.UTF-8.
        env["LC_ALL"] = "C.UTF-8"
        env.pop("LANGUAGE", None)
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def spawn(self, name, argv, env=None, **kw):
        return Proc(self, name, argv, env=env, **kw)

    def dump_logs(self):
        for proc in self.procs:
            print(f"----- {proc.name}: {' '.join(proc.argv)} (status {proc.p.poll()})")
            print(proc.text())

    def close(self):
        for fn in reversed(self.cleanups):
            with contextlib.suppress(Exception):
                fn()
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.stop(signal.SIGTERM, timeout=5)
        # What our processes started on their own (the service the CLI spawned).
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = tagged_pids(self.tag)
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            if pids and sig == signal.SIGTERM:
                with contextlib.suppress(AssertionError):
                    wait_until(lambda: not tagged_pids(self.tag), 5, "tagged processes to end")
        left = tagged_pids(self.tag)
        shutil.rmtree(self.dir, ignore_errors=True)
        return left


# --------------------------------------------------------------------------------------
# The relay


class Relay:
    def __init__(self, lab, name="relay", port=None, data_dir=None, extra_args=()):
        self.lab = lab
        self.name = name
        self.port = port or free_port()
        self.data_dir = data_dir or lab.mkdir(name + "-data")
        self.extra_args = list(extra_args)
        self.proc = None
        self.runs = []   # every Proc this relay ran, oldest first

    @property
    def address(self):
        return f"{DOMAIN}:{self.port}"

    def create_key(self, label=None):
        argv = [relay_bin(), "keys", "create", "--data-dir", self.data_dir]
        if label:
            argv += ["--name", label]
        out = subprocess.run(argv,
                             env=self.lab.env(), capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, f"keys create failed ({out.returncode}): {out.stderr}"
        words = out.stdout.split()
        assert words, f"keys create printed no key (stderr: {out.stderr!r})"
        # The key is the last word printed (a bare key, or "...: KEY").
        return words[-1]

    def keys(self, *args):
        """`nfltr-relay keys ARGS --data-dir D` -> CompletedProcess (text)."""
        return subprocess.run([relay_bin(), "keys", *args, "--data-dir", self.data_dir],
                              env=self.lab.env(), capture_output=True, text=True, timeout=30)

    def fingerprint(self):
        out = subprocess.run([relay_bin(), "fingerprint", "--data-dir", self.data_dir],
                             env=self.lab.env(), capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, f"nfltr-relay fingerprint failed: {out.stderr}"
        return normalize_fingerprint(out.stdout)

    def wrapper(self):
        """What the relay runs under (a prefix of its argv that execs it: same pid)."""
        return []

    def start(self, timeout=20):
        argv = self.wrapper() + [relay_bin(), "serve", "--listen", f"127.0.0.1:{self.port}", "--domain", DOMAIN,
                "--data-dir", self.data_dir] + self.extra_args
        self.proc = self.lab.spawn(f"{self.name}#{len(self.runs) + 1}", argv)
        self.runs.append(self.proc)
        self.proc.wait_line(r"listening", timeout)
        assert port_accepts(self.port), f"relay said listening but :{self.port} refuses"
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc:
            self.proc.stop(sig)

    def log(self):
        return "\n".join(p.text() for p in self.runs)

    def wait_log(self, regex, timeout=10):
        return self.proc.wait_line(regex, timeout)

    def api(self, path):
        """GET https://nfltr.localhost:PORT<path> (the relay's own name). Returns
        (HTTP status, parsed JSON or None, raw body)."""
        r = curl(f"https://{DOMAIN}:{self.port}{path}", "-k", resolve=(DOMAIN, self.port))
        assert r.curl_rc == 0, f"curl to the relay API failed: {r.stderr}"
        try:
            body = json.loads(r.body)
        except ValueError:
            body = None
        return r.status, body, r.body


# --------------------------------------------------------------------------------------
# A private session bus


class Bus:
    CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

    def __init__(self, lab, name="bus"):
        sockdir = lab.mkdir(name + "-sock")
        conf = lab.path(name + ".conf")
        with open(conf, "w") as f:
            f.write(self.CONFIG.format(dir=sockdir))
        # No <servicedir>: nothing is D-Bus activated here, so the CLI must start the
        # service itself, as the issue asks.
        self.proc = lab.spawn(name, ["dbus-daemon", f"--config-file={conf}", "--nofork",
                                     "--print-address"])
        self.address = self.proc.wait_line(r"^(unix:.*)$", 10).group(1)


# --------------------------------------------------------------------------------------
# An agent: HOME + XDG dirs + (optionally) a bus, driving the real CLI


class Agent:
    def __init__(self, lab, name="agent", bus=True):
        self.lab, self.name = lab, name
        self.home = lab.mkdir(name, "home")
        self.runtime = lab.mkdir(name, "runtime")
        self.bus = Bus(lab, name + "-bus") if bus else None
        self.tunnels = []

    def env(self):
        extra = {
            "HOME": self.home,
            "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "XDG_DATA_HOME": os.path.join(self.home, ".local", "share"),
            "XDG_CACHE_HOME": os.path.join(self.home, ".cache"),
            "XDG_RUNTIME_DIR": self.runtime,
        }
        if self.bus:
            extra["DBUS_SESSION_BUS_ADDRESS"] = self.bus.address
            extra["NFLTR_SERVICE_BUS_ADDRESS"] = self.bus.address
        return self.lab.env(**extra)

    def run(self, *args, timeout=60, env=None, input=None):
        """Runs `nfltr ARGS` to completion; returns CompletedProcess (text). env: variables
        added to the agent's; input: what standard input reads (else nothing)."""
        try:
            return subprocess.run([nfltr_bin(), *args], env={**self.env(), **(env or {})},
                                  capture_output=True, text=True, timeout=timeout,
                                  input=input,
                                  stdin=subprocess.DEVNULL if input is None else None)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"`nfltr {' '.join(args)}` did not finish within {timeout}s; "
                                 f"stdout={exc.stdout!r} stderr={exc.stderr!r}") from None

    def login(self, relay, api_key=None, env=None):
        """`nfltr login` as a script does it: the key in $NFLTR_API_KEY (not on the command
        line), the relay's fingerprint obtained out of band (`nfltr-relay fingerprint`).
        env: more variables, which the service started by this login inherits."""
        key = api_key or relay.create_key()
        r = self.run("login", "--relay", relay.address, "--fingerprint", relay.fingerprint(),
                     env={"NFLTR_API_KEY": key, **(env or {})})
        assert r.returncode == 0, (f"nfltr login failed ({r.returncode}):\nstdout: {r.stdout}\n"
                                   f"stderr: {r.stderr}")
        return r

    def start(self, kind, target, *args, timeout=60):
        """`nfltr KIND TARGET ARGS --json`; waits for its ready line."""
        argv = [nfltr_bin(), kind, str(target), *args, "--json"]
        proc = self.lab.spawn(f"{self.name}:nfltr-{kind}", argv, env=self.env(),
                              split_stderr=True)
        tunnel = Tunnel(proc)
        tunnel.wait_ready(timeout)
        self.tunnels.append(tunnel)
        return tunnel

    def http(self, port, *args, **kw):
        return self.start("http", port, *args, **kw)

    def tcp(self, port, *args, **kw):
        return self.start("tcp", port, *args, **kw)


class Tunnel:
    def __init__(self, proc):
        self.proc = proc
        self.ready = None

    def wait_ready(self, timeout):
        m = self.proc.wait_line(r"^\s*\{", timeout)
        line = m.string
        try:
            ev = json.loads(line)
        except ValueError:
            raise AssertionError(f"first stdout line of {self.proc.name} is not JSON: {line!r}")
        assert ev.get("event") == "ready", f"first JSON event is not ready: {ev}"
        for k in ("url", "mode", "fingerprint"):
            assert k in ev, f"ready event lacks {k!r}: {ev}"
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", ev["fingerprint"]), \
            f"fingerprint not sha256:<64 hex>: {ev['fingerprint']!r}"
        self.ready = ev

    @property
    def url(self):
        return self.ready["url"]

    @property
    def host(self):
        return urllib.parse.urlsplit(self.url).hostname

    @property
    def port(self):
        return urllib.parse.urlsplit(self.url).port or 443

    @property
    def fingerprint(self):
        return self.ready["fingerprint"]

    @property
    def mode(self):
        return self.ready["mode"]

    def events(self):
        out = []
        for line in list(self.proc.lines):
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out


# --------------------------------------------------------------------------------------
# Local origins


class OriginHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _record(self, body=b""):
        self.server.requests.append({
            "method": self.command, "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "client": self.client_address[0], "body": body,
        })

    def _send(self, code, body, ctype="application/octet-stream"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._record()
        if self.path.startswith("/bytes/"):
            n = int(self.path.split("/")[2])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            chunk = b"\0" * (1 << 20)
            while n > 0:
                k = min(n, len(chunk))
                self.wfile.write(chunk[:k])
                n -= k
            return
        body = json.dumps({
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
        }).encode()
        self._send(200, body, "application/json")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self._record(body)
        self._send(200, self.server.response_body if self.path == "/marker" else body)


class Origin:
    """A local plain-HTTP server: echoes request headers as JSON (GET /anything), streams N
    zero bytes (GET /bytes/N), records every request and answers POST /marker with
    `response_body`."""

    def __init__(self, lab):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OriginHandler)
        self.server.daemon_threads = True
        self.server.requests = []
        self.server.response_body = b"origin says hi"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        lab.cleanups.append(self.close)

    @property
    def requests(self):
        return self.server.requests

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class TcpEcho:
    """A local TCP echo server."""

    def __init__(self, lab):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()
        lab.cleanups.append(self.close)

    def _accept(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        with c:
            while True:
                try:
                    data = c.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                self.received += data
                c.sendall(data)

    def close(self):
        self._stop = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


# --------------------------------------------------------------------------------------
# Public clients: curl and openssl


class CurlResult:
    def __init__(self, curl_rc, status, body, stderr):
        self.curl_rc, self.status, self.body, self.stderr = curl_rc, status, body, stderr

    def __repr__(self):
        return f"CurlResult(rc={self.curl_rc}, status={self.status}, body={self.body[:200]!r}, " \
               f"stderr={self.stderr!r})"


def curl(url, *args, resolve=None, timeout=30):
    """curl URL; returns CurlResult(exit code, HTTP status, body bytes, stderr)."""
    with tempfile.NamedTemporaryFile() as out:
        argv = ["curl", "-sS", "--max-time", str(timeout), "-o", out.name,
                "-w", "%{http_code}"]
        if resolve:
            argv += ["--resolve", f"{resolve[0]}:{resolve[1]}:127.0.0.1"]
        argv += [*args, url]
        r = subprocess.run(argv, capture_output=True, timeout=timeout + 10)
        with open(out.name, "rb") as f:
            body = f.read()
        code = r.stdout.decode().strip()
        return CurlResult(r.returncode, int(code) if code.isdigit() else 0, body,
                          r.stderr.decode("utf-8", "replace"))


def curl_tunnel(tunnel, path="/", *args, pin=None, timeout=30):
    """curl the tunnel's URL + path, -k plus (if given) a pinned public key."""
    extra = ["-k"]
    if pin:
        extra += ["--pinnedpubkey", f"sha256//{pin}"]
    return curl(tunnel.url.rstrip("/") + path, *extra, *args, resolve=(tunnel.host, tunnel.port),
                timeout=timeout)


def s_client(sni, port, *extra, timeout=30):
    """openssl s_client -connect 127.0.0.1:PORT -servername SNI -showcerts; stdin closed, so
    it handshakes, prints what it got and leaves. Returns (exit code, output)."""
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-showcerts"]
    if sni:
        argv += ["-servername", sni]
    else:
        argv += ["-noservername"]
    argv += list(extra)
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def served_cert_pem(sni, port):
    """The first (leaf) certificate the server at 127.0.0.1:PORT presents for SNI."""
    rc, out = s_client(sni, port)
    m = PEM_RE.search(out)
    assert m, f"no certificate from 127.0.0.1:{port} for SNI {sni!r} (rc {rc}):\n{out}"
    return m.group(0) + "\n"


def pem_to_der(pem):
    r = subprocess.run(["openssl", "x509", "-outform", "der"], input=pem.encode(),
                       capture_output=True, check=True)
    return r.stdout


def cert_text(pem):
    return subprocess.run(["openssl", "x509", "-noout", "-text"], input=pem.encode(),
                          capture_output=True, check=True).stdout.decode()


def spki_pin(pem):
    """base64(SHA-256(SubjectPublicKeyInfo DER)) — curl's --pinnedpubkey sha256// form,
    computed with the openssl pipeline curl's manual gives."""
    r = subprocess.run(
        "openssl x509 -pubkey -noout | openssl pkey -pubin -outform der"
        " | openssl dgst -sha256 -binary | base64",
        shell=True, input=pem.encode(), capture_output=True, check=True)
    return r.stdout.decode().strip()


# --------------------------------------------------------------------------------------
# Hand-made TLS clients, for the ClientHello edge cases


def _client_context(alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


class MemTLS:
    """A TLS client whose bytes we carry ourselves, so a test decides how the ClientHello
    reaches the wire (byte by byte, re-fragmented into records, padded...)."""

    def __init__(self, sni, alpn=None):
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = _client_context(alpn).wrap_bio(self.inc, self.out, server_hostname=sni)
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        self.hello = self.out.read()   # the ClientHello record(s), as OpenSSL wrote them

    def finish(self, sock, timeout=20):
        """Completes the handshake over sock (the hello was sent already)."""
        sock.settimeout(timeout)
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                pending = self.out.read()
                if pending:
                    sock.sendall(pending)
                data = sock.recv(65536)
                if not data:
                    raise AssertionError("server closed the connection during the handshake")
                self.inc.write(data)
        pending = self.out.read()
        if pending:
            sock.sendall(pending)

    def peer_der(self):
        return self.obj.getpeercert(binary_form=True)

    def request(self, sock, raw, timeout=20):
        """Sends raw application bytes, reads until the server closes; returns the bytes."""
        self.obj.write(raw)
        sock.sendall(self.out.read())
        sock.settimeout(timeout)
        got = bytearray()
        while True:
            try:
                chunk = self.obj.read(65536)
                if not chunk:
                    break
                got += chunk
                continue
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            pending = self.out.read()
            if pending:
                sock.sendall(pending)
            data = sock.recv(65536)
            if not data:
                break
            self.inc.write(data)
        return bytes(got)


def split_records(hello):
    """[(content_type, version, body), ...] of a byte string of TLS records."""
    out, i = [], 0
    while i < len(hello):
        ctype, ver, n = hello[i], hello[i + 1:i + 3], int.from_bytes(hello[i + 3:i + 5], "big")
        out.append((ctype, ver, hello[i + 5:i + 5 + n]))
        i += 5 + n
    return out


def record(ctype, ver, body):
    return bytes([ctype]) + ver + len(body).to_bytes(2, "big") + body


def read_until_closed(sock, timeout):
    """Everything the peer sends until it closes; (bytes, seconds it took, how it closed)."""
    sock.settimeout(timeout)
    got = bytearray()
    start = time.monotonic()
    how = "eof"
    while True:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            how = "timeout"
            break
        except ConnectionResetError:
            how = "reset"
            break
        if not data:
            break
        got += data
    return bytes(got), time.monotonic() - start, how


def http_get_bytes(host, path="/"):
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
            f"User-Agent: nfltr-lab\r\n\r\n").encode()


def marker_forms(marker):
    """The ways 32 random bytes could show up in a capture."""
    return [marker, marker.hex().encode(), marker.hex().upper().encode(),
            base64.b64encode(marker), base64.urlsafe_b64encode(marker),
            base64.b64encode(marker).rstrip(b"=")]
