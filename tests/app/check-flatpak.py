#!/usr/bin/python3
"""The Flatpak manifest parses, names the app, carries the modules the GNOME runtime lacks
and builds this tree with the app enabled."""
import json
import sys

m = json.load(open(sys.argv[1]))
assert m["app-id"] == "xyz.nfltr.Nfltr" and m["command"] == "nfltr-app", m
assert m["runtime"] == "org.gnome.Platform" and m["sdk"] == "org.gnome.Sdk", m
names = [x["name"] for x in m["modules"]]
assert "libqrencode" in names and "libsodium" in names, names
assert names[-1] == "nfltr" and "-Dapp=true" in m["modules"][-1]["config-opts"], m["modules"][-1]
print("flatpak manifest ok:", ", ".join(names))
