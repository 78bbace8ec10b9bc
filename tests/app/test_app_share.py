"""Issue 10's app side: Share a File or Text… makes a "share" tunnel whose secret link the row
shows and copies; curl through the real relay gets the bytes, and after the allowed number of
downloads the "gone" page. Plus the fix for "the app copies a terminal's secret link only
once": the row's copy button gives the whole link for as long as the tunnel lives.

The file is dropped on the dialog for real (XDND: applab.xdnd_drop drags it from a GTK4 drag
source in another process with the X pointer). The text is pasted for real: xclip owns the X
CLIPBOARD and the dialog's Paste action reads it through GDK. The other fields are set through
app.test-share (nfltr_share_dialog_fill).
"""
import hashlib
import os
import subprocess

from gi.repository import GLib

import applab
from applab import wait_until
from nfltrlab import curl


def share(app, **fields):
    d = {}
    for k, v in fields.items():
        k = k.replace("_", "-")
        if isinstance(v, bool):
            d[k] = GLib.Variant("b", v)
        elif isinstance(v, int):
            d[k] = GLib.Variant("u", v)
        else:
            d[k] = GLib.Variant("s", v)
    app.activate("test-share", GLib.Variant("a{sv}", d))


def fetch(world, link, *args):
    host = link.split("//", 1)[1].split(":", 1)[0].split("/", 1)[0]
    return curl(link, "-k", *args, resolve=(host, world.relay.port))


def new_row(app, known):
    """The one row whose id is not in known, once it is online with its link (rows of tunnels
    made after the app started are sorted by object path, not by age)."""
    def find(w):
        rows = [r for r in w.get("rows", []) if r["id"] not in known]
        return rows[0] if rows and rows[0]["switch-state"] and rows[0]["link"] else None
    app.wait(find, 30, "the new share online with its link")
    return find(app.window())


def test_share_a_dropped_file_and_pasted_text(world):
    app = applab.App(world.lab, world.agent, world.xvfb)
    app.wait(lambda w: w.get("page") == "empty", 20, "the empty page (logged in, no tunnels)")
    path = world.lab.path("report.pdf")
    data = os.urandom(200 * 1024 + 3)
    with open(path, "wb") as f:
        f.write(data)

    # Opened empty, then the file dropped on it for real (XDND from another process).
    share(app, expires="15m", max_downloads=1)
    app.wait(lambda w: "share-dialog" in w, 10, "the share dialog")
    wait_until(lambda: [w for w in world.xvfb.windows() if w[1] == "Share a File or Text"], 10,
               "the share dialog's window")
    source = applab.xdnd_drop(world.lab, world.agent, world.xvfb, [path], "Share a File or Text")
    app.wait(lambda w: w["share-dialog"]["file"] == path, 20, "the dropped file in the dialog")
    source.stop()
    d = app.window()["share-dialog"]
    assert d["valid"] and d["file"] == path and d["expires"] == "15m" and d["max-downloads"] == 1, d
    app.settle()
    world.xvfb.screenshot("share-dialog")
    share(app, share=True)
    row = new_row(app, ())
    first_id = row["id"]
    link = row["link"].split(": ", 1)[1]
    assert link.startswith(row["url"].rstrip("/") + "/") and len(link) > len(row["url"]) + 20, row
    # Created: the link is on the clipboard; the row's copy button gives it again, and again.
    wait_until(lambda: app.clipboard() == link, 10, "the link on the clipboard")
    subprocess.run(["xclip", "-selection", "clipboard", "-i", "/dev/null"], timeout=10,
                   env={**os.environ, "DISPLAY": world.xvfb.display})
    for _ in range(2):
        app.row_action(row["id"], "row.copy-url")
        wait_until(lambda: app.clipboard() == link, 10, "the link copied from the row")
    app.settle()
    world.xvfb.screenshot("share-row")

    assert fetch(world, row["url"]).status == 404, "the bare URL gives nothing away"
    r = fetch(world, link)
    assert r.status == 200 and hashlib.sha256(r.body).digest() == hashlib.sha256(data).digest(), r
    gone = fetch(world, link)
    assert gone.status == 410 and b"downloaded as many times" in gone.body, gone

    # Pasted text: xclip owns the clipboard (in the foreground, so the lab stops it).
    clip = world.lab.spawn("xclip", ["xclip", "-quiet", "-selection", "clipboard", "-i"],
                           env={**os.environ, "DISPLAY": world.xvfb.display},
                           stdin=subprocess.PIPE)
    clip.p.stdin.write("the wifi password is hunter2\n".encode())
    clip.p.stdin.close()
    wait_until(lambda: app.clipboard() == "the wifi password is hunter2\n", 10, "xclip's text")
    share(app, paste=True)
    app.wait(lambda w: w["share-dialog"]["text"] == "the wifi password is hunter2\n", 10,
             "the pasted text in the dialog")
    share(app, max_downloads=2)
    d = app.window()["share-dialog"]
    assert d["max-downloads"] == 2 and d["file"] == "" and d["valid"], d
    share(app, share=True)
    row = new_row(app, (first_id,))
    link = row["link"].split(": ", 1)[1]
    for i in range(2):
        r = fetch(world, link)
        assert r.status == 200 and r.body == b"the wifi password is hunter2\n", (i, r, link)
    assert fetch(world, link).status == 410


def test_terminal_secret_link_stays_copyable(world):
    """The bug: the New Tunnel dialog copied a terminal's link once; after that the row's
    copy button gave the bare URL, which the page refuses (401)."""
    app = applab.App(world.lab, world.agent, world.xvfb)
    app.wait(lambda w: w.get("page") == "empty", 20, "the empty page")
    app.open_new_tunnel()
    app.fill_new_tunnel(kind="terminal", target="", name="app-term")
    app.activate("test-create")
    app.wait(lambda w: "new-tunnel-dialog" not in w and len(w.get("rows", [])) == 1
             and w["rows"][0]["switch-state"], 30, "the terminal tunnel online")
    first = app.clipboard()
    url = app.rows()[0]["url"]
    assert first and first.startswith(url.rstrip("/") + "/?token="), (first, url)
    subprocess.run(["xclip", "-selection", "clipboard", "-i", "/dev/null"], timeout=10,
                   env={**os.environ, "DISPLAY": world.xvfb.display})
    for _ in range(2):
        app.row_action("app-term", "row.copy-url")
        wait_until(lambda: app.clipboard() not in (None, ""), 10, "something copied")
        assert app.clipboard() == first, (app.clipboard(), first)
    assert app.row("app-term")["link"] == "Link with its secret: " + first
    token = first.split("?token=", 1)[1]
    assert fetch(world, url.rstrip("/") + "/").status == 401
    assert fetch(world, url.rstrip("/") + "/?token=" + token).status in (200, 302, 303), token
