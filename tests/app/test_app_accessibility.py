"""Issue 9 §7: every button of the running app has an accessible name. The app runs with
GTK's AT-SPI backend on the test's own accessibility bus (at-spi-bus-launcher on the agent's
private session bus); a separate process walks the tree through libatspi, as Orca would, on
each page a user meets: first run, the empty list, a tunnel's row expanded, and the New
Tunnel and relay dialogs."""
import json
import os
import re
import subprocess

import applab

HERE = os.path.dirname(os.path.abspath(__file__))
CONTROLS = {"push button", "toggle button", "check box", "radio button", "switch", "menu item",
            "combo box", "text", "password text", "entry", "spin button", "link"}


def start_a11y_bus(lab, agent):
    env = agent.env()
    lab.spawn("at-spi-bus-launcher", ["/usr/libexec/at-spi-bus-launcher", "--launch-immediately"],
              env=env)
    applab.wait_until(lambda: subprocess.run(
        ["gdbus", "call", "--session", "--dest", "org.a11y.Bus", "--object-path", "/org/a11y/bus",
         "--method", "org.a11y.Bus.GetAddress"], env=env, capture_output=True,
        timeout=10).returncode == 0, 20, "the accessibility bus")


def walk(agent):
    r = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "a11y-walk.py"), "nfltr-app"],
                       env=agent.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def badly_named(name):
    """Empty; GTK's fallback (the widget's type name, \"GtkImage\"); a mnemonic's underscore
    read aloud (\"_Try Again Try Again\")."""
    name = name.strip()
    return (not name or re.fullmatch(r"Gtk[A-Z]\w+|Adw[A-Z]\w+", name) is not None
            or re.search(r"(^|\s)_\w", name) is not None)


def unnamed_controls(tree):
    return [n["path"] for n in tree["nodes"]
            if n["showing"] and n["role"] in CONTROLS and badly_named(n["name"])]


def check_page(agent, what):
    tree = applab.wait_until(lambda: (lambda t: t if t["nodes"] else None)(walk(agent)), 20,
                             f"the app's accessibility tree ({what})")
    controls = [n for n in tree["nodes"] if n["showing"] and n["role"] in CONTROLS]
    assert controls, (what, sorted({(n["role"], n["showing"]) for n in tree["nodes"]}))
    assert unnamed_controls(tree) == [], (what, unnamed_controls(tree))
    return tree


def test_every_control_has_an_accessible_name(world):
    start_a11y_bus(world.lab, world.agent)
    world.agent.http(world.origin.port, "--name", "a11y-demo")
    app = applab.App(world.lab, world.agent, world.xvfb,
                     extra_env={"GTK_A11Y": "atspi", "NO_AT_BRIDGE": "0"})
    app.wait(lambda w: len(w.get("rows", [])) == 1, 20, "the tunnel's row")
    app.settle()
    tree = check_page(world.agent, "the tunnel list")
    names = {n["name"] for n in tree["nodes"] if n["showing"]}
    assert "New Tunnel" in names or any("New" in n for n in names), sorted(names)

    app.expand("a11y-demo")
    app.settle()
    check_page(world.agent, "an expanded row")

    app.open_new_tunnel()
    app.settle()
    check_page(world.agent, "the New Tunnel dialog")
    world.xvfb.key("New Tunnel", "Escape")
    app.wait(lambda w: "new-tunnel-dialog" not in w, 10, "the dialog closed")

    app.activate("relay-settings")
    app.wait(lambda w: "relay-dialog" in w, 10, "the relay dialog")
    app.settle()
    check_page(world.agent, "the relay dialog")


def test_transfers_share_and_chat_have_accessible_names(world):
    """p2papp (issue 13 §6, issue 10): the Transfers page with a code waiting, a chat window
    and Share a File or Text… — every control named."""
    from gi.repository import GLib
    start_a11y_bus(world.lab, world.agent)
    app = applab.App(world.lab, world.agent, world.xvfb,
                     extra_env={"GTK_A11Y": "atspi", "NO_AT_BRIDGE": "0"})
    app.wait(lambda w: w.get("page") == "empty" and w.get("transfers", {}).get("ready"), 20,
             "the app ready")
    src = world.lab.path("a11y.txt")
    with open(src, "w") as f:
        f.write("hello")
    app.activate("send-files", GLib.Variant("as", [src]))
    app.wait(lambda w: w["view"] == "transfers" and w["transfers"]["code-visible"], 30,
             "the code on the Transfers page")
    app.settle()
    tree = check_page(world.agent, "the Transfers page")
    names = {n["name"] for n in tree["nodes"] if n["showing"]}
    assert "Copy Code" in names and "Choose Files…" in names, sorted(names)

    app.activate("test-transfers", GLib.Variant("a{sv}", {"start-chat": GLib.Variant("b", True)}))
    app.wait(lambda w: w["transfers"]["chats"], 30, "the chat window")
    app.settle()
    check_page(world.agent, "the chat window")
    world.xvfb.key("Chat", "Escape")

    app.activate("test-share", GLib.Variant("a{sv}", {}))
    app.wait(lambda w: "share-dialog" in w, 10, "the share dialog")
    app.settle()
    tree = check_page(world.agent, "Share a File or Text")
    names = {n["name"] for n in tree["nodes"] if n["showing"]}
    assert "Downloads allowed" in names and "Text to share" in names, sorted(names)
