#!/usr/bin/python3
"""The metainfo's screenshots are the committed ones: each <image> is the raw-file URL of
docs/screenshots/NAME.png in the project's repository at the newest release's tag, NAME.png is
in the tree, is a PNG, and its size is the one the metainfo states (TAP).

Usage: check-metainfo.py METAINFO.xml.in DOCS_SCREENSHOTS_DIR"""
import os
import re
import struct
import sys
import xml.etree.ElementTree as ET

# The prefix the metainfo's comment explains (the repository once published).
PREFIX = "https://raw.githubusercontent.com/nfltr/nfltr/"

metainfo, shots_dir = sys.argv[1], sys.argv[2]
root = ET.parse(metainfo).getroot()
versions = [r.get("version") for r in root.iter("release")]
results = []


def check(ok, what):
    results.append((bool(ok), what))


check(versions, "the metainfo has a <release>")
tag = "v" + (versions[0] if versions else "?")
screenshots = root.findall("./screenshots/screenshot")
check(len(screenshots) >= 1, f"{len(screenshots)} screenshots")
check(sum(1 for s in screenshots if s.get("type") == "default") == 1, "exactly one default screenshot")
for s in screenshots:
    img = s.find("image")
    caption = s.find("caption")
    url = img.text.strip() if img is not None and img.text else ""
    check(caption is not None and (caption.text or "").strip(), f"{url}: has a caption")
    m = re.fullmatch(re.escape(PREFIX) + r"([^/]+)/docs/screenshots/([a-z0-9-]+\.png)", url)
    check(m, f"{url}: is {PREFIX}TAG/docs/screenshots/NAME.png")
    if not m:
        continue
    check(m.group(1) == tag, f"{url}: at the newest release's tag {tag}")
    path = os.path.join(shots_dir, m.group(2))
    check(os.path.isfile(path), f"{url}: docs/screenshots/{m.group(2)} is in the tree")
    if not os.path.isfile(path):
        continue
    with open(path, "rb") as f:
        head = f.read(24)
    check(head[:8] == b"\x89PNG\r\n\x1a\n", f"{m.group(2)}: is a PNG")
    width, height = struct.unpack(">II", head[16:24])
    check((img.get("width"), img.get("height")) == (str(width), str(height)),
          f"{m.group(2)}: {width}x{height} as the metainfo says "
          f"({img.get('width')}x{img.get('height')}); after refreshing the pictures, update it")
    check(width >= 360, f"{m.group(2)}: at least 360 px wide (the metainfo's display_length)")

print(f"1..{len(results)}")
for i, (ok, what) in enumerate(results, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {what}")
sys.exit(0 if all(ok for ok, _ in results) else 1)
