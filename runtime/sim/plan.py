"""Prepared instructions: each one turned once into a closure over views of the machine's memory.

`semantics.py` says what an instruction does, starting from its fields every time. A `Session`
runs the same instructions over and over, so `compile_step` does the field work once: it makes
the typed (and strided) numpy views of every operand, tiles per-channel constants that never
change, picks the kernel and binds it all in a closure ``step()``. The kernels are the same
`numerics` functions the semantics use, writing straight into memory through ``out=`` and reusing
`Scratch` buffers, so a step computes exactly what `semantics.execute` computes (the tests compare
the two byte for byte). Anything unusual (noisy arrays, zero-size operands, overlapping operands,
integer overflow paths) takes the plain semantic function.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import numerics as nx
from .dataflow import overlaps
from .footprint import out_hw
from .machine import Machine, np_dtype
from .semantics import SEMANTICS

F32 = np.float32
# Elements of a tiled per-channel constant: long enough for numpy's contiguous inner loops.
TILE_ELEMS = 4096


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


class Context:
    """What compiling a step needs: the machine, shared scratch, and facts about the program.

    ``constant(space, lo, hi)``: whether no instruction of the run writes those bytes, so their
    current value (after weight programming) is what every run reads. While `compile_body`
    walks the instructions in order, ``bounds`` holds the largest |value| of int32 matrices that
    earlier xb.mvm steps wrote and nothing has overwritten since (an accumulating xb.mvm whose
    sums provably cannot saturate adds in int32), and ``prev_gather`` the input gather of the
    previous instruction when it was an xb.mvm whose float32 inputs are still in scratch.
    """

    def __init__(self, machine: Machine, constant=lambda space, lo, hi: False, scratch=None):
        self.machine = machine
        self.scratch = scratch or Scratch()
        self.constant = constant
        self.bounds: dict[tuple, tuple] = {}  # key -> (written Range, bound)
        self.prev_gather = None
        self.gathered = None  # at run time: the gather whose float32 copy is in scratch
        self._next_gather = None
        self._next_bound = None

    def after(self, fp) -> None:
        """Account for the writes of the instruction just compiled (footprint ``fp``)."""
        for r in fp.writes:
            for key in [k for k, (dst, _) in self.bounds.items() if overlaps(dst, r)]:
                del self.bounds[key]
        if self._next_bound is not None:
            key, bound = self._next_bound
            self.bounds[key] = (fp.writes[0], bound)
        self.prev_gather = self._next_gather
        self._next_gather = self._next_bound = None


def compile_body(machine: Machine, instrs, footprints, constant, passes=2) -> tuple[list, Context]:
    """Steps for ``instrs`` (run in this order every time) and the context they share.

    With two passes the first finds how large the shared scratch buffers must be, so all steps
    share them; one pass (for a single run) lets early steps keep buffers that later grew.
    """
    sizes = None
    for _ in range(passes):
        ctx = Context(machine, constant, Scratch(sizes))
        steps = []
        for ins, fp in zip(instrs, footprints):
            steps.append(compile_step(ctx, ins))
            ctx.after(fp)
        sizes = ctx.scratch.sizes()
    return steps, ctx


def compile_step(ctx: Context, ins):
    """A no-argument callable that executes ``ins`` on ``ctx.machine``.

    Steps expect float warnings to be off (`np.errstate`): overflow to ±inf and NaN are part of
    the ISA's float semantics.
    """
    make = _COMPILERS.get(ins.mnemonic)
    step = make(ctx, ins.fields) if make is not None else None
    return step if step is not None else generic_step(ctx.machine, ins)


def generic_step(m: Machine, ins):
    """The instruction's plain semantic function, bound to its machine and fields."""
    return partial(SEMANTICS[ins.mnemonic], m, ins.fields)


# --- views -----------------------------------------------------------------------------------


def view(m: Machine, mem: str, addr: int, dtype: str, shape, row_stride: int | None = None):
    """A writable typed view of memory: dense, or rows ``row_stride`` bytes apart (2-D shape)."""
    dt = np_dtype(dtype)
    shape = tuple(int(d) for d in shape)
    if row_stride is None or len(shape) != 2 or row_stride == shape[1] * dt.itemsize:
        raw = m.region(mem, addr, math.prod(shape) * dt.itemsize)
        return raw.view(dt).reshape(shape)
    rows, width = shape[0], shape[1] * dt.itemsize
    raw = m.region(mem, addr, (rows - 1) * row_stride + width)
    return as_strided(raw, shape=(rows, width), strides=(row_stride, 1)).view(dt)


def _span(f, prefix: str, nbytes: int) -> tuple[str, int, int]:
    return f[prefix + "_mem"], f[prefix + "_addr"], f[prefix + "_addr"] + nbytes


def _overlap(a, b) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


def _tile_rows(rows: int, channels: int) -> int:
    """How many rows of a rows × channels matrix to put on one line: a divisor of ``rows``."""
    k = max(1, min(rows, TILE_ELEMS // channels))
    while rows % k:
        k -= 1
    return k


# --- arrays ----------------------------------------------------------------------------------


def _mvm(ctx: Context, f):
    m = ctx.machine
    arr = m.array(f["array"])
    g = arr.group
    jobs, rows, cols = f["n_outer"] * f["n_inner"], f["rows"], f["cols"]
    plain = g.kind == "digital" or m.mode == "ideal"  # no ADC
    shift, bits = f["adc_shift"], (0 if plain else g.adc_bits)
    x_bound = 128 if f["src_dtype"] == "i8" else 255
    # what the result can hold: the ADC's range, or every product at its largest
    cell_max = max(-g.cell_min, g.cell_max)
    y_bound = rows * x_bound * cell_max if plain else 2 ** (bits - 1 + shift)
    dst_hull = f["dst_addr"] + (jobs - 1) * f["dst_stride"] + 4 * cols
    key = (f["dst_mem"], f["dst_addr"], dst_hull, jobs, cols, f["dst_stride"])
    old_bound = ctx.bounds.get(key, (None, None))[1] if f["acc"] else 0
    total = None if old_bound is None else old_bound + y_bound
    ctx._next_bound = (key, min(total if total is not None else INT32_ABS, INT32_ABS))
    if (
        m.device.affects(g)
        or not jobs
        or not cols
        or (not plain and not nx.adc_f32_ok(shift, bits))
    ):
        return None
    # float32 GEMMs are exact whatever the cells when the input dtype bounds the sums
    if rows * x_bound * cell_max > nx.F32_EXACT:
        return None
    shape4 = (f["n_outer"], f["n_inner"], f["seg_count"], f["seg_len"])
    strides4 = (f["outer_stride"], f["inner_stride"], f["seg_stride"], 1)
    extent = sum((n - 1) * s for n, s in zip(shape4, strides4)) + 1
    raw = m.region(f["src_mem"], f["src_addr"], extent)
    src = as_strided(raw, shape=shape4, strides=strides4, writeable=False)
    src = src.view(np_dtype(f["src_dtype"]))
    gather = (f["src_mem"], f["src_addr"], f["src_dtype"], shape4, strides4)
    reuse = ctx.prev_gather == gather
    if not (
        f["dst_mem"] == f["src_mem"]
        and f["dst_addr"] < f["src_addr"] + extent
        and f["src_addr"] < dst_hull
    ):
        ctx._next_gather = gather  # the next step may reuse the float32 inputs
    dst = view(m, f["dst_mem"], f["dst_addr"], "i32", (jobs, cols), f["dst_stride"])
    window = (f["row0"], f["col0"], rows, cols)
    x = ctx.scratch.get("mvm.x", (jobs, rows))
    x4 = x.reshape(shape4)
    y = ctx.scratch.get("mvm.y", (jobs, cols))
    acc, scaled = f["acc"], (0 if plain else shift)

    def adc_to(out):  # the ADC (if any) of y, into out; |y| <= 2^24 without one
        if plain:
            return _nothing if out is y else partial(np.copyto, out, y, casting="unsafe")
        return nx.adc_kernel(y, shift, bits, True, out)

    if not acc:  # the result goes straight to memory
        finish = adc_to(dst)
    elif total is not None and total <= INT32_MAX:  # no sum can saturate: int32 adds
        yi = ctx.scratch.get("mvm.yi", (jobs, cols), np.int32)
        finish = _chain(adc_to(yi), partial(np.add, dst, yi, out=dst))
    else:
        finish = _chain(adc_to(y), partial(nx.accumulate_i32_into, dst, y))
    fallback = generic_step(m, _Ins("xb.mvm", f))

    def step() -> None:
        if arr.cells is None:  # never written: the semantics allocate the zero cells
            ctx.gathered = None
            return fallback()
        if not (reuse and ctx.gathered == gather):
            np.copyto(x4, src, casting="unsafe")  # the gather, cast to float32
            ctx.gathered = gather
        np.matmul(x, arr.window_f32(*window, scaled), out=y)
        finish()

    return step


INT32_MAX = 2**31 - 1
INT32_ABS = 2**31  # the largest |int32|: what an unknown int32 matrix is bounded by


def _chain(*fns):
    """One function calling ``fns`` in order."""

    def run() -> None:
        for fn in fns:
            fn()

    return run


# --- cluster kernels -------------------------------------------------------------------------


def _requant(ctx: Context, f):
    m = ctx.machine
    rows, ch = f["rows"], f["channels"]
    if not rows:
        return None
    spans = [_span(f, "scale", 4 * ch)] + ([_span(f, "bias", 4 * ch)] if f["has_bias"] else [])
    fixed = all(ctx.constant(*span) for span in spans)
    # constants that never change are tiled over several rows once: longer numpy loops
    k = _tile_rows(rows, ch) if fixed else 1
    shape = (rows // k, k * ch)
    x = view(m, f["src_mem"], f["src_addr"], f["src_dtype"], shape)
    dst = view(m, f["dst_mem"], f["dst_addr"], f["dst_dtype"], shape)
    scale = view(m, f["scale_mem"], f["scale_addr"], "f32", (ch,))
    bias = view(m, f["bias_mem"], f["bias_addr"], "f32", (ch,)) if f["has_bias"] else None
    if fixed:
        scale = np.tile(scale, k)
        bias = None if bias is None else np.tile(bias, k)
        nan = not (np.isfinite(scale).all() and (bias is None or np.isfinite(bias).all()))
    else:
        nan = True  # look for NaN every time: scale or bias change while running
    # an f32 result is computed in place in dst once the constants cannot be clobbered
    work = dst if f["dst_dtype"] == "f32" and fixed else ctx.scratch.get("work", shape)
    return nx.requant_kernel(dst, x, scale, bias, f["zp"], f["lo"], f["hi"], work, nan)


def _quant(ctx: Context, f):
    m = ctx.machine
    n = f["count"]
    if not n:
        return None
    x = view(m, f["src_mem"], f["src_addr"], "f32", (n,))
    dst = view(m, f["dst_mem"], f["dst_addr"], f["dst_dtype"], (n,))
    return nx.quant_kernel(dst, x, f["scale"], f["zp"], ctx.scratch.get("work", (n,)))


def _dwconv(ctx: Context, f):
    m = ctx.machine
    h, w, c, kh, kw = f["h"], f["w"], f["c"], f["kh"], f["kw"]
    oh, ow = out_hw(f)
    src_span = _span(f, "src", h * w * c)
    dst_span = _span(f, "dst", 4 * oh * ow * c)
    if _overlap(src_span, dst_span):
        return None  # the blocks would read rows already overwritten
    x = view(m, f["src_mem"], f["src_addr"], "i8", (h, w, c))
    wgt = view(m, f["wgt_mem"], f["wgt_addr"], "i8", (kh, kw, c))
    dst = view(m, f["dst_mem"], f["dst_addr"], "i32", (oh, ow, c))
    fixed = nx.dwconv_weights(wgt, ow) if ctx.constant(*_span(f, "wgt", kh * kw * c)) else None
    geometry = (f["stride_h"], f["stride_w"]), (f["pad_t"], f["pad_l"], f["pad_b"], f["pad_r"])
    dil, pad = (f["dil_h"], f["dil_w"]), f["pad_value"]

    def step() -> None:
        wtile = fixed if fixed is not None else nx.dwconv_weights(wgt, ow)
        nx.dwconv(x, wgt, *geometry, dil, pad, out=dst, wtile=wtile)

    return step


def _eltwise(ctx: Context, f):
    if f["dtype"] != "f32" or not f["rows"]:
        return None  # int32 saturates through int64: plain semantics
    m = ctx.machine
    shape = (f["rows"], f["n"])
    a = view(m, f["src_mem"], f["src_addr"], "f32", shape)
    b = view(m, f["src2_mem"], f["src2_addr"], "f32", (f["n"],) if f["bcast"] else shape)
    dst = view(m, f["dst_mem"], f["dst_addr"], "f32", shape)
    fn = nx.ELTWISE_UFUNCS[f["op"]]

    def step() -> None:
        with np.errstate(all="ignore"):  # numpy ufuncs give overlapping operands copy semantics
            fn(a, b, out=dst)

    return step


def _gelu(ctx: Context, f):
    m = ctx.machine
    n = f["count"]
    src, dst = _span(f, "src", 4 * n), _span(f, "dst", 4 * n)
    if not n or (_overlap(src, dst) and src != dst):
        return None  # blocks must not read what earlier blocks wrote
    x = view(m, f["src_mem"], f["src_addr"], "f32", (n,))
    out = view(m, f["dst_mem"], f["dst_addr"], "f32", (n,))
    return lambda: nx.gelu(x, out=out)


def _dma(ctx: Context, f):
    m = ctx.machine
    if not f["rows"] or not f["row_bytes"]:
        return None
    shape = (f["rows"], f["row_bytes"])
    src = view(m, f["src_mem"], f["src_addr"], "u8", shape, f["src_stride"])
    dst = view(m, f["dst_mem"], f["dst_addr"], "u8", shape, f["dst_stride"])
    return partial(np.copyto, dst, src)  # static checks rule out overlap


def _copy(ctx: Context, f):
    m = ctx.machine
    if not f["bytes"]:
        return None
    src = view(m, f["src_mem"], f["src_addr"], "u8", (f["bytes"],))
    dst = view(m, f["dst_mem"], f["dst_addr"], "u8", (f["bytes"],))
    return partial(np.copyto, dst, src)  # static checks rule out overlap


def _barrier(ctx: Context, f):
    return _nothing


def _nothing() -> None:
    """A barrier: only timing."""


class _Ins:
    """The (mnemonic, fields) pair `generic_step` needs."""

    def __init__(self, mnemonic: str, fields):
        self.mnemonic, self.fields = mnemonic, fields


_COMPILERS = {
    "barrier": _barrier,
    "dma": _dma,
    "cl.copy": _copy,
    "xb.mvm": _mvm,
    "cl.requant": _requant,
    "cl.quant": _quant,
    "cl.eltwise": _eltwise,
    "cl.dwconv": _dwconv,
    "dw.conv": _dwconv,
    "cl.gelu": _gelu,
    "nl.gelu": _gelu,
}
