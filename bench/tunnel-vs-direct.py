#!/usr/bin/python3
"""Throughput of one download through an NFLTR tunnel against a direct TLS connection to the
same local server, in the same run (issue #2's closing figure; a benchmark, not a test).

    sudo ./tools/setup && bench/tunnel-vs-direct.py [--size-mib 1024] [--build build]

What is measured, each with one `curl -k -o /dev/null` of SIZE bytes from loopback:

  origin   a local plain-HTTP server (Python, in this process) streaming SIZE zero bytes from
           memory in 1 MiB writes. Every path below ends at this same server.
  plain    curl http://127.0.0.1:ORIGIN/ — no TLS: what the origin and curl can do at all.
  direct   curl https://127.0.0.1:SOCAT/ — socat (OpenSSL) terminating TLS with an ECDSA P-256
           key in front of the origin: "a direct TLS connection to the same local server", the
           physical limit for anything that adds TLS to this origin. socat gets a 256 KiB
           buffer (-b) so the baseline is not held back by its 8 KiB default.
  tunnel   curl https://bench.nfltr.localhost:RELAY/ — through nfltr-relay (SNI routing,
           splice) and nfltr-service (TLS with the agent's ECDSA P-256 key, HTTP forwarding
           to the origin), logged in on a private D-Bus bus, as `nfltr http` sets it up.

Prints bytes/s for each, the negotiated TLS version and cipher of the two TLS paths, and
tunnel/direct. Everything runs on 127.0.0.1; all processes are ended at exit.
"""
import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))


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

        relay = L.Relay(lab).start()
        agent = L.Agent(lab)
        agent.login(relay)
        tunnel = agent.http(origin.port, "--name", "bench")

        results = {}
        results["plain"] = curl_download(f"http://127.0.0.1:{origin.port}{path}")
        results["direct"] = curl_download(f"https://127.0.0.1:{socat_port}{path}")
        results["tunnel"] = curl_download(tunnel.url.rstrip("/") + path,
                                          resolve=(tunnel.host, tunnel.port))
        ciphers = {"direct": negotiated(socat_port, "direct.localhost"),
                   "tunnel": negotiated(tunnel.port, tunnel.host)}

        print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, {platform.release()}")
        print(f"download: {size} bytes ({args.size_mib} MiB), one curl each, same run")
        for name in ("plain", "direct", "tunnel"):
            got, secs, speed = results[name]
            if got != size:
                raise SystemExit(f"{name}: got {got} bytes, expected {size}")
            extra = f"  [{ciphers[name]}]" if name in ciphers else ""
            print(f"{name:7s} {speed / 1e6:9.1f} MB/s  {speed * 8 / 1e9:6.2f} Gbit/s"
                  f"  {secs:7.2f} s{extra}")
        ratio = results["tunnel"][2] / results["direct"][2]
        print(f"tunnel/direct: {ratio:.2f}")
    finally:
        left = lab.close()
        if left:
            print(f"warning: processes left: {left}", file=sys.stderr)


if __name__ == "__main__":
    main()
