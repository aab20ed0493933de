"""Peak memory of a process and all its descendants, sampled while it runs.

RSS is summed over the tree (the run, spaCy's worker processes, anything else it
starts), as the issue asks. RSS counts pages shared between a parent and its forked
workers once per process, so the proportional set size (PSS, which splits shared
pages between their users) is recorded beside it where the kernel offers it.

psutil is used when installed; otherwise /proc is read directly (Linux).
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_INTERVAL_SECONDS = 0.2
_PROC = Path("/proc")

try:  # optional: not a project dependency
    import psutil
except ImportError:  # pragma: no cover - depends on the environment
    psutil = None


def process_tree(root_pid: int) -> list[int]:
    """`root_pid` and its descendants (that are alive now), root first."""
    if psutil is not None:
        try:
            root = psutil.Process(root_pid)
            return [root_pid] + [p.pid for p in root.children(recursive=True)]
        except psutil.Error:
            return []
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir(_PROC):
        if not entry.name.isdigit():
            continue
        try:
            stat = (_PROC / entry.name / "stat").read_text()
        except OSError:
            continue  # it ended between listing and reading
        # The command name is in parentheses and may contain spaces; the parent pid follows it.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children[ppid].append(int(entry.name))
    if not (_PROC / str(root_pid)).exists():
        return []
    tree, queue = [], [root_pid]
    while queue:
        pid = queue.pop(0)
        tree.append(pid)
        queue.extend(children.get(pid, []))
    return tree


def rss_bytes(pid: int) -> int:
    """Resident set size of one process, 0 if it has gone."""
    if psutil is not None:
        try:
            return psutil.Process(pid).memory_info().rss
        except psutil.Error:
            return 0
    return _status_kib(pid, "VmRSS:") * 1024


def pss_bytes(pid: int) -> int | None:
    """Proportional set size from /proc/<pid>/smaps_rollup; None where the kernel has no such file."""
    try:
        text = (_PROC / str(pid) / "smaps_rollup").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return None


def _status_kib(pid: int, field: str) -> int:
    try:
        text = (_PROC / str(pid) / "status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0  # kernel threads and zombies have no VmRSS


def cpu_seconds(who: str = "self") -> float:
    """User + system CPU seconds of this process ("self") or of its finished, waited-for children.

    "children" includes grandchildren that their parents waited for (spaCy's workers, say), so
    the difference across one waited-for run is that run's whole tree. CPU time barely moves
    when other work shares the machine, unlike wall time, so it is recorded beside it.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF if who == "self" else resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class TreeMemory:
    peak_rss_bytes: int = 0
    peak_pss_bytes: int | None = None
    peak_processes: int = 0
    samples: int = 0
    # (seconds since the epoch, RSS bytes of the tree) per sample, to place the peak in a stage.
    timeline: list[tuple[float, int]] = field(default_factory=list, repr=False)

    def peak_between(self, start: float, end: float) -> int | None:
        """The tree's largest RSS sampled in [start, end], or None if no sample fell there."""
        inside = [rss for t, rss in self.timeline if start <= t <= end]
        return max(inside) if inside else None

    def as_dict(self) -> dict[str, int | float | None]:
        mib = 1024 * 1024
        return {"peak_rss_mib": round(self.peak_rss_bytes / mib, 1),
                "peak_pss_mib": None if self.peak_pss_bytes is None else round(self.peak_pss_bytes / mib, 1),
                "peak_processes": self.peak_processes, "samples": self.samples}


class TreeMemorySampler:
    """Samples the tree of `root_pid` every 0.2 s on a thread; `stop()` returns the peaks.

    Use as a context manager around the wait for the process.
    """

    def __init__(self, root_pid: int, interval: float = SAMPLE_INTERVAL_SECONDS):
        self.root_pid = root_pid
        self.interval = interval
        self.result = TreeMemory()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"rss-{root_pid}", daemon=True)

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> TreeMemory:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.result

    def sample(self) -> None:
        pids = process_tree(self.root_pid)
        if not pids:
            return
        rss = sum(rss_bytes(pid) for pid in pids)
        pss_values = [pss_bytes(pid) for pid in pids]
        r = self.result
        r.samples += 1
        r.peak_processes = max(r.peak_processes, len(pids))
        r.peak_rss_bytes = max(r.peak_rss_bytes, rss)
        r.timeline.append((time.time(), rss))
        if all(v is not None for v in pss_values):
            pss = sum(v for v in pss_values if v is not None)
            r.peak_pss_bytes = pss if r.peak_pss_bytes is None else max(r.peak_pss_bytes, pss)

    def _loop(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                break
