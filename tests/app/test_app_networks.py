"""Issue 12: the app's Networks page against the real relay and two real agents — one
`nfltr wg serve`, one `nfltr wg socks5` — after traffic went through the network: the serve
side's window lists the network (role, state, address) and its peer with its address, latest
handshake and bytes, as `nfltr wg status` does.
"""
import json
import os
import socket
import subprocess

import applab
from nfltrlab import Agent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_networks_page_lists_network_and_peers(lab, relay, origin, xvfb):
    key = relay.create_key()
    serve, peer = Agent(lab, "serve"), Agent(lab, "peer")
    serve.login(relay, api_key=key)
    peer.login(relay, api_key=key)
    r = serve.run("wg", "serve", "--name", "office", "--allow", "127.0.0.0/8", "--json", timeout=60)
    assert r.returncode == 0, r.stderr
    serve_addr = json.loads(r.stdout.splitlines()[-1])["address"]
    port = free_port()
    r = peer.run("wg", "socks5", "office", "--listen", f"127.0.0.1:{port}", "--json", timeout=60)
    assert r.returncode == 0, r.stderr
    peer_addr = json.loads(r.stdout.splitlines()[-1])["address"].split("/")[0]
    c = subprocess.run(["curl", "-sS", "--fail", "--max-time", "60", "-o", os.devnull,
                        "--socks5-hostname", f"127.0.0.1:{port}", f"http://127.0.0.1:{origin.port}/"],
                       capture_output=True, text=True, timeout=90)
    assert c.returncode == 0, c.stderr

    app = applab.App(lab, serve, xvfb)
    app.wait(lambda w: w.get("page") in ("empty", "tunnels"), 30, "the main window")
    app.activate("networks")

    def shown(w):
        nets = w.get("networks-window", {}).get("networks", [])
        return (len(nets) == 1 and "Online" in nets[0]["subtitle"] and nets[0]["peers"]
                and "received" in nets[0]["peers"][0][1] and "no handshake" not in nets[0]["peers"][0][1])

    app.wait(shown, 20, "the network and its peer with a handshake on the Networks page")
    page = app.window()["networks-window"]
    assert page["page"] == "networks"
    net = page["networks"][0]
    assert net["title"] == "office"
    assert net["subtitle"] == f"Serve side · Online · {serve_addr}", net
    title, subtitle = net["peers"][0]
    assert title == f"{peer_addr} — peer", net
    assert subtitle.startswith("handshake ") and f"via 127.0.0.1:{relay.port}" in subtitle, subtitle
    app.settle()
    xvfb.screenshot("networks", title="Networks")
