"""P2P transfers over a lossy WAN (issue 13): the relay and the sender in one network
namespace, the receiver in another, joined by tools/netlab's delay line with 20 ms round trip
and 1 % or 5 % random loss. Each case reports direct or relayed; the file's SHA-256 must match.
CI sizes are small (NFLTR_P2P_LOSSY_MIB, default 2); full sizes by hand. Needs root."""
import json
import os
import sys
import time

import pytest

from nfltrlab import Agent, free_port, nfltr_bin, relay_bin, normalize_fingerprint
from test_p2p_transfer import make_file, sha256_of

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tools", "netlab"))
import netlab  # noqa: E402

DOMAIN = "p2plab.test"
MIB = 1024 * 1024

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


class NsAgent(Agent):
    """An agent whose commands (and so the service they start) run inside a namespace."""

    def __init__(self, lab, name, link, side, direct):
        super().__init__(lab, name)
        self.link, self.side = link, side
        self.extra = {"NFLTR_P2P_LOCAL_ADDRESS": link.addr(side), "G_MESSAGES_DEBUG": "nfltr-p2p"}
        if not direct:
            self.extra["NFLTR_P2P_NO_DIRECT"] = "1"

    def env(self):
        return {**super().env(), **self.extra}

    def argv(self, *args):
        return self.link.argv(self.side, [nfltr_bin(), *args])

    def run(self, *args, timeout=60, env=None, input=None):
        import subprocess
        return subprocess.run(self.argv(*args), env={**self.env(), **(env or {})}, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("loss", [0.01, 0.05])
@pytest.mark.parametrize("path", ["direct", "relayed"])
def test_lossy_transfer_matches(lab, loss, path):
    size = int(os.environ.get("NFLTR_P2P_LOSSY_MIB", "2")) * MIB
    with netlab.Link(rtt_ms=20, loss=loss, seed=7) as link:
        for side in ("a", "b"):
            link.hosts(side, {DOMAIN: link.addr_a})
        port = free_port()
        data = lab.mkdir("relay-data")
        relay = lab.spawn("relay", link.argv("a", [relay_bin(), "serve", "--listen", f"{link.addr_a}:{port}",
                                                    "--domain", DOMAIN, "--data-dir", data]))
        fp = normalize_fingerprint(relay.wait_line(r"listening.*(sha256:[0-9a-f]{64})", 20).group(1))
        import subprocess
        key = subprocess.run([relay_bin(), "keys", "create", "--data-dir", data], capture_output=True,
                             text=True, env=lab.env()).stdout.split()[-1]
        direct = path == "direct"
        a = NsAgent(lab, "alice", link, "a", direct)
        b = NsAgent(lab, "bob", link, "b", direct)
        for agent in (a, b):
            r = agent.run("login", "--relay", f"{DOMAIN}:{port}", "--fingerprint", fp,
                          env={"NFLTR_API_KEY": key}, timeout=120)
            assert r.returncode == 0, r.stderr
        src = lab.mkdir("src")
        want = make_file(os.path.join(src, "f.bin"), size)
        dest = lab.mkdir("dest")
        send = lab.spawn("alice:send", a.argv("p2p", "send", os.path.join(src, "f.bin"), "--json"), env=a.env(),
                         split_stderr=True)
        code = json.loads(send.wait_line(r'^\{"event":"code"', 60).string)["code"]
        t0 = time.monotonic()
        recv = lab.spawn("bob:receive", b.argv("p2p", "receive", code, "--dir", dest, "--yes", "--json"),
                         env=b.env(), split_stderr=True)
        assert recv.wait_exit(600) == 0, recv.text()
        dt = time.monotonic() - t0
        done = [json.loads(line) for line in recv.lines if '"event":"done"' in line]
        assert done and done[0]["sha256"] == want and done[0]["path"] == path, recv.text()
        assert sha256_of(os.path.join(dest, "f.bin")) == want
        assert send.wait_exit(60) == 0, send.text()
        print(f"\n{path}, 20 ms, {loss:.0%} loss: {size / MIB:.0f} MiB in {dt:.1f} s = "
              f"{size / dt / 1e6:.2f} MB/s (pairing included)")
        # The services were started inside the namespaces: end them before the link goes.
        for agent in (a, b):
            agent.run("p2p", "audit")
        relay.stop()
