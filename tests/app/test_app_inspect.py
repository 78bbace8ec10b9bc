"""Issue 9 §8: the app's Inspect page against the real relay, service and CLI.

A request made through the relay to an `nfltr http` tunnel shows on the tunnel row's Inspect
page, live, with its headers and the response; Replay sends it again straight to the local
server (which counts it) and the replay is listed as such; a tcp tunnel has no Inspect
button. The page says the relay saw only ciphertext."""
import applab
from nfltrlab import curl_tunnel


def test_inspect_page_shows_requests_and_replays(world):
    tunnel = world.agent.http(world.origin.port, "--name", "inspected")
    world.agent.tcp(world.origin.port, "--name", "plain-tcp")
    assert curl_tunnel(tunnel, "/before?x=1", "--http1.1").status == 200

    app = applab.App(world.lab, world.agent, world.xvfb)
    app.wait(lambda w: len(w.get("rows", [])) == 2, 20, "the two tunnels as rows")
    app.row_action("inspected", "row.inspect")
    app.wait(lambda w: any("/before?x=1 → 200" in r for r in (app.row("inspected").get("inspect") or {}).get("rows", [])),
             20, "the request made through the relay on the Inspect page")
    page = app.row("inspected")["inspect"]
    assert page["title"] == "Inspect — inspected", page

    # Live: a new request appears without reopening, newest first.
    assert curl_tunnel(tunnel, "/live", "--http2").status == 200
    app.wait(lambda w: app.row("inspected")["inspect"]["rows"][0].startswith("GET /live → 200"), 20,
             "the live request at the top")
    # The first one opened by itself: its request and response.
    detail = app.row("inspected")["inspect"]["detail"]
    assert "GET /before?x=1 HTTP/1.1" in detail and "user-agent: curl/" in detail.lower(), detail
    assert "HTTP/1.1 200" in detail and "content-type: application/json" in detail.lower(), detail

    # Replay (Ctrl+R): the origin sees it again, and the page lists it as a replay.
    before = len(world.origin.requests)
    app.settle(0.3)
    world.xvfb.key("Inspect — inspected", "ctrl+r")
    app.wait(lambda w: app.row("inspected")["inspect"]["status"].startswith("Replayed as #"), 20,
             "the replay's result")
    assert len(world.origin.requests) == before + 1, world.origin.requests
    assert world.origin.requests[-1]["path"] == "/before?x=1"
    app.wait(lambda w: "replay of #" in app.row("inspected")["inspect"]["rows"][0], 20, "the replay listed")
    app.settle(0.5)
    world.xvfb.screenshot("inspect-page", title="Inspect — inspected")
