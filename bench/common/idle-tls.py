#!/usr/bin/python3
"""Opens N TLS connections through a proxy and holds them idle.

    idle-tls.py --connect 127.0.0.1:PORT --sni bench.nfltr.localhost --ca cert.pem -n 10000

Each connection completes a full TLS handshake with the backend (the backend certificate is the
only trust anchor and its name is checked, so a connection that is "ready" really reaches the
backend through the proxy), then sends nothing. Prints one line
    ready <ok> failed <n> seconds <s>
when all attempts are done, then holds every connection until SIGUSR1 or SIGTERM. On SIGUSR1 it
first sends one HTTP request on a sample of the held connections and prints
    check <answered>/<asked>
so the run shows that the idle connections were still alive end to end when memory was read.
"""
import argparse
import asyncio
import resource
import signal
import ssl
import sys
import time


async def open_one(args, ctx, sem, held, errors, state):
    async with sem:
        if state["stop"]:
            return
        try:
            r, w = await asyncio.wait_for(
                asyncio.open_connection(args.host, args.port, ssl=ctx,
                                        server_hostname=args.sni),
                timeout=args.timeout)
            held.append((r, w))
            state["streak"] = 0
        except Exception as e:  # noqa: BLE001 - every failure is counted and shown once
            key = type(e).__name__ + ": " + str(e)[:80]
            errors[key] = errors.get(key, 0) + 1
            # A proxy that refuses this many in a row is full: stop asking (bounded run).
            state["streak"] += 1
            if state["streak"] >= args.give_up:
                state["stop"] = True


async def check(held, sni, sample):
    asked = answered = 0
    step = max(1, len(held) // sample)
    for r, w in held[::step][:sample]:
        asked += 1
        try:
            w.write(b"GET /small HTTP/1.1\r\nHost: " + sni.encode() + b"\r\n\r\n")
            line = await asyncio.wait_for(r.readline(), timeout=10)
            if line.startswith(b"HTTP/1.1 200"):
                answered += 1
        except Exception:  # noqa: BLE001
            pass
    return asked, answered


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--connect", required=True, help="IP:PORT of the proxy")
    p.add_argument("--sni", required=True)
    p.add_argument("--ca", required=True, help="backend certificate (the only trust anchor)")
    p.add_argument("-n", type=int, default=10000)
    p.add_argument("--parallel", type=int, default=100, help="handshakes in flight")
    p.add_argument("--timeout", type=float, default=15)
    p.add_argument("--give-up", type=int, default=200,
                   help="stop after this many failures in a row")
    p.add_argument("--sample", type=int, default=100)
    args = p.parse_args()
    args.host, port = args.connect.rsplit(":", 1)
    args.port = int(port)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    ctx = ssl.create_default_context(cafile=args.ca)
    held, errors, state = [], {}, {"stop": False, "streak": 0}
    sem = asyncio.Semaphore(args.parallel)
    t0 = time.monotonic()
    await asyncio.gather(*(open_one(args, ctx, sem, held, errors, state) for _ in range(args.n)))
    print(f"ready {len(held)} failed {args.n - len(held)} seconds {time.monotonic() - t0:.1f}",
          flush=True)
    for e, k in errors.items():
        print(f"error x{k}: {e}", file=sys.stderr, flush=True)

    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    want_check = []
    loop.add_signal_handler(signal.SIGUSR1, lambda: (want_check.append(1), done.set()))
    loop.add_signal_handler(signal.SIGTERM, done.set)
    await done.wait()
    if want_check:
        asked, answered = await check(held, args.sni, args.sample)
        print(f"check {answered}/{asked}", flush=True)
    for _, w in held:
        w.transport.abort()


asyncio.run(main())
