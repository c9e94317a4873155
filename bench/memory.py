"""Peak resident memory of a process and its children, read from /proc (Linux)."""

from __future__ import annotations

from pathlib import Path


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        if children.exists():
            found += [int(c) for c in children.read_text().split()]
    return found


def _field(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue += _children(current)
    return pids


def peak_rss_mb(pid: int) -> float:
    """Sum of each process's own peak (VmHWM) over the tree: an upper bound of the joint peak."""
    return round(sum(_field(p, "VmHWM") for p in tree(pid)) / 2**20, 1)


def rss_mb(pid: int) -> float:
    return round(sum(_field(p, "VmRSS") for p in tree(pid)) / 2**20, 1)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its children."""
    import os

    total = 0
    for member in tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")
