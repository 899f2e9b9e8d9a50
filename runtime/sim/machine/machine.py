"""The simulated chip's state: memories, arrays and events, as one explicit object.

Memories are flat little-endian byte arrays (numpy uint8) sized from the target. Arrays keep their
cells as an int8 matrix, allocated on first write (a 384-array chip costs nothing until used), plus
effective float32 weights when the device model is active. All reads and writes go through the
checked helpers here, so a bad address becomes a `SimError` rather than a numpy exception.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ...isa.table import DTYPES
from . import numerics
from .noise import DeviceModel

MODES = ("ideal", "adc", "noisy", "drift")


class SimError(Exception):
    """A run-time error of the simulated program (bad address, bad index, deadlock, ...)."""


def np_dtype(name: str) -> np.dtype:
    """The little-endian numpy dtype of an ISA dtype name."""
    return np.dtype(DTYPES[name].numpy).newbyteorder("<")


def itemsize(name: str) -> int:
    """Bytes per element of an unpacked ISA dtype."""
    return DTYPES[name].bits // 8


class ArrayState:
    """One array: geometry from its target group, cells (int8) allocated on first write."""

    def __init__(self, index: int, group):
        self.index = index
        self.group = group
        self.kind = group.kind
        self.rows, self.cols = group.rows, group.cols
        self.cells: np.ndarray | None = None
        self.weights: np.ndarray | None = None  # effective weights (noisy modes only)
        self._nnz: dict[tuple[int, int, int, int], int] = {}
        # per window: float32 copy of the cells and max |cell|, kept between writes, so MVM
        # jobs reuse them instead of converting the window for every instruction
        self._f32: dict[tuple[int, ...], np.ndarray] = {}
        self._absmax: dict[tuple[int, int, int, int], int] = {}

    def window(self, r0: int, c0: int, rows: int, cols: int) -> tuple[slice, slice]:
        """Slices of a window, checked against the array size."""
        if r0 + rows > self.rows or c0 + cols > self.cols:
            raise SimError(
                f"window rows {r0}..{r0 + rows} cols {c0}..{c0 + cols} exceeds array "
                f"{self.index} ({self.rows} x {self.cols})"
            )
        return slice(r0, r0 + rows), slice(c0, c0 + cols)

    def nnz(self, r0: int, c0: int, rows: int, cols: int) -> int:
        """Non-zero cells in a window (what FAT's zero skipping pays for), cached."""
        key = (r0, c0, rows, cols)
        if key not in self._nnz:
            win = self.window(*key)
            self._nnz[key] = 0 if self.cells is None else int(np.count_nonzero(self.cells[win]))
        return self._nnz[key]

    def absmax(self, r0: int, c0: int, rows: int, cols: int) -> int:
        """Largest |cell| in a window, cached until the next write."""
        key = (r0, c0, rows, cols)
        if key not in self._absmax:
            win = self.cells[self.window(*key)]
            self._absmax[key] = max(-int(win.min(initial=0)), int(win.max(initial=0)))
        return self._absmax[key]

    def window_f32(self, r0: int, c0: int, rows: int, cols: int, shift: int = 0) -> np.ndarray:
        """A window's cells times 2^-shift as float32, cached until the next write.

        Exact (small integers times a power of two), so a GEMM with it gives exactly the column
        sums times 2^-shift: the ADC's first step, for free.
        """
        key = (r0, c0, rows, cols, shift)
        if key not in self._f32:
            w = self.cells[self.window(r0, c0, rows, cols)].astype(np.float32)
            if shift:
                w *= np.float32(2.0**-shift)
            self._f32[key] = w
        return self._f32[key]

    def written(self) -> None:
        """Drop what was derived from the cells (call after changing them)."""
        self._nnz.clear()
        self._absmax.clear()
        self._f32.clear()


class Machine:
    """Memories, arrays, events and the device model of one run.

    ``mode``: ``ideal`` (exact ADC), ``adc`` (target ADC bits), ``noisy`` (device noise and faults,
    seeded), ``drift`` (noisy plus conductance drift at ``drift_time`` seconds).
    """

    def __init__(self, target, mode: str = "adc", seed: int = 0, drift_time: float | None = None):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r} (expected one of {', '.join(MODES)})")
        self.target = target
        self.mode = mode
        self.mem = {name: np.zeros(target.mem_size(name), dtype=np.uint8) for name in ("L2", "L1")}
        self.device = DeviceModel(mode, seed, drift_time)
        self.events: set[int] = set()
        self.halted = False
        #: The program's call table (what each cl.call runs), set by whoever loads the program.
        self.calls: list = []
        self._arrays: dict[int, ArrayState] = {}

    # --- memory ---------------------------------------------------------------------------
    def region(self, mem: str, addr: int, nbytes: int) -> np.ndarray:
        """A writable uint8 view of ``nbytes`` bytes at ``mem:addr`` (bounds-checked)."""
        size = self.mem[mem].size
        if addr < 0 or nbytes < 0 or addr + nbytes > size:
            raise SimError(f"bytes {addr}..{addr + nbytes} lie outside {mem} ({size} bytes)")
        return self.mem[mem][addr : addr + nbytes]

    def load(self, mem: str, addr: int, dtype: str, shape) -> np.ndarray:
        """A copy of a dense array of ``dtype`` and ``shape`` read from ``mem:addr``."""
        return self.view(mem, addr, dtype, shape).copy()

    def view(self, mem: str, addr: int, dtype: str, shape) -> np.ndarray:
        """A read-only view of a dense array in memory, for operands consumed before any store.

        Saves a copy of every large operand; the kernels build their results in new arrays, so
        a destination overlapping the source is still read before it is written.
        """
        shape = tuple(int(d) for d in np.atleast_1d(shape))
        count = int(np.prod(shape))
        raw = self.region(mem, addr, count * itemsize(dtype))
        out = raw.view(np_dtype(dtype)).reshape(shape)
        out.flags.writeable = False
        return out

    def store(self, mem: str, addr: int, values: np.ndarray, dtype: str) -> None:
        """Write ``values`` (cast exactly, caller saturates first) densely at ``mem:addr``."""
        data = np.ascontiguousarray(values, dtype=np_dtype(dtype)).reshape(-1)
        self.region(mem, addr, data.nbytes)[:] = data.view(np.uint8)

    def load_rows(self, mem, addr, dtype, rows, cols, stride) -> np.ndarray:
        """A rows × cols matrix whose rows start ``stride`` bytes apart."""
        width = cols * itemsize(dtype)
        if rows == 0 or width == 0:
            return np.zeros((rows, cols), dtype=np_dtype(dtype))
        raw = self.region(mem, addr, (rows - 1) * stride + width)
        view = as_strided(raw, shape=(rows, width), strides=(stride, 1), writeable=False)
        return np.ascontiguousarray(view).view(np_dtype(dtype)).reshape(rows, cols)

    def store_rows(self, mem, addr, values: np.ndarray, dtype, stride) -> None:
        """Write a matrix with rows ``stride`` bytes apart (rows must not overlap)."""
        rows, cols = values.shape
        width = cols * itemsize(dtype)
        if rows == 0 or width == 0:
            return
        if rows > 1 and stride < width:
            raise SimError(
                f"row stride {stride} is smaller than a row ({width} bytes): rows overlap"
            )
        raw = self.region(mem, addr, (rows - 1) * stride + width)
        view = as_strided(raw, shape=(rows, width), strides=(stride, 1))
        data = np.ascontiguousarray(values, dtype=np_dtype(dtype))
        view[:] = data.view(np.uint8).reshape(rows, width)

    # --- arrays -----------------------------------------------------------------------------
    def array(self, index: int) -> ArrayState:
        """The state of global array ``index`` (created on first use)."""
        if index not in self._arrays:
            try:
                group = self.target.group_of(index)
            except IndexError as err:
                raise SimError(str(err)) from None
            self._arrays[index] = ArrayState(index, group)
        return self._arrays[index]

    def used_arrays(self) -> list[int]:
        """Indices of arrays that have been written, sorted."""
        return sorted(i for i, a in self._arrays.items() if a.cells is not None)

    def write_cells(self, index: int, r0: int, c0: int, values: np.ndarray, bounds=None) -> None:
        """Store integer ``values`` in a window; they must fit the group's cell range.

        ``bounds`` (lo, hi), when known, spare the scan of values a packed format cannot exceed.
        """
        arr = self.array(index)
        win = arr.window(r0, c0, *values.shape)
        lo, hi = arr.group.cell_min, arr.group.cell_max
        inside = bounds is not None and lo <= bounds[0] and bounds[1] <= hi
        if values.size and not inside and (values.min() < lo or values.max() > hi):
            bad = values[(values < lo) | (values > hi)].reshape(-1)[0]
            raise SimError(f"value {bad} does not fit the {lo}..{hi} cells of array {index}")
        if arr.cells is None:
            arr.cells = np.zeros((arr.rows, arr.cols), dtype=np.int8)
        arr.cells[win] = values
        arr.written()
        if self.device.affects(arr.group):
            if arr.weights is None:
                arr.weights = arr.cells.astype(np.float32)
            arr.weights[win] = self.device.program(index, arr.group, values, r0, c0)

    def evaluate(self, index: int, r0: int, c0: int, cols: int, x: np.ndarray, shift: int):
        """Column sums of a window for input vectors ``x`` (jobs × rows) after the ADC, int32."""
        arr = self.array(index)
        win = arr.window(r0, c0, x.shape[1], cols)
        if arr.cells is None:
            arr.cells = np.zeros((arr.rows, arr.cols), dtype=np.int8)
        if arr.weights is not None:
            y = x.astype(np.float32) @ arr.weights[win]
            y = self.device.read(arr.group, x, y.astype(np.float64))
        elif numerics.f32_exact(x, max(-arr.group.cell_min, arr.group.cell_max)) or (
            numerics.f32_exact(x, arr.absmax(r0, c0, x.shape[1], cols))
        ):
            # the common case: exact integer sums below 2^24 straight from a float32 GEMM
            y = x.astype(np.float32) @ arr.window_f32(r0, c0, x.shape[1], cols)
            if arr.kind == "digital" or self.mode == "ideal":
                return y.astype(np.int32)  # |y| <= 2^24: no saturation possible
            return numerics.adc(y, shift, arr.group.adc_bits)
        else:
            y = numerics.exact_matmul(x, arr.cells[win])
        if arr.kind == "digital" or self.mode == "ideal":
            return numerics.saturate(y, np.int32)
        return numerics.adc(y, shift, arr.group.adc_bits)
