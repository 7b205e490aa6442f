"""The console process's malloc, tuned for upload bodies.

uvicorn hands a request body over in pieces of up to 256 KB, each a fresh buffer (the
socket read, the parser's slice, the ASGI message). Above 128 KB glibc gives each one pages
of its own (``mmap``) and returns them on ``free``; on a virtual machine that hands freed
pages back to the host every such page faults anew, which cost more CPU per MiB of upload
than parsing and hashing it (bench/README.md, upload). Buffers up to ``MMAP_THRESHOLD`` are
therefore taken from the heap, and up to ``TRIM_THRESHOLD`` of freed heap is kept for the
next piece instead of being returned at once (the peak RSS stays within the 150 MB target).
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 4 * 1024 * 1024
TRIM_THRESHOLD = 16 * 1024 * 1024


def keep_freed_buffers() -> bool:
    """Tune glibc's malloc as above; False where there is no glibc (nothing changed)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
