"""`nfltr shell` and `nfltr ssh`: the OpenSSH client logs in through the real relay to the
SSH server inside the agent's TLS (service/kinds/shell) — with openssl s_client as its
ProxyCommand, and with `nfltr ssh`, which pins the tunnel's certificate. Commands and their
exit status, a PTY, scp and sftp both ways, refusals (wrong key, passwords, a changed
certificate) and a flood of connections that never log in."""
import getpass
import hashlib
import json
import os
import re
import select
import socket
import ssl
import subprocess
import time

import pytest

from nfltrlab import Agent, Relay, nfltr_bin, wait_until

USER = getpass.getuser()
# 20 MB in CI (the size), less on a developer's loaded machine if asked.
BIG = int(os.environ.get("NFLTR_SHELL_TEST_BYTES", str(20 * 1000 * 1000)))


def keygen(path, kind="ed25519"):
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "test", "-f", path],
                   check=True, timeout=30)
    return path


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Shell:
    """One relay, one logged-in agent and one `nfltr shell` for the module."""

    def __init__(self, lab):
        self.lab = lab
        self.relay = Relay(lab).start()
        self.agent = Agent(lab)
        # The server is slow after a connection's fifth refusal (a test hook): the client's
        # sixth attempt is then already waiting, the case where libssh used to drop the
        # DISCONNECT's reason (test_failed_authentication_cap).
        self.agent.login(self.relay, env={"NFLTR_SHELL_TEST_SLOW_AUTH_MS": "400"})
        self.key = keygen(lab.path("keys", "id_good"))
        self.other_key = keygen(lab.path("keys", "id_other"))
        self.rsa_key = keygen(lab.path("keys", "id_rsa"), "rsa")
        self.ecdsa_key = keygen(lab.path("keys", "id_ecdsa"), "ecdsa")
        self.forced_key = keygen(lab.path("keys", "id_forced"))
        self.from_key = keygen(lab.path("keys", "id_from"))
        self.authorized = lab.path("authorized_keys")
        with open(self.authorized, "w") as out:
            out.write("# the test's key\n" + open(self.key + ".pub").read())
            out.write(open(self.rsa_key + ".pub").read() + open(self.ecdsa_key + ".pub").read())
            # A key that may run one command only, without a PTY.
            out.write('restrict,command="echo forced:$SSH_ORIGINAL_COMMAND" '
                      + open(self.forced_key + ".pub").read())
            # A limit the server cannot enforce: the line gives no access at all.
            out.write('from="127.0.0.1" ' + open(self.from_key + ".pub").read())
        os.chmod(self.authorized, 0o600)
        self.known_hosts = lab.path("known_hosts")
        argv = [nfltr_bin(), "shell", "--name", "sh1", "--authorized-keys", self.authorized,
                "--json"]
        self.proc = lab.spawn("nfltr-shell", argv, env=self.agent.env(), split_stderr=True)
        m = self.proc.wait_line(r'"event":"ready"', 60)
        self.ready = json.loads(m.string)
        m = self.proc.wait_line(r'"event":"ssh"', 10)
        self.ssh_event = json.loads(m.string)
        self.host = self.ssh_event["host"]

    def proxy(self):
        return (f"ProxyCommand=openssl s_client -quiet -verify_quiet -connect "
                f"127.0.0.1:{self.relay.port} -servername %h")

    def ssh_opts(self, key=None):
        return ["-F", "/dev/null", "-i", key or self.key, "-o", "IdentitiesOnly=yes",
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new",
                "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "ConnectTimeout=30"]

    def ssh(self, *args, key=None, input=None, timeout=120, opts=()):
        argv = ["ssh", *self.ssh_opts(key), *opts, "-o", self.proxy(), f"{USER}@{self.host}",
                *args]
        return subprocess.run(argv, capture_output=True, timeout=timeout, env=self.agent.env(),
                              input=input, stdin=None if input is not None else subprocess.DEVNULL)

    def nfltr_ssh(self, *args, timeout=120, env=None):
        argv = [nfltr_bin(), "ssh", f"{USER}@{self.host}", *self.ssh_opts(), *args]
        return subprocess.run(argv, capture_output=True, timeout=timeout,
                              env={**self.agent.env(), **(env or {})},
                              stdin=subprocess.DEVNULL)

    def transfer_opts(self):
        return [*self.ssh_opts(), "-o", self.proxy()]


@pytest.fixture(scope="module")
def shell(mlab):
    return Shell(mlab)


def test_ready_says_how_to_log_in(shell):
    ev = shell.ssh_event
    assert shell.ready["kind"] == "shell", shell.ready
    assert ev["host"] == "sh1.nfltr.localhost", ev
    assert ev["user"] == USER
    assert re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}", ev["host_key_fingerprint"]), ev
    assert ev["nfltr_command"] == f"nfltr ssh --relay sh1.nfltr.localhost:{shell.relay.port} {USER}@sh1.nfltr.localhost", ev
    assert f"-connect 127.0.0.1:{shell.relay.port} -servername %h" in ev["proxy_command"], ev
    assert ev["ssh_command"].startswith("ssh -o ProxyCommand='openssl s_client"), ev


def test_command_output_and_exit_status(shell):
    r = shell.ssh("echo hello from $USER; echo to-stderr >&2; exit 7")
    assert r.returncode == 7, r
    assert r.stdout == f"hello from {USER}\n".encode(), r
    assert b"to-stderr" in r.stderr, r
    # The host key ssh recorded is the one `nfltr shell` announced.
    out = subprocess.run(["ssh-keygen", "-l", "-f", shell.known_hosts], capture_output=True,
                         text=True, check=True)
    assert shell.ssh_event["host_key_fingerprint"] in out.stdout, out.stdout


def test_rsa_and_ecdsa_keys(shell):
    for key in (shell.rsa_key, shell.ecdsa_key):
        r = shell.ssh("echo key-ok", key=key)
        assert r.returncode == 0 and r.stdout == b"key-ok\n", r


def test_exit_signal(shell):
    # A death by signal is an exit-signal request (RFC 4254 §6.10), which OpenSSH turns into
    # status 255; its debug log names the request, so a missing status (also 255) fails.
    r = shell.ssh("kill -TERM $$", opts=["-v"])
    assert r.returncode == 255, r
    assert b"rtype exit-signal" in r.stderr, r
    r = shell.ssh("exit 143", opts=["-v"])
    assert r.returncode == 143 and b"rtype exit-status" in r.stderr, r


def test_stdin_and_eof(shell):
    data = os.urandom(300_000)
    r = shell.ssh("sha256sum", input=data)
    assert r.returncode == 0, r
    assert r.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest(), r


def test_pty(shell):
    r = shell.ssh("tty; echo cols=$(stty size)", opts=["-tt"])
    assert r.returncode == 0, r
    text = r.stdout.decode(errors="replace")
    assert re.search(r"/dev/pts/\d+", text), text


def test_env_request(shell):
    r = shell.ssh("echo lang=$LANG nope=$NOT_ALLOWED", opts=["-o", "SetEnv=LANG=C.UTF-8 NOT_ALLOWED=x"])
    assert r.returncode == 0, r
    assert r.stdout == b"lang=C.UTF-8 nope=\n", r


def test_scp_both_ways(shell, tmp_path):
    src = tmp_path / "up.bin"
    src.write_bytes(os.urandom(BIG))
    remote = shell.lab.path("remote", "up.bin")
    back = tmp_path / "back.bin"
    up = subprocess.run(["scp", *shell.transfer_opts(), str(src), f"{USER}@{shell.host}:{remote}"],
                        capture_output=True, timeout=300, env=shell.agent.env())
    assert up.returncode == 0, up
    assert sha256_file(remote) == sha256_file(src)
    down = subprocess.run(["scp", *shell.transfer_opts(), f"{USER}@{shell.host}:{remote}", str(back)],
                          capture_output=True, timeout=300, env=shell.agent.env())
    assert down.returncode == 0, down
    assert sha256_file(back) == sha256_file(src)


def test_scp_legacy_protocol(shell, tmp_path):
    # scp -O: the old rcp-style protocol, which runs `scp -t` through the shell (exec).
    src = tmp_path / "legacy.bin"
    src.write_bytes(os.urandom(1_000_000))
    remote = shell.lab.path("remote", "legacy.bin")
    up = subprocess.run(["scp", "-O", *shell.transfer_opts(), str(src), f"{USER}@{shell.host}:{remote}"],
                        capture_output=True, timeout=120, env=shell.agent.env())
    assert up.returncode == 0, up
    assert sha256_file(remote) == sha256_file(src)


def test_sftp_both_ways(shell, tmp_path):
    src = tmp_path / "s.bin"
    src.write_bytes(os.urandom(BIG))
    remote_dir = shell.lab.mkdir("sftp-remote")
    batch = tmp_path / "batch"
    batch.write_text(f"put {src} {remote_dir}/s.bin\nget {remote_dir}/s.bin {tmp_path}/s.back\n"
                     f"ls -l {remote_dir}\n")
    r = subprocess.run(["sftp", *shell.transfer_opts(), "-b", str(batch), f"{USER}@{shell.host}"],
                       capture_output=True, timeout=300, env=shell.agent.env())
    assert r.returncode == 0, r
    assert sha256_file(os.path.join(remote_dir, "s.bin")) == sha256_file(src)
    assert sha256_file(tmp_path / "s.back") == sha256_file(src)


def test_wrong_key_refused(shell):
    r = shell.ssh("echo should-not-run", key=shell.other_key)
    assert r.returncode == 255, r
    assert b"Permission denied (publickey)" in r.stderr, r
    assert b"should-not-run" not in r.stdout


def test_password_refused(shell):
    r = shell.ssh("echo should-not-run",
                  opts=["-o", "PubkeyAuthentication=no",
                        "-o", "PreferredAuthentications=password,keyboard-interactive"])
    assert r.returncode == 255, r
    # The server offers public keys and nothing else.
    assert b"Permission denied (publickey)" in r.stderr, r


def test_nfltr_ssh_pins_and_logs_in(shell):
    pins = os.path.join(shell.agent.home, ".config", "nfltr", "known_tunnels")
    r = shell.nfltr_ssh("echo via-nfltr; exit 3")
    assert r.returncode == 3, r
    assert r.stdout == b"via-nfltr\n", r
    assert b"pinned its certificate" in r.stderr, r
    with open(pins) as f:
        assert f"{shell.host} {shell.ready['fingerprint']}" in f.read()
    assert os.stat(pins).st_mode & 0o777 == 0o600
    # Second time: the pin matches, nothing is said.
    r = shell.nfltr_ssh("echo again")
    assert r.returncode == 0 and r.stdout == b"again\n", r
    assert b"pinned" not in r.stderr, r


def test_nfltr_ssh_refuses_a_changed_certificate(shell):
    pins = os.path.join(shell.agent.home, ".config", "nfltr", "known_tunnels")
    os.makedirs(os.path.dirname(pins), exist_ok=True)
    with open(pins, "w") as f:
        f.write(f"{shell.host} sha256:{'ab' * 32}\n")
    try:
        r = shell.nfltr_ssh("echo should-not-run")
        assert r.returncode == 255, r
        assert b"should-not-run" not in r.stdout
        assert b"HAS CHANGED" in r.stderr, r
        assert shell.ready["fingerprint"].encode() in r.stderr, r
    finally:
        os.unlink(pins)


def test_unauthenticated_flood_does_not_take_the_shell_down(shell):
    """Many TLS connections that never log in (silent, or garbage) while the owner logs in."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    held = []
    try:
        for i in range(60):
            raw = socket.create_connection(("127.0.0.1", shell.relay.port), timeout=10)
            try:
                s = ctx.wrap_socket(raw, server_hostname=shell.host)
            except OSError:
                raw.close()
                continue
            if i % 2:
                # Garbage after a plausible banner; the server may hang up at once.
                try:
                    s.sendall(b"SSH-2.0-flood\r\n" + os.urandom(2000))
                except OSError:
                    pass
            held.append(s)
        assert len(held) >= 20, f"only {len(held)} flood connections got through the relay"
        # The owner still gets in while the flood is held open.
        r = shell.ssh("echo still-here")
        assert r.returncode == 0 and r.stdout == b"still-here\n", r
    finally:
        for s in held:
            s.close()
    assert shell.proc.alive(), "nfltr shell ended during the flood"
    r = shell.ssh("echo after")
    assert r.returncode == 0 and r.stdout == b"after\n", r


def test_authorized_keys_options(shell):
    r = shell.ssh("rm -rf /tmp/not-this", key=shell.forced_key)
    assert r.returncode == 0, r
    assert r.stdout == b"forced:rm -rf /tmp/not-this\n", r
    # no-pty (from restrict): refused, and OpenSSH gives up when -t asked for one.
    r = shell.ssh("tty", key=shell.forced_key, opts=["-tt"])
    assert b"PTY allocation request failed" in r.stderr, r
    assert b"/dev/pts" not in r.stdout, r
    r = shell.ssh("echo should-not-run", key=shell.from_key)
    assert r.returncode == 255 and b"Permission denied (publickey)" in r.stderr, r


def test_failed_authentication_cap(shell):
    """Six refused keys end the connection: the good seventh is never tried."""
    bad = [keygen(shell.lab.path("keys", f"id_bad{i}")) for i in range(6)]
    # ssh offers its -i keys in order: six refused ones, then the good one.
    opts = []
    for k in bad[1:] + [shell.key]:
        opts += ["-i", k]
    r = shell.ssh("echo should-not-run", key=bad[0], opts=opts)
    assert r.returncode == 255, r
    assert b"should-not-run" not in r.stdout
    assert b"Too many authentication failures" in r.stderr, r
    # Five refusals are fine: the good key comes sixth.
    r = shell.ssh("echo in", key=bad[1], opts=opts[2:])
    assert r.returncode == 0 and r.stdout == b"in\n", r


def test_window_change(shell):
    """ssh on a terminal: the PTY gets its size, and a resize reaches the remote shell."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    argv = ["ssh", *shell.ssh_opts(), "-o", shell.proxy(), "-tt", f"{USER}@{shell.host}",
            'trap "stty size; exit 0" WINCH; stty size; while :; do sleep 0.1; done']
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=shell.agent.env(),
                         start_new_session=True,
                         preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    out = b""

    def read_until(text, deadline):
        nonlocal out
        while text not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    break
        return text in out

    try:
        deadline = time.monotonic() + 60
        assert read_until(b"30 100", deadline), out
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        assert read_until(b"40 120", deadline), out
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for this purpose (its parent reaps it).
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][0] != "Z"


def start_remote_sleep(shell):
    # Through `nfltr ssh`: its proxy ends with ssh (openssl s_client -quiet ignores the EOF).
    argv = [nfltr_bin(), "ssh", f"{USER}@{shell.host}", *shell.ssh_opts(),
            "echo $$; exec sleep 12345"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, env=shell.agent.env())
    pid = int(p.stdout.readline())
    assert pid_alive(pid)
    return p, pid


def test_client_gone_hangs_up_the_process(shell):
    p, pid = start_remote_sleep(shell)
    p.kill()
    p.wait()
    wait_until(lambda: not pid_alive(pid), 20, "the remote sleep to end after its client died")


def test_silent_connection_is_dropped_after_the_auth_timeout(shell):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", shell.relay.port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname=shell.host)
    s.settimeout(60)
    try:
        start = time.monotonic()
        banner = s.recv(256)
        assert banner.startswith(b"SSH-2.0-"), banner
        # Nothing more from us: the server gives up within its 30 s.
        while s.recv(4096):
            pass
        elapsed = time.monotonic() - start
        assert 20 < elapsed < 50, elapsed
    finally:
        s.close()


def test_stopping_the_shell_ends_its_sessions(shell):
    """Last: Ctrl-C on `nfltr shell` removes the tunnel and ends what its sessions run."""
    p, pid = start_remote_sleep(shell)
    try:
        shell.proc.send(__import__("signal").SIGINT)
        shell.proc.wait_exit(30)
        wait_until(lambda: not pid_alive(pid), 20, "the remote sleep to end with the tunnel")
        assert p.wait(timeout=30) != 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
