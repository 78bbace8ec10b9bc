"""`nfltr serve DIR` through the relay: listing, downloads that resume (curl -C -, wget -c,
aria2c -x4), validators, gzip, the folder as tar, uploads, auth, and every way out of DIR
refused. The clients are the real ones; what they got is compared with the files."""
import concurrent.futures
import contextlib
import hashlib
import io
import os
import re
import socket
import subprocess
import tarfile
import threading
import types

import pytest

from nfltrlab import Agent, Relay, curl, curl_tunnel

SECRET = b"the secret outside the shared folder\n"


class ConnectProxy:
    """HTTP CONNECT to any *.nfltr.localhost name goes to the relay on loopback: wget and
    aria2c resolve names themselves, and the machine does not resolve *.localhost. The TLS
    (and its SNI) passes through unchanged."""

    def __init__(self, relay_port):
        self.relay_port = relay_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = c.recv(4096)
                if not chunk:
                    return
                head += chunk
            target = head.split(b" ")[1].decode()
            assert target.split(":")[0].endswith(".localhost"), target
            up = socket.create_connection(("127.0.0.1", self.relay_port))
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            rest = head.split(b"\r\n\r\n", 1)[1]
            if rest:
                up.sendall(rest)
            threading.Thread(target=self._pipe, args=(up, c), daemon=True).start()
            self._pipe(c, up)
        except (OSError, AssertionError):
            c.close()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                b.shutdown(socket.SHUT_WR)

    def close(self):
        self.closed = True
        self.sock.close()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def site(mlab):
    relay = Relay(mlab).start()
    agent = Agent(mlab)
    agent.login(relay)
    root = mlab.mkdir("shared")
    outside = mlab.mkdir("outside")
    with open(os.path.join(outside, "secret.txt"), "wb") as f:
        f.write(SECRET)
    big = os.urandom(3 * 1024 * 1024 + 123)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(big)
    text = ("line of text, compressible\n" * 2000).encode()
    with open(os.path.join(root, "notes.txt"), "wb") as f:
        f.write(text)
    os.mkdir(os.path.join(root, "sub dir"))
    with open(os.path.join(root, "sub dir", "inner ü.txt"), "wb") as f:
        f.write(b"inner\n")
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(root, "escape-link"))
    os.symlink(outside, os.path.join(root, "escape-dir"))
    os.symlink("notes.txt", os.path.join(root, "inside-link.txt"))
    os.mkfifo(os.path.join(root, "a-fifo"))
    tunnel = agent.start("serve", root)
    proxy = ConnectProxy(relay.port)
    yield types.SimpleNamespace(relay=relay, agent=agent, root=root, outside=outside,
                                tunnel=tunnel, big=big, text=text, proxy=proxy)
    proxy.close()


def get(site, path, *args, tunnel=None, timeout=30):
    return curl_tunnel(tunnel or site.tunnel, path, *args, timeout=timeout)


def test_listing_shows_files_and_the_verified_fingerprint(site):
    r = get(site, "/", "-H", "Accept: text/html")
    assert r.status == 200, r
    page = r.body.decode()
    for name in ("big.bin", "notes.txt", "sub dir/", "inside-link.txt"):
        assert f">{name}</a>" in page, (name, page)
    # The badge carries the certificate fingerprint the CLI printed, in its one format.
    assert site.tunnel.fingerprint in page
    assert "Verified end-to-end" in page
    # Links that lead out are not offered, nor special files.
    assert "escape-link" not in page and "escape-dir" not in page and "a-fifo" not in page
    # Sizes and dates; the sort links work without script.
    assert "3.0\u00a0MiB" in page
    by_size = get(site, "/?sort=size&order=desc").body.decode()
    assert by_size.index("big.bin") < by_size.index("notes.txt")
    by_name = get(site, "/?sort=name&order=desc").body.decode()
    assert by_name.index("notes.txt") < by_name.index("big.bin")


def test_security_headers(site):
    r = get(site, "/", "-D", "-", "-o", "/dev/null")
    headers = r.body.decode() if r.body else ""
    # -D - writes headers to stdout, which curl() keeps in the -o file; ask again simply
    r = subprocess.run(["curl", "-sk", "-D", "-", "-o", "/dev/null", "--resolve",
                        f"{site.tunnel.host}:{site.tunnel.port}:127.0.0.1", site.tunnel.url],
                       capture_output=True, text=True, timeout=30)
    headers = r.stdout.lower()
    assert "content-security-policy: default-src 'self'; script-src 'self';" in headers
    assert "referrer-policy: no-referrer" in headers
    assert "x-content-type-options: nosniff" in headers


def test_download_matches_and_has_validators(site):
    r = get(site, "/big.bin")
    assert r.status == 200 and sha256(r.body) == sha256(site.big), r
    h = subprocess.run(["curl", "-skI", "--resolve", f"{site.tunnel.host}:{site.tunnel.port}:127.0.0.1",
                        site.tunnel.url.rstrip("/") + "/big.bin"], capture_output=True, text=True).stdout
    etag = re.search(r"(?im)^etag: (\S+)", h).group(1)
    last_modified = re.search(r"(?im)^last-modified: (.+?)\r?$", h).group(1)
    assert re.search(r"(?im)^accept-ranges: bytes", h)
    assert re.search(r"(?im)^content-length: %d" % len(site.big), h)
    assert get(site, "/big.bin", "-H", f"If-None-Match: {etag}").status == 304
    assert get(site, "/big.bin", "-H", f"If-Modified-Since: {last_modified}").status == 304
    assert get(site, "/big.bin", "-H", 'If-None-Match: "other"').status == 200
    # Range, and If-Range with a stale validator (the whole file).
    r = get(site, "/big.bin", "-H", "Range: bytes=100-199")
    assert r.status == 206 and r.body == site.big[100:200]
    r = get(site, "/big.bin", "-H", "Range: bytes=-10")
    assert r.status == 206 and r.body == site.big[-10:]
    r = get(site, "/big.bin", "-H", "Range: bytes=100-199", "-H", 'If-Range: "stale"')
    assert r.status == 200 and len(r.body) == len(site.big)
    r = get(site, "/big.bin", "-H", f"Range: bytes={len(site.big) + 5}-")
    assert r.status == 416
    # The single-range policy: disjoint ranges get the whole file.
    r = get(site, "/big.bin", "-H", "Range: bytes=0-1,50-60")
    assert r.status == 200 and len(r.body) == len(site.big)


def test_mime_and_gzip(site):
    r = subprocess.run(["curl", "-sk", "--compressed", "-D", "-", "-o", "-", "--resolve",
                        f"{site.tunnel.host}:{site.tunnel.port}:127.0.0.1",
                        site.tunnel.url.rstrip("/") + "/notes.txt"], capture_output=True, timeout=30)
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    head = head.decode().lower()
    assert "content-type: text/plain" in head
    assert "content-encoding: gzip" in head
    assert body == site.text
    # without Accept-Encoding: identity
    r = get(site, "/notes.txt")
    assert r.body == site.text


def test_curl_resumes_a_broken_download(site, mlab):
    out = mlab.path("resume-curl.bin")
    with open(out, "wb") as f:
        f.write(site.big[:1234567])  # what a broken download left
    r = subprocess.run(["curl", "-sSk", "-C", "-", "-o", out, "--resolve",
                        f"{site.tunnel.host}:{site.tunnel.port}:127.0.0.1",
                        site.tunnel.url.rstrip("/") + "/big.bin"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert sha256(open(out, "rb").read()) == sha256(site.big)


def test_wget_resumes_a_broken_download(site, mlab):
    d = mlab.mkdir("wget")
    out = os.path.join(d, "big.bin")
    with open(out, "wb") as f:
        f.write(site.big[:777777])
    env = dict(os.environ, HOME=d, https_proxy=f"http://127.0.0.1:{site.proxy.port}")
    r = subprocess.run(["wget", "-c", "--no-check-certificate", "-O", out,
                        site.tunnel.url.rstrip("/") + "/big.bin"],
                       capture_output=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    # it asked for the rest, not the whole
    assert b"206" in r.stderr, r.stderr
    assert sha256(open(out, "rb").read()) == sha256(site.big)


def test_aria2c_with_four_connections(site, mlab):
    d = mlab.mkdir("aria2")
    r = subprocess.run(["aria2c", "-x4", "-s4", "-k1M", "--check-certificate=false",
                        "--async-dns=false", f"--all-proxy=http://127.0.0.1:{site.proxy.port}", "-d", d, "-o", "big.bin", "--console-log-level=warn",
                        site.tunnel.url.rstrip("/") + "/big.bin"], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sha256(open(os.path.join(d, "big.bin"), "rb").read()) == sha256(site.big)


@pytest.mark.parametrize("path", [
    "/../outside/secret.txt",
    "/%2e%2e/outside/secret.txt",
    "/%2E%2E%2Foutside%2Fsecret.txt",
    "/..%2foutside%2fsecret.txt",
    "/sub%20dir/../../outside/secret.txt",
    "/..%5coutside%5csecret.txt",
    "/..\\outside\\secret.txt",
    "/%00",
    "/notes.txt%00.png",
    "/escape-link",
    "/escape-dir/secret.txt",
    "/escape-dir/",
    "/a-fifo",
])
def test_every_way_out_is_refused(site, path):
    r = get(site, path, "--path-as-is", timeout=15)
    assert r.curl_rc == 0, r
    assert r.status in (400, 403, 404), r
    assert SECRET not in r.body


def test_inside_symlink_and_unicode_names(site):
    r = get(site, "/inside-link.txt")
    assert r.status == 200 and r.body == site.text
    r = get(site, "/sub%20dir/inner%20%C3%BC.txt")
    assert r.status == 200 and r.body == b"inner\n"
    r = get(site, "/sub%20dir")
    assert r.status == 301


def test_folder_as_streamed_tar(site):
    r = get(site, "/?download=tar", timeout=60)
    assert r.status == 200, r
    with tarfile.open(fileobj=io.BytesIO(r.body)) as tar:
        names = tar.getnames()
        assert "files/big.bin" in names and "files/sub dir/inner ü.txt" in names, names
        assert tar.extractfile("files/big.bin").read() == site.big
        # nothing reached through a link or a special file
        assert not any("secret" in n or "escape" in n or "fifo" in n for n in names), names
    assert SECRET not in r.body


# ---- uploads and auth: tunnels of their own ----

@pytest.fixture(scope="module")
def upload_site(mlab, site):
    root = mlab.mkdir("uploads")
    tunnel = site.agent.start("serve", root, "--upload", "--max-upload", "1M")
    return types.SimpleNamespace(root=root, tunnel=tunnel)


def leftovers(root):
    return [n for n in os.listdir(root) if n.startswith(".nfltr-upload-")]


def test_put_and_form_uploads(upload_site, mlab):
    t = upload_site.tunnel
    data = os.urandom(300000)
    src = mlab.path("up.bin")
    open(src, "wb").write(data)
    r = curl_tunnel(t, "/up.bin", "-T", src)
    assert r.status == 201, r
    assert open(os.path.join(upload_site.root, "up.bin"), "rb").read() == data
    r = curl_tunnel(t, "/", "-F", f"file=@{src};filename=form.bin")
    assert r.status == 201 and b"saved form.bin" in r.body, r
    assert open(os.path.join(upload_site.root, "form.bin"), "rb").read() == data
    # a second form upload of the same name does not overwrite
    r = curl_tunnel(t, "/", "-F", f"file=@{src};filename=form.bin")
    assert b"saved form (1).bin" in r.body, r
    assert leftovers(upload_site.root) == []


def test_oversized_uploads_are_refused_and_leave_nothing(upload_site, mlab):
    t = upload_site.tunnel
    src = mlab.path("huge.bin")
    open(src, "wb").write(os.urandom(3 * 1024 * 1024))
    r = curl_tunnel(t, "/huge.bin", "-T", src, timeout=60)
    assert r.status == 413 and "larger than the limit of 1.0\u00a0MiB".encode() in r.body, r
    # chunked: no length announced, refused while streaming
    r = curl_tunnel(t, "/huge-chunked.bin", "-T", src, "-H", "Transfer-Encoding: chunked", timeout=60)
    assert r.status == 413, r
    r = curl_tunnel(t, "/", "-F", f"file=@{src};filename=huge-form.bin", timeout=60)
    assert r.status == 413, r
    for name in ("huge.bin", "huge-chunked.bin", "huge-form.bin"):
        assert not os.path.exists(os.path.join(upload_site.root, name))
    assert leftovers(upload_site.root) == []


def test_bad_upload_names(upload_site, mlab):
    t = upload_site.tunnel
    src = mlab.path("small.txt")
    open(src, "wb").write(b"x")
    for name in ("../escape.txt", "a/b.txt", ".."):
        r = curl_tunnel(t, "/", "-F", f"file=@{src};filename={name}")
        assert r.status == 400, (name, r)
    # soup removes dot segments (RFC 3986 §5.2.4) before we see the path: the file lands
    # inside, or the request is refused; never outside.
    r = curl_tunnel(t, "/../escape.txt", "-T", src, "--path-as-is")
    assert r.status in (201, 400, 403), r
    r = curl_tunnel(t, "/%2e%2e/escape2.txt", "-T", src, "--path-as-is")
    assert r.status in (201, 400, 403), r
    for name in ("escape.txt", "escape2.txt"):
        assert not os.path.exists(os.path.join(mlab.path(), name))
        assert not os.path.exists(os.path.join(os.path.dirname(upload_site.root), name))
    assert leftovers(upload_site.root) == []


def test_concurrent_uploads_to_one_name(upload_site, mlab):
    t = upload_site.tunnel
    bodies = [bytes([i]) * 200000 for i in range(8)]
    paths = []
    for i, b in enumerate(bodies):
        p = mlab.path(f"conc-{i}.bin")
        open(p, "wb").write(b)
        paths.append(p)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda p: curl_tunnel(t, "/same.bin", "-T", p, timeout=60), paths))
    assert all(r.status in (200, 201) for r in results), results
    final = open(os.path.join(upload_site.root, "same.bin"), "rb").read()
    assert final in bodies  # one whole upload, never a mix
    assert leftovers(upload_site.root) == []


def test_uploads_off_by_default(site, mlab):
    src = mlab.path("small2.txt")
    open(src, "wb").write(b"x")
    r = get(site, "/new.txt", "-T", src)
    assert r.status == 405 and b"read-only" in r.body, r
    assert not os.path.exists(os.path.join(site.root, "new.txt"))


def test_basic_auth(site, mlab):
    root = mlab.mkdir("private")
    open(os.path.join(root, "p.txt"), "w").write("private\n")
    t = site.agent.start("serve", root, "--basic-auth", "ann:pa55word")
    r = curl_tunnel(t, "/p.txt")
    assert r.status == 401 and b"needs a user name and password" in r.body, r
    r = curl_tunnel(t, "/p.txt", "-u", "ann:wrong")
    assert r.status == 401 and b"private" not in r.body, r
    r = curl_tunnel(t, "/p.txt", "-u", "ann:pa55word")
    assert r.status == 200 and r.body == b"private\n", r
    # an unauthenticated upload is refused too (uploads are off here anyway)
    r = curl_tunnel(t, "/x", "-T", os.path.join(root, "p.txt"))
    assert r.status == 401


def test_token(site, mlab):
    root = mlab.mkdir("tokened")
    open(os.path.join(root, "t.txt"), "w").write("tokened\n")
    t = site.agent.start("serve", root, "--token=tok3n-abcdefgh")
    r = curl_tunnel(t, "/t.txt")
    assert r.status == 401 and b"needs its access token" in r.body, r
    r = curl_tunnel(t, "/t.txt?token=tok3n-abcdefgX")
    assert r.status == 401 and b"wrong" in r.body, r
    r = curl_tunnel(t, "/t.txt?token=tok3n-abcdefgh")
    assert r.status == 200 and r.body == b"tokened\n", r
