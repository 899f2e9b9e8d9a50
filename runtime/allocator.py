"""Allocator settings for numpy-heavy processes (glibc only; elsewhere nothing happens).

Compiling and simulating make many short-lived arrays of a few to tens of megabytes. glibc
serves each from a fresh ``mmap`` and unmaps it when freed, so every temporary costs a page
fault per 4 KiB and the kernel's zeroing: a fifth of the wall time of a BERT-Large compile.
:func:`tune` makes glibc keep such blocks in its heap and reuse them (``mallopt``: blocks up to
32 MiB from the heap, freed memory kept for reuse); the tools call it at start, and a program
using imcc as a library may call it too. Peak memory stays about the same; memory is returned
to the system when the process ends.
"""

from __future__ import annotations

import ctypes
import ctypes.util

#: glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed on 64-bit
_TRIM_THRESHOLD = (1 << 31) - 1  # the largest an int holds
_TOP_PAD = 256 << 20

_done = False


def tune() -> bool:
    """Apply the settings once; returns whether the C library took them."""
    global _done
    if _done:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = all(
        mallopt(param, value)
        for param, value in (
            (_M_MMAP_THRESHOLD, _MMAP_THRESHOLD),
            (_M_TRIM_THRESHOLD, _TRIM_THRESHOLD),
            (_M_TOP_PAD, _TOP_PAD),
        )
    )
    return _done
