"""Hand freed heap memory back to the operating system between stages.

glibc's malloc keeps memory that Python frees inside its heap for reuse. A stage that builds
and drops many objects (extract's per-article analyses, NER spans and row dicts; clean's
fetched items) leaves holes that later stages do not reuse: NumPy, pandas and Arrow take
their large buffers from mmap, never from those holes. So the flow process's RSS stayed at
its high-water mark for the rest of the run. `malloc_trim(0)` returns the whole free pages
inside the heap (measured after extract on Reuters: 650 MB → 523 MB); it costs a few
milliseconds. Where libc is not glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache


@cache
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim  # glibc only; musl has no such symbol
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def return_freed_memory() -> bool:
    """Ask the allocator to give free heap pages back to the OS; True when it released any."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
