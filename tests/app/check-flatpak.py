#!/usr/bin/python3
"""What can be checked of the Flatpak manifest without flatpak-builder or the GNOME runtime
(TAP):

- it parses (YAML, as flatpak-builder reads it) and has only keys flatpak-builder knows, of the
  types it expects; the app ID, command, desktop file and metainfo agree;
- the runtime's GTK/libadwaita/GLib are the ones meson.build asks for;
- every module has a known build system and sources; every remote source is https and pinned
  (git: a 40-hex commit; archive/file: a sha256); a dir source exists inside this tree;
- finish-args are all from a short allow-list of what the app needs, none of the broad ones, and
  each one has a comment on its line saying why.

Usage: check-flatpak.py MANIFEST.yml"""
import os
import re
import sys

import yaml

path = sys.argv[1]
top = os.path.dirname(os.path.dirname(os.path.abspath(path)))
text = open(path).read()
m = yaml.safe_load(text)
results = []


def check(ok, what):
    results.append((bool(ok), what))
    return bool(ok)


STR, LIST, DICT, BOOL = str, list, dict, bool
# flatpak-builder(1) "Toplevel properties" (those a manifest of this kind uses or may use).
TOP_KEYS = {"app-id": STR, "id": STR, "branch": STR, "runtime": STR, "runtime-version": STR,
            "sdk": STR, "command": STR, "finish-args": LIST, "cleanup": LIST,
            "cleanup-commands": LIST, "modules": LIST, "build-options": DICT,
            "sdk-extensions": LIST, "rename-desktop-file": STR, "rename-icon": STR,
            "separate-locales": BOOL, "tags": LIST}
MODULE_KEYS = {"name": STR, "buildsystem": STR, "config-opts": LIST, "sources": LIST,
               "build-options": DICT, "cleanup": LIST, "builddir": BOOL, "subdir": STR,
               "post-install": LIST, "build-commands": LIST, "make-args": LIST,
               "make-install-args": LIST, "modules": LIST, "disabled": BOOL}
BUILDSYSTEMS = {"autotools", "cmake", "cmake-ninja", "meson", "simple", "qmake"}
SOURCE_KEYS = {
    "git": {"type", "url", "tag", "commit", "branch", "disable-shallow-clone", "disable-submodules"},
    "archive": {"type", "url", "sha256", "sha512", "strip-components", "dest-filename", "dest"},
    "file": {"type", "url", "path", "sha256", "sha512", "dest-filename", "dest"},
    "dir": {"type", "path", "skip", "dest"},
    "patch": {"type", "path", "paths", "strip-components", "dest"},
}

check(isinstance(m, dict), "the manifest is a YAML mapping")
for key, value in m.items():
    if check(key in TOP_KEYS, f"top-level key {key!r} is a flatpak-builder property"):
        check(isinstance(value, TOP_KEYS[key]), f"{key!r} is a {TOP_KEYS[key].__name__}")

# The app as the rest of the tree names it.
check(m.get("app-id") == "xyz.nfltr.Nfltr", "app-id xyz.nfltr.Nfltr")
check(m.get("command") == "nfltr-app", "command nfltr-app")
check("executable('nfltr-app'" in open(os.path.join(top, "app", "meson.build")).read()
      and "install: true" in open(os.path.join(top, "app", "meson.build")).read(),
      "the command is installed by app/meson.build")
for f in ("xyz.nfltr.Nfltr.desktop.in", "xyz.nfltr.Nfltr.metainfo.xml.in"):
    check(os.path.exists(os.path.join(top, "data", "app", f)), f"data/app/{f} (named after the app ID)")
check("<id>xyz.nfltr.Nfltr</id>" in open(os.path.join(top, "data", "app",
                                                      "xyz.nfltr.Nfltr.metainfo.xml.in")).read(),
      "the metainfo's <id> is the app ID")

# The runtime carries what meson.build needs: GNOME runtime -> (GTK, libadwaita, GLib).
GNOME = {"43": ("4.8", "1.2", "2.74"), "44": ("4.10", "1.3", "2.76"), "45": ("4.12", "1.4", "2.78")}
check(m.get("runtime") == "org.gnome.Platform" and m.get("sdk") == "org.gnome.Sdk",
      "org.gnome.Platform with org.gnome.Sdk")
versions = GNOME.get(str(m.get("runtime-version")))
if check(versions, f"runtime-version {m.get('runtime-version')!r} is a known GNOME runtime"):
    app_meson = open(os.path.join(top, "app", "meson.build")).read()
    top_meson = open(os.path.join(top, "meson.build")).read()
    need = (re.search(r"'gtk4', version: '>= ([\d.]+)'", app_meson),
            re.search(r"'libadwaita-1', version: '>= ([\d.]+)'", app_meson),
            re.search(r"'glib-2.0', version: '>= ([\d.]+)'", top_meson))

    def vt(v):
        return tuple(int(x) for x in v.split("."))
    for lib, have, want in zip(("gtk4", "libadwaita", "glib"), versions, need):
        check(want and vt(have) >= vt(want.group(1)),
              f"runtime's {lib} {have} >= meson.build's {want.group(1) if want else '?'}")

# Modules and their sources.
modules = m.get("modules") or []
names = [x.get("name") for x in modules if isinstance(x, dict)]
check("libsodium" in names and "libqrencode" in names,
      f"the modules the runtime lacks are built: {names}")
check(names and names[-1] == "nfltr", "the last module is nfltr")
if names and names[-1] == "nfltr":
    check("-Dapp=true" in modules[-1].get("config-opts", []), "nfltr is built with -Dapp=true")
for mod in modules:
    n = mod.get("name")
    for key, value in mod.items():
        if check(key in MODULE_KEYS, f"{n}: key {key!r} is a module property"):
            check(isinstance(value, MODULE_KEYS[key]), f"{n}: {key!r} is a {MODULE_KEYS[key].__name__}")
    check(mod.get("buildsystem") in BUILDSYSTEMS, f"{n}: build system {mod.get('buildsystem')!r}")
    sources = mod.get("sources") or []
    check(sources, f"{n}: has sources")
    for src in sources:
        t = src.get("type")
        if not check(t in SOURCE_KEYS, f"{n}: source type {t!r}"):
            continue
        check(set(src) <= SOURCE_KEYS[t], f"{n}: {t} source keys {sorted(src)}")
        if "url" in src:
            check(src["url"].startswith("https://"), f"{n}: {src['url']} is https")
        if t == "git":
            check(re.fullmatch(r"[0-9a-f]{40}", str(src.get("commit", ""))),
                  f"{n}: git source pinned by commit ({src.get('commit')})")
        elif t in ("archive", "file") and "url" in src:
            check(re.fullmatch(r"[0-9a-f]{64}", str(src.get("sha256", ""))),
                  f"{n}: {t} source pinned by sha256")
        if t in ("dir", "file", "patch") and "path" in src:
            where = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), src["path"]))
            check(os.path.exists(where) and (where + "/").startswith(top + "/")
                  or where == top, f"{n}: {t} {src['path']!r} exists in this tree")
            if t == "dir":
                check(os.path.exists(os.path.join(where, "meson.build")),
                      f"{n}: dir {src['path']!r} is the project (has meson.build)")

# finish-args: an allow-list, nothing broad, each with its reason on its line.
ALLOWED = {"--share=network", "--share=ipc", "--socket=wayland", "--socket=fallback-x11",
           "--device=dri"}
BROAD = re.compile(r"^--(filesystem=(host|home|/)|socket=(x11|session-bus|system-bus|pulseaudio)"
                   r"|device=all|talk-name=org\.freedesktop\.Flatpak|own-name=|system-talk-name="
                   r"|persist=|env=)")
args = m.get("finish-args") or []
for arg in args:
    check(arg in ALLOWED and not BROAD.match(arg), f"finish-arg {arg} is one the app needs")
    line = next((l for l in text.splitlines() if re.match(r"\s*-\s*" + re.escape(arg) + r"(\s|$)", l)), "")
    reason = line.split("#", 1)[1].strip() if "#" in line else ""
    check(len(reason.split()) >= 2, f"finish-arg {arg} has a comment saying why: {reason!r}")
check(len(args) == len(set(args)), "no finish-arg twice")
check("--socket=x11" not in args or "--socket=wayland" not in args,
      "X11 only as fallback-x11 next to wayland")

print(f"1..{len(results)}")
for i, (ok, what) in enumerate(results, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {what}")
sys.exit(0 if all(ok for ok, _ in results) else 1)
