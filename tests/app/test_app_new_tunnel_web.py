"""Issue 10: the New Tunnel dialog makes a log viewer (tail), a kind whose target is a file and
whose page sits behind a secret. A relative path is refused as typed; the created tunnel's whole
link (with its secret) is on the clipboard, opens the page, and the bare URL is refused."""
import applab
from nfltrlab import curl


def test_dialog_makes_a_tail_tunnel_and_copies_its_secret_link(world):
    log = world.lab.path("from-the-app.log")
    with open(log, "w") as f:
        f.write("a line the page shows\n")
    app = applab.App(world.lab, world.agent, world.xvfb)
    app.wait(lambda w: w.get("page") == "empty", 20, "the empty page (logged in, no tunnels)")

    app.open_new_tunnel()
    app.fill_new_tunnel(kind="tail", target="relative.log", name="app-tail")
    d = app.window()["new-tunnel-dialog"]
    assert not d["valid"] and "full path" in d["validation"], d
    app.fill_new_tunnel(kind="tail", target=log, name="app-tail")
    d = app.window()["new-tunnel-dialog"]
    assert d["valid"] and d["validation"] == "", d

    app.activate("test-create")
    app.wait(lambda w: "new-tunnel-dialog" not in w and len(w.get("rows", [])) == 1, 30,
             "the dialog to close and the new tunnel's row")
    app.wait(lambda w: w["rows"][0]["switch-state"] and w["rows"][0]["url"].startswith("https://"),
             20, "the new tunnel online")
    url = app.rows()[0]["url"]
    link = app.clipboard()
    assert link is not None and link.startswith(url.rstrip("/") + "/?token="), (link, url)

    host = url.split("//", 1)[1].split(":", 1)[0]
    r = curl(url.rstrip("/") + "/lines.txt", "-k", resolve=(host, world.relay.port))
    assert r.status == 401, r
    token = link.split("?token=", 1)[1]
    r = curl(url.rstrip("/") + "/lines.txt?token=" + token, "-k", resolve=(host, world.relay.port))
    assert r.status == 200 and b"a line the page shows" in r.body, r
