"""flows.stages.memory: freed heap pages go back to the OS between stages (glibc only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.stages.memory import return_freed_memory


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@pytest.mark.unit
def test_freed_heap_pages_in_the_middle_of_the_heap_are_returned():
    """What a stage leaves: many mid-sized objects freed, with a few survivors pinning the heap so
    it cannot shrink from the top. Without the trim RSS stays up; with it, it comes down."""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc (Linux) to read RSS")
    return_freed_memory()
    # 4,000-byte objects come from malloc's heap (pymalloc takes only <= 512 bytes, mmap >= 128 KiB)
    blocks = [bytes(4000) + bytes([i % 251]) for i in range(50_000)]  # ~200 MB
    survivors = blocks[::1000]  # every 1,000th stays alive, spread through the heap
    del blocks
    before = _rss_mb()
    released = return_freed_memory()
    after = _rss_mb()
    if not released and before - after < 1:
        pytest.skip("this libc has no malloc_trim (not glibc); the call is a no-op here")
    assert before - after > 100, (before, after)
    assert len(survivors) == 50  # still alive, so the heap really was pinned
