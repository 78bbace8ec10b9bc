#!/usr/bin/python3
"""po/ checks (issue #3): POTFILES is complete and the German translation is full.

1. Every tracked source file with a translatable string (_(, N_(, C_(, NC_( in C;
   translatable="yes" in .ui/.xml; a translatable key in .desktop.in/.metainfo.xml.in) is
   listed in po/POTFILES.in, and every listed file exists.
2. Every message xgettext extracts from POTFILES has a non-fuzzy translation in each language
   of po/LINGUAS, and msgfmt --check accepts the catalog.
3. The catalog built by meson (BUILD/po/de/LC_MESSAGES/nfltr.mo) translates a string the
   window shows.
Prints TAP.
"""
import gettext
import os
import re
import subprocess
import sys
import tempfile

SRC = os.environ.get("NFLTR_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("NFLTR_BUILD_ROOT", "")
PO = os.path.join(SRC, "po")

C_MARK = re.compile(r"\b(?:N?C?_|g_dngettext|ngettext)\s*\(")
XML_MARK = re.compile(r'translatable="yes"')

results = []


def check(ok, name, detail=""):
    results.append((ok, name, detail))


def tracked_files():
    out = subprocess.run(["git", "-C", SRC, "ls-files", "--cached", "--others", "--exclude-standard"],
                         capture_output=True, text=True)
    files = out.stdout.split() if out.returncode == 0 else []
    if not files:  # not a git checkout: walk
        for root, dirs, names in os.walk(SRC):
            dirs[:] = [d for d in dirs if not d.startswith((".", "build", "subprojects"))]
            files += [os.path.relpath(os.path.join(root, n), SRC) for n in names]
    return sorted(f for f in files if not f.startswith(("build", "fuzz/corpus", "tests/")))


def needs_translation(path):
    full = os.path.join(SRC, path)
    try:
        text = open(full, encoding="utf-8").read()
    except (OSError, UnicodeDecodeError):
        return False
    if path.endswith((".c", ".h")):
        # only code that includes gettext marks its strings that way
        return "glib/gi18n" in text and bool(C_MARK.search(text))
    if path.endswith((".ui", ".xml")) and not path.endswith(".gresource.xml"):
        return bool(XML_MARK.search(text))
    if path.endswith((".desktop.in", ".metainfo.xml.in", ".gschema.xml")):
        return True
    return False


listed = [l.strip() for l in open(os.path.join(PO, "POTFILES.in"))
          if l.strip() and not l.startswith("#")]
for path in listed:
    check(os.path.exists(os.path.join(SRC, path)), f"POTFILES entry exists: {path}")
missing = [p for p in tracked_files() if needs_translation(p) and p not in listed]
check(not missing, "every file with translatable strings is in po/POTFILES.in",
      "missing: " + ", ".join(missing))

with tempfile.TemporaryDirectory() as tmp:
    pot = os.path.join(tmp, "nfltr.pot")
    r = subprocess.run(["xgettext", "--package-name=nfltr", "--from-code=UTF-8",
                        "--keyword=_", "--keyword=N_", "--keyword=C_:1c,2", "--keyword=NC_:1c,2",
                        "--keyword=g_dngettext:2,3", "--add-comments=TRANSLATORS",
                        "-D", SRC, "-o", pot] + listed, capture_output=True, text=True)
    check(r.returncode == 0, "xgettext extracts the messages", r.stderr)
    for lang in open(os.path.join(PO, "LINGUAS")).read().split():
        po = os.path.join(PO, lang + ".po")
        merged = os.path.join(tmp, lang + ".po")
        r = subprocess.run(["msgmerge", "--quiet", "--no-fuzzy-matching", po, pot, "-o", merged],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"{lang}.po merges with the template", r.stderr)
        r = subprocess.run(["msgfmt", "--check", "--statistics", "-o", os.devnull, merged],
                           capture_output=True, text=True)
        stats = r.stderr.strip()
        check(r.returncode == 0 and "untranslated" not in stats and "fuzzy" not in stats,
              f"{lang}.po translates every message", stats)

if BUILD and os.path.exists(os.path.join(BUILD, "po", "de", "LC_MESSAGES", "nfltr.mo")):
    t = gettext.translation("nfltr", os.path.join(BUILD, "po"), ["de"])
    check(t.gettext("No Tunnels") == "Keine Tunnel", "the built German catalog is used",
          t.gettext("No Tunnels"))
    check(t.gettext("Verified end-to-end") == "Ende-zu-Ende-geprüft",
          "the badge is translated", t.gettext("Verified end-to-end"))
else:
    check(False, "the German catalog was built", f"no {BUILD}/po/de/LC_MESSAGES/nfltr.mo")

print(f"1..{len(results)}")
for i, (ok, name, detail) in enumerate(results, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {name}")
    if not ok and detail:
        print("# " + detail.replace("\n", "\n# "))
sys.exit(0 if all(r[0] for r in results) else 1)
