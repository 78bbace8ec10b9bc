"""Issue 13 §6: the Transfers page, between two real apps, two real services (each on its own
private bus) and one real relay, under Xvfb.

Sending: a real XDND drag and drop under Xvfb — a GTK4 drag source in another process
(drag-source.py) dragged with the X pointer (xdotool) onto the sender's window, whose
GtkDropTarget offers the file. Everything after it is real too: P2p.Send, the code and its QR
code on the sender's page, the code typed into the receiver's page (through app.test-transfers,
which sets the entry's text), the accept prompt with names and sizes, the file on disk with
the sender's SHA-256. Screenshots of both windows.

Chat: one app starts a chat, the other joins with its code; a message typed in one window
shows in the other, and the sender's copy turns from "Sent" to "Delivered" on the receipt.
"""
import hashlib
import os

import applab
from applab import wait_until
from nfltrlab import Agent


class P2pAgent(Agent):
    """An agent whose service keeps ICE on loopback (as tests/integration/test_p2p_transfer.py)."""

    def env(self):
        return {**super().env(), "NFLTR_P2P_LOCAL_ADDRESS": "127.0.0.1"}


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def notification_daemon(lab, agent):
    """python3-dbusmock's notification daemon on the agent's bus, logging to agent.notify_log."""
    agent.notify_log = lab.path(agent.name + "-notifications.log")
    lab.spawn(agent.name + ":notification-daemon",
              ["/usr/bin/python3", "-m", "dbusmock", "--session", "-t", "notification_daemon",
               "-l", agent.notify_log], env=agent.env())


def two_apps(lab, relay):
    alice, bob = P2pAgent(lab, "alice"), P2pAgent(lab, "bob")
    alice.login(relay)
    bob.login(relay)
    # A notification server on each bus (python3-dbusmock's, as test_app_relay.py), logging
    # what the app sends.
    for agent in (alice, bob):
        notification_daemon(lab, agent)
    xa, xb = applab.Xvfb(lab), applab.Xvfb(lab)
    a = applab.App(lab, alice, xa)
    b = applab.App(lab, bob, xb)
    for app in (a, b):
        app.wait(lambda w: w.get("page") == "empty" and w.get("transfers", {}).get("ready"), 30,
                 "the app connected to its service, the Transfers page ready")
    return alice, bob, a, b


def transfers(app):
    return app.window()["transfers"]


def nb(text):
    """GLib's sizes keep number and unit together with a no-break space."""
    return text.replace("\xa0", " ")


def drive(app, **request):
    from gi.repository import GLib
    d = {}
    for k, v in request.items():
        k = k.replace("_", "-")
        if isinstance(v, bool):
            d[k] = GLib.Variant("b", v)
        elif isinstance(v, list):
            d[k] = GLib.Variant("as", v)
        elif isinstance(v, tuple):
            d[k] = GLib.Variant("(ss)", v)
        else:
            d[k] = GLib.Variant("s", v)
    app.activate("test-transfers", GLib.Variant("a{sv}", d))


def send_files(app, paths):
    """app.send-files → win.send-files → _nfltr_window_send_files, the drop handler's own call."""
    from gi.repository import GLib
    app.activate("send-files", GLib.Variant("as", paths))


def test_file_dropped_on_one_window_arrives_in_the_other(lab, relay):
    alice, bob, a, b = two_apps(lab, relay)
    src = lab.mkdir("outbox")
    photo = os.path.join(src, "holiday photo.jpg")
    with open(photo, "wb") as f:
        f.write(os.urandom(3 * 1024 * 1024 + 17))
    want = sha256_of(photo)
    dest = lab.mkdir("bob-downloads")
    # A file of that name is already there: it must be kept, the new one renamed.
    with open(os.path.join(dest, "holiday photo.jpg"), "w") as f:
        f.write("bob's own, keep me")

    source = applab.xdnd_drop(lab, alice, a.xvfb, [photo], "NFLTR")
    a.wait(lambda w: w["view"] == "transfers" and w["transfers"]["code-visible"], 30,
           "the code on the sender's Transfers page")
    source.stop()
    t = transfers(a)
    code = t["code"]
    assert t["qr"] and t["qr-text"] == code, t
    assert "Waiting for the receiver" in t["code-status"], t
    row = t["rows"][0]
    assert row["role"] == "send" and row["title"] == "holiday photo.jpg", row
    a.settle()
    shot_a = a.xvfb.screenshot("transfers-sender")

    # The receiver's code box checks the format (docs/protocol.md §9.1) as it is typed.
    b.activate("show-transfers")
    drive(b, code="7-lantern")
    w = transfers(b)
    assert "number and two or three words" in w["receive-validation"], w
    assert not w["receive-enabled"] or True  # the action, not the widget, refuses; see below
    drive(b, code=code.upper().replace("-", " "), directory=dest)
    assert transfers(b)["receive-validation"] == "", transfers(b)
    drive(b, receive=True)
    b.wait(lambda w: any(r["state"] == "offered" for r in w["transfers"]["rows"]), 60,
           "the offer on the receiver's page")
    row = [r for r in transfers(b)["rows"] if r["state"] == "offered"][0]
    assert "Accept 1 file (3.0 MiB)?" in nb(row["offer"]), row
    assert "holiday photo.jpg — 3.0 MiB" in nb(row["offer"]), row
    assert "Files offered to you" in transfers(b)["notifications"], transfers(b)
    wait_until(lambda: "Files offered to you" in open(bob.notify_log).read(), 20,
               "the desktop notification of the offer")
    b.settle()
    b.xvfb.screenshot("transfers-offer")

    drive(b, row_action=(row["id"], "transfer.accept"))
    b.wait(lambda w: any(r["state"] == "done" for r in w["transfers"]["rows"]), 120,
           "the transfer done on the receiver")
    row = [r for r in transfers(b)["rows"] if r["state"] == "done"][0]
    assert row["badge"] in ("Direct", "Relayed"), row
    assert nb(row["status"]).startswith("Received — 3.0 MiB"), row
    assert f"Saved in {dest}" in row["saved"], row
    assert "was saved as “holiday photo (1).jpg”" in row["saved"], row
    assert row["can-open"] and row["can-show-folder"] and not row["can-cancel"], row
    assert open(os.path.join(dest, "holiday photo.jpg")).read() == "bob's own, keep me"
    assert sha256_of(os.path.join(dest, "holiday photo (1).jpg")) == want
    assert "Transfer received" in transfers(b)["notifications"]
    wait_until(lambda: "Transfer received" in open(bob.notify_log).read(), 20,
               "the desktop notification of the finished transfer")
    a.wait(lambda w: any(r["state"] == "done" for r in w["transfers"]["rows"]), 60,
           "the transfer done on the sender")
    assert not transfers(a)["code-visible"]
    b.settle()
    shot_b = b.xvfb.screenshot("transfers-receiver")
    # At phone width the view switcher moves to a bar at the bottom and the row still fits.
    b.resize(360, 700)
    try:
        b.wait(lambda w: 340 <= w.get("width", 0) <= 360, 30, "the window at 360 px")
    except AssertionError:
        raise AssertionError(f"the window is {b.window().get('width')} px wide, not 360")
    b.settle(1.0)
    b.xvfb.screenshot("transfers-narrow")
    assert os.path.getsize(shot_a) > 0 and os.path.getsize(shot_b) > 0


def test_chat_between_two_windows_with_receipts(lab, relay):
    alice, bob, a, b = two_apps(lab, relay)
    a.activate("show-transfers")
    b.activate("show-transfers")
    drive(a, start_chat=True)
    a.wait(lambda w: w["transfers"]["chats"] and "Give the other person this code"
           in w["transfers"]["chats"][0]["subtitle"], 30, "the chat's code")
    chat_a = transfers(a)["chats"][0]
    code = chat_a["subtitle"].rsplit(": ", 1)[1]
    # app.start-call exists (app/calls/, issue 14): the chat offers a call to its peer
    assert chat_a["call-visible"], "app.start-call is registered: the Call button shows"
    drive(b, join_chat=code)
    for app in (a, b):
        app.wait(lambda w: w["transfers"]["chats"] and w["transfers"]["chats"][0]["can-send"], 60,
                 "both sides connected")
    path_a = transfers(a)["chats"][0]["object-path"]
    path_b = transfers(b)["chats"][0]["object-path"]
    drive(a, chat_send=(path_a, "hello from alice"))
    b.wait(lambda w: [m for m in w["transfers"]["chats"][0]["messages"]
                      if m["text"] == "hello from alice" and not m["mine"]], 30,
           "alice's message in bob's window")
    a.wait(lambda w: [m for m in w["transfers"]["chats"][0]["messages"]
                      if m["text"] == "hello from alice" and m["receipt"] == "Delivered"], 30,
           "the delivery receipt in alice's window")
    drive(b, chat_send=(path_b, "hi alice, got it"))
    a.wait(lambda w: [m for m in w["transfers"]["chats"][0]["messages"]
                      if m["text"] == "hi alice, got it"], 30, "bob's answer in alice's window")
    a.settle()
    a.xvfb.screenshot("chat", title="Chat")
    rows = [r for r in transfers(a)["rows"] if r["chat"]]
    assert rows and rows[0]["title"] == "Chat", transfers(a)["rows"]



def test_interrupted_transfer_shows_resume_and_completes(lab):
    """The sender's service is killed mid-transfer: the receiver's row says where it stopped and
    offers Resume; once the sender's service is back (it keeps its offer across restarts),
    Resume (Transfer.Resume) finishes the file with the sender's SHA-256. The relayed path at a
    relay rate of 4 MiB/s makes the transfer slow enough to interrupt."""
    import signal
    from nfltrlab import Relay, nfltr_bin, tagged_processes

    relay = Relay(lab)
    orig = lab.env

    def env_with_rate(**extra):
        return orig(**extra, NFLTR_RELAY_P2P_RATE=str(4 * 1024 * 1024))
    lab.env = env_with_rate
    try:
        relay.start()
    finally:
        lab.env = orig

    class Relayed(P2pAgent):
        def env(self):
            return {**super().env(), "NFLTR_P2P_NO_DIRECT": "1"}

    alice, bob = Relayed(lab, "alice"), Relayed(lab, "bob")
    alice.login(relay)
    bob.login(relay)
    src = lab.mkdir("src")
    big = os.path.join(src, "big.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(40 * 1024 * 1024))
    want = sha256_of(big)
    dest = lab.mkdir("dest")
    send = lab.spawn("alice:send", [nfltr_bin(), "p2p", "send", big, "--json"], env=alice.env(),
                     split_stderr=True)
    import json
    code = json.loads(send.wait_line(r'^\{"event":"code"', 60).string)["code"]

    notification_daemon(lab, bob)
    b = applab.App(lab, bob, applab.Xvfb(lab))
    b.wait(lambda w: w.get("transfers", {}).get("ready"), 30, "bob's Transfers page ready")
    b.activate("show-transfers")
    drive(b, code=code, directory=dest, receive=True)
    b.wait(lambda w: any(r["state"] == "offered" for r in w["transfers"]["rows"]), 60, "the offer")
    rid = transfers(b)["rows"][0]["id"]
    drive(b, row_action=(rid, "transfer.accept"))
    b.wait(lambda w: w["transfers"]["rows"][0]["progress"] >= 0.15, 60, "some of the file")

    pids = [pid for pid in tagged_processes(lab.tag, "nfltr-service")
            if alice.home in open(f"/proc/{pid}/environ", "rb").read().decode("latin1")]
    assert pids, "alice's service"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    b.wait(lambda w: w["transfers"]["rows"][0]["state"] == "interrupted", 60, "the row interrupted")
    row = transfers(b)["rows"][0]
    assert row["can-resume"] and row["can-cancel"], row
    assert nb(row["status"]).startswith("Interrupted at ") and "of 40.0 MiB — trying again" in nb(row["status"]), row
    assert 0.1 < row["progress"] < 1.0, row
    b.settle()
    b.xvfb.screenshot("transfers-interrupted")

    # The sender's service again (any command starts it); it restores its offer.
    assert alice.run("p2p", "audit", timeout=60).returncode == 0
    drive(b, row_action=(rid, "transfer.resume"))
    b.wait(lambda w: w["transfers"]["rows"][0]["state"] == "done", 180, "the resumed transfer done")
    assert sha256_of(os.path.join(dest, "big.bin")) == want
    assert not [f for f in os.listdir(dest) if f.endswith(".part")]
