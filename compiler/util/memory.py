"""Freeing what passes erase.

An op and its results reference each other, so an erased op, and the constant array its
attributes hold, is freed only when Python's cyclic garbage collector runs. A compile creates
few Python objects, so the collector seldom runs on its own: the float weights a pass replaces
would stay in memory next to their replacements. And the C heap keeps what is freed (see
``imcc.runtime.allocator``). :func:`reclaim` does both; the pass manager calls it after every
pass that changed the module, and a pass that erases large constants one at a time counts them
with :class:`ErasedBytes`.

A full collection visits every tracked object; the compiler's command-line tools (``run_tool``)
call :func:`freeze_imports` at start so that the modules, classes and functions imported by then
(most of the process's objects, none of them ever garbage) are no longer visited.
"""

from __future__ import annotations

import gc

from imcc.runtime import allocator


def reclaim() -> None:
    """Free the erased ops (the cyclic garbage collector, all generations), then return the
    heap's free memory to the system."""
    gc.collect()
    allocator.release()


_frozen = False


def freeze_imports() -> None:
    """Exclude every object alive now from later collections (for tools, after their imports);
    only the first call freezes, so a process running a tool many times (tests) keeps later
    objects collectable."""
    global _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True


class ErasedBytes:
    """Counts the bytes of erased constants and collects once ``limit`` of them are pending."""

    def __init__(self, limit: int = 32 << 20):
        self.limit = limit
        self.pending = 0

    def add(self, nbytes: int) -> None:
        """Note ``nbytes`` more erased; collect when the pending bytes reach the limit."""
        self.pending += nbytes
        if self.pending >= self.limit:
            reclaim()
            self.pending = 0
