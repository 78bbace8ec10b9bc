#!/usr/bin/python3
"""drag-source.py FILE… — a small GTK4 window titled "drag-source" whose whole area is a drag
source of the files' URIs (text/uri-list), as a file manager offers them. The app tests move
the X pointer over it with xdotool, press, and release over the app's window: a real XDND drop
into nfltr-app, handled by its GtkDropTarget."""
import os
import sys

import gi

gi.require_version("Gtk", "4.0")
gi.require_version("Gdk", "4.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402


def main():
    uris = "".join(GLib.filename_to_uri(os.path.abspath(p), None) + "\r\n" for p in sys.argv[1:])
    app = Gtk.Application(application_id=None)

    def activate(app):
        win = Gtk.ApplicationWindow(application=app, title="drag-source")
        win.set_default_size(200, 200)
        label = Gtk.Label(label="drag me")
        label.set_hexpand(True)
        label.set_vexpand(True)
        source = Gtk.DragSource()
        source.set_actions(Gdk.DragAction.COPY)
        source.connect("prepare", lambda *a: Gdk.ContentProvider.new_for_bytes(
            "text/uri-list", GLib.Bytes.new(uris.encode())))
        label.add_controller(source)

        # What the test waits on instead of sleeping: the pointer is in, the drag began, and
        # the target answered a position with an action it accepts (XdndStatus).
        motion = Gtk.EventControllerMotion()
        seen = set()

        def once(word):
            if word not in seen:
                seen.add(word)
                print(word, flush=True)

        motion.connect("motion", lambda *a: once("pointer-in"))
        label.add_controller(motion)

        def drag_begin(source, drag):
            once("drag-begin")
            drag.connect("notify::selected-action",
                         lambda d, _p: d.get_selected_action() & Gdk.DragAction.COPY and once("accepted"))

        source.connect("drag-begin", drag_begin)
        win.set_child(label)
        win.present()
        print("ready", flush=True)

    app.connect("activate", activate)
    app.run([])


if __name__ == "__main__":
    main()
