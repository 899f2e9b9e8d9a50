"""Allocator settings for numpy-heavy processes (glibc only; elsewhere nothing happens).

Compiling and simulating make many short-lived arrays of a few to tens of megabytes. glibc
serves each from a fresh ``mmap`` and unmaps it when freed, so every temporary costs a page
fault per 4 KiB and the kernel's zeroing: a fifth of the wall time of a BERT-Large compile.
:func:`tune` makes glibc keep such blocks in its heap and reuse them (``mallopt``: blocks up to
32 MiB from the heap, freed memory kept for reuse); the tools call it at start, and a program
using imcc as a library may call it too. Memory is returned to the system when the process ends,
or when :func:`release` is called: the compiler calls it between passes, so that what one pass
freed, and the heap could not hand to the next one in the pieces it asks for, is not resident
while the next pass reaches its own peak.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

#: glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed on 64-bit
_TRIM_THRESHOLD = (1 << 31) - 1  # the largest an int holds
_TOP_PAD = 256 << 20

_done = False


@functools.cache
def _libc():
    """The C library, or None when it cannot be loaded."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None)
    except OSError:
        return None


def tune() -> bool:
    """Apply the settings once; returns whether the C library took them."""
    global _done
    if _done:
        return True
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:  # not glibc
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


def release() -> bool:
    """Return the heap's free memory to the system now (glibc's ``malloc_trim``; a few
    milliseconds); returns whether the C library has the call."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is None:
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True
