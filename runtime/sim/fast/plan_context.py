"""What compiling a `plan` step knows: shared scratch buffers, the program around it, and what
the step before left behind.

Two facts let consecutive steps skip work without changing a result bit:

- **float copies.** Many steps compute their integer result as exact float32 numbers before
  casting them into memory (an xb.mvm's ADC output, a requantization to int8, a depthwise
  kernel's sums). Such a step leaves a `FloatCopy`, and the next step, if it reads exactly
  those integers and converts them to float32 anyway, reads the copy instead: the same numbers
  (a zero may be -0.0, so only where the sign of zero cannot show).
- **results only the next step reads.** When `compile_body` knows which bytes are read after
  the body (the program's outputs), a step whose result nothing but the next instruction reads
  leaves it in its float copy and does not store it; if the next step reads memory after all,
  the store runs just before it (`compile_step`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ..machine.machine import Machine
from .dataflow import overlaps

F32 = np.float32


class Scratch:
    """Work buffers by slot, shared by every step of a session.

    Steps take their buffers while being compiled; a buffer that must grow is replaced, so
    compiling twice (`compile_body`) lets every step share the final, largest buffers.
    """

    def __init__(self, sizes: dict[tuple[str, str], int] | None = None):
        self._bufs = {key: np.empty(n, dtype=np.dtype(key[1])) for key, n in (sizes or {}).items()}

    def get(self, slot: str, shape: tuple[int, ...], dtype=F32) -> np.ndarray:
        """A buffer of ``shape`` (contents undefined), shared with other users of ``slot``."""
        dtype = np.dtype(dtype)
        n = math.prod(shape)
        key = (slot, dtype.str)
        buf = self._bufs.get(key)
        if buf is None or buf.size < n:
            buf = self._bufs[key] = np.empty(n, dtype=dtype)
        return buf[:n].reshape(shape)

    def sizes(self) -> dict[tuple[str, str], int]:
        """Elements per slot, to make a `Scratch` that never grows."""
        return {key: buf.size for key, buf in self._bufs.items()}


class FloatCopy(NamedTuple):
    """A float32 buffer holding the ``count`` integers of ``dtype`` a step wrote at mem:addr,
    times 2^-exp, except that a zero may be -0.0 there.

    ``store``: when the step left writing the integers to whoever needs them (they are read by
    nothing but the next instruction), the function that writes them from ``buf``.
    """

    mem: str
    addr: int
    dtype: str
    count: int
    buf: np.ndarray
    exp: int = 0
    store: Callable[[], None] | None = None


class Context:
    """What compiling a step needs: the machine, shared scratch, and facts about the program.

    ``constant(space, lo, hi)``: whether no instruction of the run writes those bytes, so their
    current value (after weight programming) is what every run reads. While `compile_body`
    walks the instructions in order, ``bounds`` holds the largest |value| of int32 matrices that
    earlier xb.mvm steps wrote and nothing has overwritten since (an accumulating xb.mvm whose
    sums provably cannot saturate adds in int32), ``prev_gather`` the input gather of the
    previous instruction when it was an xb.mvm whose gathered inputs are still in scratch,
    ``prev_float`` the `FloatCopy` the previous step left, and ``next`` the instruction after
    the one being compiled (``index`` in the body).
    """

    def __init__(
        self,
        machine: Machine,
        constant=lambda space, lo, hi: False,
        scratch=None,
        engines: bool = False,
        kernels: dict | None = None,
        footprints=(),
        live_out=None,
    ):
        self.machine = machine
        self.scratch = scratch or Scratch()
        self.constant = constant
        self.engines = engines
        self._kernels = {} if kernels is None else kernels
        self._footprints, self._live_out = list(footprints), live_out
        self._reads: _ReadIndex | None = None
        self.engine_steps = 0  # steps that run an onnxruntime kernel
        self.fused_steps = 0  # steps that read their input from the previous step's float copy
        self.dropped_stores = 0  # steps that leave their result to the next one alone
        self.folded_scales = 0  # of those, xb.mvm steps leaving q for the next to scale
        self.plain_steps = 0  # steps that run the plain semantic function
        self.merged = False  # compiling an xb.mvm merged from several (`merge`)
        self.merged_steps = 0  # instructions done by another one's merged step
        self.bounds: dict[tuple, tuple] = {}  # key -> (written Range, bound)
        self.index, self.next = 0, None
        # cells reprogrammed by the body but the same in every run (`steady`), by index
        self.steady_windows: dict[int, np.ndarray] = {}  # xb.mvm → its window's cells
        self.steady_progs: dict[int, np.ndarray] = {}  # xb.prog → the cells it writes
        self.prev_gather = None
        self.prev_float: FloatCopy | None = None
        self.gathered = None  # at run time: the gather whose float32 copy is in scratch
        self._next_gather = None
        self._next_bound = None
        self._next_float: FloatCopy | None = None
        self._took = False

    def kernel(self, key, build):
        """The `engines` kernel cached under ``key`` (``build()`` it once; None: not usable)."""
        if key not in self._kernels:
            self._kernels[key] = build()
        return self._kernels[key]

    def dead_after_next(self) -> bool:
        """Whether nothing but the next instruction reads what the one being compiled writes.

        Known only when `compile_body` was told what is read after the body (``live_out``).
        No later instruction may read a byte it writes, nor the body's reader after the end,
        nor the next instruction other than as exactly the range written (which it may take
        from a float copy). A later run reads those bytes only after writing them, or from the
        session's restored snapshot: what this run leaves there is never seen.
        """
        if self._live_out is None or self.index >= len(self._footprints):
            return False
        fps = self._footprints
        writes = fps[self.index].writes
        nxt = fps[self.index + 1].reads if self.index + 1 < len(fps) else []
        if not writes:
            return False
        if any(overlaps(w, r) for w in writes for r in self._live_out):
            return False
        if any(overlaps(w, r) for w in writes for r in nxt if r != w):
            return False
        return not any(self._read_from(w, self.index + 2) for w in writes)

    def _read_from(self, w, first: int) -> bool:
        """Whether a step ``first`` or later reads a byte of range ``w``."""
        if self._reads is None:
            self._reads = _ReadIndex(self._footprints)
        return self._reads.any_overlap(w, first)

    def leave_float(self, mem, addr, dtype, count, buf, exp=0, store=None) -> None:
        """Say that every run of the step being compiled ends with ``buf`` holding the integers
        it wrote (see `FloatCopy`). Call it only for a step that cannot fall back to other
        code; ``store``: the step did not write them (`dead_after_next`), this does."""
        self._next_float = FloatCopy(mem, addr, dtype, count, buf, exp, store)
        self.dropped_stores += store is not None

    def float_of(self, mem: str, addr: int, dtype: str, count: int) -> FloatCopy | None:
        """The float copy of the integers at mem:addr the previous step just wrote, or None.

        Reading it instead of converting the integers gives the same numbers, save for the sign
        of zero: only use it where that sign cannot matter (an integer result). A step that
        does must say so (`take`); else the integers are stored first, if they were not.
        """
        prev = self.prev_float
        same = prev is not None and (prev.mem, prev.addr, prev.dtype, prev.count) == (
            mem,
            addr,
            dtype,
            count,
        )
        return prev if same else None

    def plain_step(self) -> None:
        """The step being compiled runs the plain semantics: memory in, memory out."""
        self.plain_steps += 1
        if self._next_float is not None and self._next_float.store is not None:
            self.dropped_stores -= 1
        self.fused_steps -= self._took
        self._next_float, self._took = None, False

    def pending_store(self):
        """The store the previous step left undone, if the step being compiled reads memory
        (it did not `take` the float copy): to run just before that step."""
        prev = self.prev_float
        return None if prev is None or self._took else prev.store

    def take(self) -> None:
        """The step being compiled reads the previous step's float copy, not memory."""
        self._took = True
        self.fused_steps += 1

    def after(self, fp) -> None:
        """Account for the writes of the instruction just compiled (footprint ``fp``)."""
        for r in fp.writes:
            for key in [k for k, (dst, _) in self.bounds.items() if overlaps(dst, r)]:
                del self.bounds[key]
        if self._next_bound is not None:
            key, bound = self._next_bound
            self.bounds[key] = (fp.writes[0], bound)
        self.prev_gather, self.prev_float = self._next_gather, self._next_float
        self._next_gather = self._next_bound = self._next_float = None
        self._took = False
        self.index += 1


class _ReadIndex:
    """The reads of every step by memory page, in step order: which later step reads a range is
    found without scanning every later step."""

    PAGE = 1 << 16

    def __init__(self, footprints):
        self.pages: dict[tuple[str, int], tuple[list[int], list]] = {}
        for step, fp in enumerate(footprints):
            for r in fp.reads:
                for page in range(r.lo // self.PAGE, max(r.lo, r.hi - 1) // self.PAGE + 1):
                    steps, ranges = self.pages.setdefault((r.space, page), ([], []))
                    steps.append(step)
                    ranges.append(r)

    def any_overlap(self, w, first: int) -> bool:
        for page in range(w.lo // self.PAGE, max(w.lo, w.hi - 1) // self.PAGE + 1):
            entry = self.pages.get((w.space, page))
            if entry is None:
                continue
            steps, ranges = entry
            for r in ranges[bisect.bisect_left(steps, first) :]:
                if overlaps(w, r):
                    return True
        return False
