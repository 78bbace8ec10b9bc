"""Issue 18: the New Tunnel dialog's file chooser and a row's "Open in Browser", under Xvfb.

- File chooser: outside a sandbox GTK 4.8's GtkFileChooserNative shows GTK's own
  GtkFileChooserDialog in the app's process (a portal only inside Flatpak/Snap or with
  GDK_DEBUG=portals; this machine has no xdg-desktop-portal either). The test clicks the dialog's
  real "Choose…" buttons (XTEST), checks the window that opens is the app's own, types the path
  into the chooser's location entry (Ctrl+L) and presses Return, as a person would. The chosen
  certificate and key reach the dialog (shown under each row, Create enabled) and the created
  tunnel (visitors get exactly that certificate; the row shows its fingerprint).
- Open in Browser: the row's real button is clicked (XTEST); gtk_show_uri() launches, through GIO, the default handler of the URL's scheme.
  A test desktop file whose Exec is a recorder script, made the default for http/https by a
  mimeapps.list in the app's $XDG_CONFIG_HOME, stands in for the browser; it must receive exactly
  the tunnel's public URL.
"""
import os
import subprocess
import time

import gi

gi.require_version("GdkPixbuf", "2.0")
from gi.repository import GdkPixbuf  # noqa: E402

import applab  # noqa: E402
from nfltrlab import curl, der_fingerprint, pem_to_der, served_cert_pem, wait_until  # noqa: E402


def xdo(xvfb, *args):
    return subprocess.run(["xdotool", *args], check=True, timeout=10, capture_output=True,
                          text=True, env={**os.environ, "DISPLAY": xvfb.display}).stdout


def window(xvfb, title, timeout=10):
    return wait_until(lambda: next((w for w in xvfb.windows() if w[1] == title), None), timeout,
                      f"a window titled {title!r}")


def window_pid(xvfb, wid):
    out = subprocess.run(["xprop", "-display", xvfb.display, "-id", wid, "_NET_WM_PID"],
                         capture_output=True, text=True, timeout=10).stdout
    return int(out.split("=")[1]) if "=" in out else None


def choose_buttons(png):
    """Centres (x, y) of the dialog's "Choose…" buttons, top to bottom, found in a picture of
    it: in a column near the right edge, the runs of button grey (with the label inside) between the white of their rows, 25-45 px tall. The column is the first from
    the right that crosses exactly two such buttons (the certificate's and the key's)."""
    pb = GdkPixbuf.Pixbuf.new_from_file(png)
    w, h, rs, n = pb.get_width(), pb.get_height(), pb.get_rowstride(), pb.get_n_channels()
    px = pb.get_pixels()

    def rgb(x, y):
        o = y * rs + x * n
        return tuple(px[o:o + 3])

    def grey(c):   # a button's face: #ebebeb, darker when hovered or pressed
        return c[0] == c[1] == c[2] and 200 <= c[0] <= 245

    for x in range(w - 30, w // 2, -3):
        found, y = [], 0
        while y < h:
            if grey(rgb(x, y)) and y > 0 and rgb(x, y - 1) == (255, 255, 255):
                end = y
                while end + 1 < h and rgb(x, end + 1) != (255, 255, 255):
                    end += 1
                if 25 <= end - y + 1 <= 45 and grey(rgb(x, end)):
                    found.append((x, (y + end) // 2))
                y = end + 1
            else:
                y += 1
        if len(found) == 2:
            return found
    raise AssertionError(f"no two Choose… buttons found in {png}")


def url_buttons(png):
    """Centres (x, y) of a row's copy and open buttons, found in a picture of the main window:
    the two icons (dark 12-20 px glyphs, side by side on one line) nearest the right edge that
    are not the switch (blue and white) or the expander arrow (smaller)."""
    pb = GdkPixbuf.Pixbuf.new_from_file(png)
    w, h, rs, n = pb.get_width(), pb.get_height(), pb.get_rowstride(), pb.get_n_channels()
    px = pb.get_pixels()

    def dark(x, y):
        o = y * rs + x * n
        return max(px[o:o + 3]) < 130

    seen, glyphs = set(), []
    for y0 in range(60, h):
        for x0 in range(w - 160, w - 10):
            if (x0, y0) in seen or not dark(x0, y0):
                continue
            stack, pts = [(x0, y0)], []
            seen.add((x0, y0))
            while stack:
                x, y = stack.pop()
                pts.append((x, y))
                for dx in (-2, -1, 0, 1, 2):
                    for dy in (-2, -1, 0, 1, 2):
                        q = (x + dx, y + dy)
                        if (w - 160 <= q[0] < w - 10 and 60 <= q[1] < h and q not in seen
                                and dark(*q)):
                            seen.add(q)
                            stack.append(q)
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            bw, bh = max(xs) - min(xs) + 1, max(ys) - min(ys) + 1
            if 12 <= bw <= 20 and 12 <= bh <= 20:
                glyphs.append(((min(xs) + max(xs)) // 2, (min(ys) + max(ys)) // 2))
    for a in sorted(glyphs, key=lambda g: g[1]):
        pair = sorted(g for g in glyphs if abs(g[1] - a[1]) <= 3)
        # issue 9 §8: an http row's Inspect button follows copy and open on the same line.
        if len(pair) in (2, 3):
            return pair[:2]
    raise AssertionError(f"no copy and open buttons found in {png}: {glyphs}")


def pick_file(world, app, button, title, path):
    """Clicks `button` (centre in the New Tunnel window) and picks `path` in the chooser."""
    dlg = window(world.xvfb, "New Tunnel")
    xdo(world.xvfb, "mousemove", str(dlg[2] + button[0]), str(dlg[3] + button[1]))
    xdo(world.xvfb, "click", "1")
    chooser = window(world.xvfb, title)
    # GTK's own chooser, in the app's process (a portal's would be another process's window).
    assert window_pid(world.xvfb, chooser[0]) == app.proc.pid, (chooser, app.proc.pid)
    app.settle()
    world.xvfb.screenshot("file-chooser-" + os.path.basename(path).replace(".", "-"), title=title)
    xdo(world.xvfb, "windowfocus", "--sync", chooser[0])
    xdo(world.xvfb, "key", "--clearmodifiers", "ctrl+l")
    # The location entry appears with an animation, and GTK's chooser tells nothing outside
    # the process when it is ready (no accessibility bus here): a short pause, and the
    # assertions below check what was actually chosen.
    time.sleep(0.3)
    xdo(world.xvfb, "type", "--delay", "15", path)
    time.sleep(0.3)
    app.settle(0.3)
    world.xvfb.screenshot("file-chooser-typed-" + os.path.basename(path).replace(".", "-"),
                          title=title)
    xdo(world.xvfb, "key", "--clearmodifiers", "Return")
    wait_until(lambda: not any(w[1] == title for w in world.xvfb.windows()), 10,
               f"the chooser {title!r} to close")
    # The pointer off the dialog again, so no hover changes the next picture.
    xdo(world.xvfb, "mousemove", "1279", "799")


def test_file_chooser_picks_the_certificate_and_key_of_the_new_tunnel(world):
    host = "chosen.nfltr.localhost"
    crt, key = applab.make_cert(world.lab, "chosen", host)
    app = applab.App(world.lab, world.agent, world.xvfb)
    app.wait(lambda w: w.get("page") == "empty", 20, "the empty page")
    app.activate("new-tunnel")
    app.wait(lambda w: "new-tunnel-dialog" in w, 10, "the New Tunnel dialog")
    app.fill_new_tunnel(target=str(world.origin.port), name="chosen", certificate="own")
    assert not app.window()["new-tunnel-dialog"]["valid"], "no files chosen yet"
    app.settle()
    before = world.xvfb.screenshot("new-tunnel-own-none-chosen", title="New Tunnel")
    pick_file(world, app, choose_buttons(before)[0], "Choose the Certificate", crt)
    assert not app.window()["new-tunnel-dialog"]["valid"], "the key is still missing"
    # The chosen path now shows under the certificate's row, which grows: look again.
    app.settle()
    between = world.xvfb.screenshot("new-tunnel-own-cert-chosen", title="New Tunnel")
    pick_file(world, app, choose_buttons(between)[1], "Choose the Private Key", key)
    app.wait(lambda w: w.get("new-tunnel-dialog", {}).get("valid"), 10,
             "Create enabled once both files are chosen")
    app.settle()
    world.xvfb.screenshot("new-tunnel-own-chosen", title="New Tunnel")

    app.activate("test-create")
    app.wait(lambda w: "new-tunnel-dialog" not in w and len(w.get("rows", [])) == 1
             and w["rows"][0]["switch-state"], 30, "the tunnel online")
    # What was picked is what the service serves: visitors get that certificate.
    fp = der_fingerprint(pem_to_der(open(crt).read()))
    assert der_fingerprint(pem_to_der(served_cert_pem(host, world.relay.port))) == fp
    row = app.rows()[0]
    assert row["fingerprint"] == fp, row
    r = curl(f"https://{host}:{world.relay.port}/picked", "--cacert", crt, "--max-time", "10",
             resolve=(host, world.relay.port), timeout=20)
    assert r.curl_rc == 0 and r.status == 200, r


def install_recorder_browser(agent, lab):
    """A stand-in browser: a desktop file whose Exec records its arguments, the default for
    http and https in the agent's $XDG_CONFIG_HOME/mimeapps.list (read before the system's)."""
    record = lab.path("browser-record.txt")
    recorder = lab.path("bin", "record-browser")
    with open(recorder, "w") as f:
        f.write(f"#!/bin/sh\nprintf '%s\\n' \"$@\" >>'{record}'\n")
    os.chmod(recorder, 0o755)
    env = agent.env()
    apps = os.path.join(env["XDG_DATA_HOME"], "applications")
    os.makedirs(apps, exist_ok=True)
    with open(os.path.join(apps, "nfltr-test-browser.desktop"), "w") as f:
        f.write("[Desktop Entry]\nType=Application\nName=Recorder Browser\n"
                f"Exec={recorder} %u\nNoDisplay=true\n"
                "MimeType=x-scheme-handler/http;x-scheme-handler/https;text/html;\n")
    os.makedirs(env["XDG_CONFIG_HOME"], exist_ok=True)
    with open(os.path.join(env["XDG_CONFIG_HOME"], "mimeapps.list"), "w") as f:
        f.write("[Default Applications]\nx-scheme-handler/http=nfltr-test-browser.desktop\n"
                "x-scheme-handler/https=nfltr-test-browser.desktop\n"
                "text/html=nfltr-test-browser.desktop\n")
    return record


def test_open_in_browser_launches_the_default_browser_with_the_public_url(world):
    record = install_recorder_browser(world.agent, world.lab)
    tunnel = world.agent.http(world.origin.port, "--name", "browse-me")
    app = applab.App(world.lab, world.agent, world.xvfb)
    app.wait(lambda w: len(w.get("rows", [])) == 1 and w["rows"][0]["switch-state"]
             and w["rows"][0]["url"], 20, "the CLI tunnel's row, online")
    url = app.rows()[0]["url"]
    assert url.rstrip("/") == tunnel.url.rstrip("/"), (url, tunnel.url)
    assert not os.path.exists(record)

    # The row's real "Open in Browser" button, clicked (XTEST).
    app.settle()
    shot = world.xvfb.screenshot("open-in-browser", title="NFLTR")
    x, y = url_buttons(shot)[1]
    main = window(world.xvfb, "NFLTR")
    xdo(world.xvfb, "mousemove", str(main[2] + x), str(main[3] + y))
    xdo(world.xvfb, "click", "1")
    got = wait_until(lambda: os.path.exists(record) and open(record).read().split("\n")[0], 15,
                     "the recorder browser to be launched")
    assert got == url, (got, url)
    time.sleep(1)   # a second launch would come within this: "launched once" needs a window
    assert open(record).read().splitlines() == [url], "launched once, with the URL only"
