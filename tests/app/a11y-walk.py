#!/usr/bin/python3
"""a11y-walk.py APP_NAME — prints, as JSON, every accessible object of the running
application called APP_NAME on the session's accessibility bus (AT-SPI): role, name,
description and whether it is showing. Used by test_app_accessibility.py in its own process
so that Atspi connects to the test's private bus."""
import json
import sys

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi  # noqa: E402


def walk(node, path, out, depth=0):
    if node is None or depth > 60:
        return
    try:
        role = node.get_role_name()
        name = node.get_name() or ""
        desc = node.get_description() or ""
        states = node.get_state_set()
        # GTK 4.8 sets VISIBLE for what is on screen, SHOWING only on the toplevel
        showing = (states.contains(Atspi.StateType.SHOWING) or
                   states.contains(Atspi.StateType.VISIBLE))
        n = node.get_child_count()
    except gi.repository.GLib.Error:
        return
    here = path + [f"{role}:{name}"]
    out.append({"role": role, "name": name, "description": desc, "showing": showing,
                "path": " / ".join(here)})
    for i in range(n):
        try:
            walk(node.get_child_at_index(i), here, out, depth + 1)
        except gi.repository.GLib.Error:
            continue


def main():
    Atspi.init()
    desktop = Atspi.get_desktop(0)
    out = []
    apps = []
    for i in range(desktop.get_child_count()):
        app = desktop.get_child_at_index(i)
        if app is None:
            continue
        apps.append(app.get_name())
        if app.get_name() == sys.argv[1]:
            walk(app, [], out)
    json.dump({"apps": apps, "nodes": out}, sys.stdout)


if __name__ == "__main__":
    main()
