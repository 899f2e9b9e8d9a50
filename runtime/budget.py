"""How many bytes imcc will read or materialize at once: one limit for the compiler, the
interpreter and the simulator, checked before allocating, so that a size declared in a small file
(a tensor type, a target's memory, an array header) cannot exhaust the machine.

The limit is ``IMCC_MAX_BYTES`` when set, else half of the machine's memory (or of the process's
address-space limit, ``ulimit -v``, when that is lower).
"""

from __future__ import annotations

import os

ENV = "IMCC_MAX_BYTES"


class BudgetError(ValueError):
    """A declared size beyond the limit (the message names what and how large)."""


def limit() -> int:
    """The limit in bytes."""
    text = os.environ.get(ENV)
    if text:
        try:
            return max(int(float(text)), 0)
        except ValueError:
            raise BudgetError(f"{ENV}={text!r} is not a number of bytes") from None
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 16 << 30
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            memory = min(memory, soft)
    except (ImportError, OSError, ValueError):
        pass
    return memory // 2


def check(nbytes: int, what: str) -> None:
    """Raise `BudgetError` when ``nbytes`` exceeds the limit."""
    cap = limit()
    if nbytes > cap:
        raise BudgetError(
            f"{what}: {nbytes:,} bytes, more than the limit of {cap:,} bytes ({ENV} raises it)"
        )
