"""What a process holds, read from /proc/PID (Linux): resident memory, threads, descriptors,
and where the resident memory sits, from /proc/PID/smaps.

The smaps breakdown sorts anonymous mappings the way glibc makes them:

  heap     the main arena ([heap], grown with brk)
  arenas   per-thread malloc arenas: each heap is a 64 MiB reservation aligned to 64 MiB
           (HEAP_MAX_SIZE on 64-bit glibc), the part in use read-write, the rest PROT_NONE.
           `arena_heaps` counts those heaps (an arena that outgrew one heap has two).
  stacks   thread stacks: a read-write mapping with a one-page PROT_NONE guard just below it
           (glibc's pthread stacks, default 8 MiB; the main thread's is [stack])
  anon     every other anonymous mapping (large malloc blocks served by mmap, GLib, GnuTLS)
  file     mapped files (the binary, libraries, locale)
"""
import os

ARENA_ALIGN = 64 << 20


def _status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def basic(pid):
    st = _status(pid)
    return {
        "rss_kib": int(st["VmRSS"].split()[0]),
        "threads": int(st["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def _smaps(pid):
    """[(start, end, perms, path, rss_kib)] from /proc/PID/smaps."""
    maps = []
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):
                parts = line.split(None, 5)
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                path = parts[5].strip() if len(parts) > 5 else ""
                cur = [lo, hi, parts[1], path, 0]
                maps.append(cur)
            elif first == "Rss:" and cur is not None:
                cur[4] = int(line.split()[1])
    return maps


def breakdown(pid):
    """Resident KiB by kind (see the module's docstring) and the count of arena heaps and
    thread stacks."""
    maps = _smaps(pid)
    out = {"heap": 0, "arenas": 0, "stacks": 0, "anon": 0, "file": 0,
           "arena_heaps": 0, "thread_stacks": 0}
    for i, (lo, hi, perms, path, rss) in enumerate(maps):
        if path == "[heap]":
            out["heap"] += rss
        elif path and not path.startswith("["):
            out["file"] += rss
        elif path:
            out["anon"] += rss          # [stack], [vvar], [vdso]
        elif perms.startswith("---"):
            continue                    # PROT_NONE: guards and arena reserves, never resident
        elif lo % ARENA_ALIGN == 0 and (
                hi - lo == ARENA_ALIGN or
                (i + 1 < len(maps) and maps[i + 1][0] == hi and maps[i + 1][2].startswith("---")
                 and not maps[i + 1][3] and maps[i + 1][1] - lo <= ARENA_ALIGN)):
            out["arenas"] += rss
            out["arena_heaps"] += 1
        elif (i > 0 and maps[i - 1][1] == lo and maps[i - 1][2].startswith("---")
              and not maps[i - 1][3] and maps[i - 1][1] - maps[i - 1][0] <= 64 << 10
              and hi - lo >= 1 << 20):
            out["stacks"] += rss
            out["thread_stacks"] += 1
        else:
            out["anon"] += rss
    return out


def snapshot(pid, detail=True):
    snap = basic(pid)
    if detail:
        snap.update(breakdown(pid))
    return snap


def fd_kinds(pid):
    """{'socket': n, 'anon_inode:[eventfd]': n, '/path': n, ...}"""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(("socket:", "pipe:")):
            target = target.split(":")[0]
        out[target] = out.get(target, 0) + 1
    return out
