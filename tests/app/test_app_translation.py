"""po/ end to end: the app run in German shows the German catalog built from po/de.po.

The locale is compiled by the test into its own directory (localedef + LOCPATH), so nothing
on the machine changes."""
import os
import re
import subprocess

import applab


def test_app_speaks_german(world):
    locdir = world.lab.mkdir("locale")
    subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8", os.path.join(locdir, "de_DE.UTF-8")],
                   check=True, capture_output=True, timeout=120)
    world.agent.http(world.origin.port, "--name", "hallo")
    app = applab.App(world.lab, world.agent, world.xvfb,
                     extra_env={"LOCPATH": locdir, "LC_ALL": "de_DE.UTF-8", "LANG": "de_DE.UTF-8"})
    app.wait(lambda w: len(w.get("rows", [])) == 1, 20, "the tunnel's row")
    row = app.rows()[0]
    assert row["badge"] == "Ende-zu-Ende-geprüft", row
    # "N gesamt": the relay's own check of the tunnel (issue 11) is a connection like any other.
    assert re.match(r"0 offen · \d+ gesamt", row["stats"]), row
    app.open_new_tunnel(target="99999")
    assert app.window()["new-tunnel-dialog"]["validation"] == "Ein Port ist eine Zahl von 1 bis 65535."
    app.settle()
    world.xvfb.screenshot("german-new-tunnel", title="Neuer Tunnel")
