"""po/ end to end: the app run in German shows the German catalog built from po/de.po.

The locale is compiled by the test into its own directory (localedef + LOCPATH), so nothing
on the machine changes."""
import os
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
    assert row["stats"].startswith("0 offen · 0 gesamt"), row
    app.open_new_tunnel(target="99999")
    assert app.window()["new-tunnel-dialog"]["validation"] == "Ein Port ist eine Zahl von 1 bis 65535."
    app.settle()
    world.xvfb.screenshot("german-new-tunnel", title="Neuer Tunnel")
