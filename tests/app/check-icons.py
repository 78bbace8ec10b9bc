#!/usr/bin/python3
"""The app icons load through librsvg (as GTK loads them) at the sizes GNOME uses, and draw
something: the scalable icon is mostly opaque, the symbolic one is a single-colour shape."""
import os
import sys

import gi

gi.require_version("GdkPixbuf", "2.0")
from gi.repository import GdkPixbuf  # noqa: E402

root = sys.argv[1]
icons = {
    "scalable": os.path.join(root, "hicolor", "scalable", "apps", "xyz.nfltr.Nfltr.svg"),
    "symbolic": os.path.join(root, "hicolor", "symbolic", "apps", "xyz.nfltr.Nfltr-symbolic.svg"),
}
tests = []
for kind, path in icons.items():
    for size in (16, 32, 64, 128, 256):
        pb = GdkPixbuf.Pixbuf.new_from_file_at_size(path, size, size)
        assert pb.get_has_alpha() and pb.get_n_channels() == 4
        px = pb.get_pixels()
        stride, n = pb.get_rowstride(), pb.get_width() * pb.get_height()
        alpha = [px[y * stride + x * 4 + 3] for y in range(pb.get_height()) for x in range(pb.get_width())]
        opaque = sum(1 for a in alpha if a > 128) / n
        colours = {tuple(px[y * stride + x * 4: y * stride + x * 4 + 3])
                   for y in range(pb.get_height()) for x in range(pb.get_width())
                   if px[y * stride + x * 4 + 3] == 255}
        if kind == "scalable":
            ok = opaque > 0.5 and len(colours) > 3
        else:
            ok = 0.1 < opaque < 0.9 and len(colours) == 1
        tests.append((ok, f"{kind} icon at {size}px: {opaque:.0%} opaque, {len(colours)} colours"))

print(f"1..{len(tests)}")
for i, (ok, name) in enumerate(tests, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {name}")
sys.exit(0 if all(t[0] for t in tests) else 1)
