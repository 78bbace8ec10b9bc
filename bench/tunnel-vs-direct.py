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

Prints bytes/s for each, the negotiated TLS version and cipher of the TLS paths, and
tunnel/direct. Everything runs on 127.0.0.1; all processes are ended at exit.
"""
import argparse
import os
import platform
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))


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


def curl_download(url, resolve=None):
    argv = ["curl", "-sS", "-k", "-o", "/dev/null", "-w",
            "%{http_code} %{size_download} %{time_total} %{speed_download}"]
    if resolve:
        argv += ["--resolve", f"{resolve[0]}:{resolve[1]}:127.0.0.1"]
    out = subprocess.run(argv + [url], capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"curl {url} failed: {out.stderr}")
    code, size, total, speed = out.stdout.split()
    if code != "200":
        raise SystemExit(f"curl {url}: HTTP {code}")
    return int(size), float(total), float(speed)


def negotiated(port, sni):
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                          "-servername", sni], stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, timeout=30).stdout
    m = re.search(r"New, (\S+), Cipher is (\S+)", out)
    return f"{m.group(1)} {m.group(2)}" if m else "?"


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--rounds", type=int, default=1,
                    help="downloads per path, interleaved; the median is reported")
    args = ap.parse_args()
    os.environ["NFLTR_BUILD_ROOT"] = os.path.abspath(args.build)
    os.environ["NFLTR_SOURCE_ROOT"] = TOP

    import nfltrlab as L   # after NFLTR_BUILD_ROOT is set

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
        ngdir = lab.mkdir("nginx")
        with open(os.path.join(ngdir, "nginx.conf"), "w") as f:
            f.write(NGINX_CONF.format(dir=ngdir, port=nginx_port, cert=cert, key=key,
                                      origin=origin.port))
        lab.spawn("nginx", ["nginx", "-p", ngdir, "-c", os.path.join(ngdir, "nginx.conf"),
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

        urls = {
            "plain": (f"http://127.0.0.1:{origin.port}{path}", None),
            "socat": (f"https://127.0.0.1:{socat_port}{path}", None),
            "nginx": (f"https://127.0.0.1:{nginx_port}{path}", None),
            "tunnel": (tunnel.url.rstrip("/") + path, (tunnel.host, tunnel.port)),
        }
        runs = {name: [] for name in urls}
        for _ in range(args.rounds):
            for name, (url, resolve) in urls.items():
                runs[name].append(curl_download(url, resolve))
        # The median round of each path by speed (the middle one for odd --rounds).
        results = {name: sorted(r, key=lambda x: x[2])[len(r) // 2] for name, r in runs.items()}
        ciphers = {"socat": negotiated(socat_port, "direct.localhost"),
                   "nginx": negotiated(nginx_port, "direct.localhost"),
                   "tunnel": negotiated(tunnel.port, tunnel.host)}

        print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, {platform.release()}")
        print(f"download: {size} bytes ({args.size_mib} MiB), {args.rounds} curl(s) per path, "
              f"interleaved, same run; median shown")
        for name, r in runs.items():
            if len(r) > 1:
                print(f"  {name:7s} rounds (MB/s): "
                      + " ".join(f"{x[2] / 1e6:.0f}" for x in r))
        for name in ("plain", "socat", "nginx", "tunnel"):
            got, secs, speed = results[name]
            if got != size:
                raise SystemExit(f"{name}: got {got} bytes, expected {size}")
            extra = f"  [{ciphers[name]}]" if name in ciphers else ""
            print(f"{name:7s} {speed / 1e6:9.1f} MB/s  {speed * 8 / 1e9:6.2f} Gbit/s"
                  f"  {secs:7.2f} s{extra}")
        direct = max(("socat", "nginx"), key=lambda n: results[n][2])
        ratio = results["tunnel"][2] / results[direct][2]
        print(f"tunnel/direct ({direct}): {ratio:.2f}")
    finally:
        left = lab.close()
        if left:
            print(f"warning: processes left: {left}", file=sys.stderr)


if __name__ == "__main__":
    main()
