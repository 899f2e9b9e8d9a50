"""Prepared instructions: each one turned once into a closure over views of the machine's memory.

`machine/semantics.py` says what an instruction does, starting from its fields every time. A
`Session` runs the same instructions over and over, so `compile_step` does the field work once: it
makes the typed (and strided) numpy views of every operand, tiles per-channel constants that never
change, picks the kernel and binds it all in a closure ``step()``. The kernels are the same
`numerics` functions the semantics use, writing straight into memory through ``out=`` and reusing
`Scratch` buffers, so a step computes exactly what `semantics.execute` computes (the tests compare
the two byte for byte). Anything unusual (noisy arrays, zero-size operands, overlapping operands,
integer overflow paths) takes the plain semantic function.

Steps of a session go further. Where numpy has no fast kernel, an `engines` kernel
(onnxruntime) computes the same integers, where they are provably exact: xb.mvm windows as int8
matrix products (without numba, dw.conv as a float32 depthwise convolution). Chains of
elementwise operations (the ADC, requantizations) and dw.conv run as one numba-compiled pass
(`fused`) doing the same float32 operations in the same order. Consecutive steps hand over
float32 copies of their integer results, or leave out stores that only the next step would read
(`plan_context`).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..machine import numerics as nx
from ..machine.footprint import Footprint, dense, mvm_jobs, out_hw
from ..machine.machine import Machine, itemsize, np_dtype
from ..machine.semantics import SEMANTICS, call_kernel
from . import engines, fused
from .merge import plan_merges
from .plan_context import Context, Scratch
from .steady import steady_windows

F32 = np.float32
# Elements of a tiled per-channel constant: long enough for numpy's contiguous inner loops
# (measured: binary ops with a broadcast row of >= 8192 elements run ~30 % faster than 4096).
TILE_ELEMS = 16384


def compile_body(
    machine: Machine, instrs, footprints, constant, passes=2, engines=None, live_out=None
) -> tuple[list, Context]:
    """Steps for ``instrs`` (run in this order every time) and the context they share.

    With two passes the first finds how large the shared scratch buffers must be, so all steps
    share them; one pass (for a single run) lets early steps keep buffers that later grew.
    ``engines``: whether steps may run onnxruntime kernels (`engines`), which take a few
    milliseconds each to build and check, and numba-compiled passes (`fused`, which load the
    compiler once per process); by default only when compiling for many runs
    (``passes > 1``). Kernels are built once and shared by both passes. ``live_out``: the
    (space, lo, hi) byte ranges read after the body (the program's outputs); when given, a
    step whose result only the next step reads, from a float copy, does not store it. None:
    every byte may be read afterwards, every step stores everything. Every run must start from
    the array cells the machine holds now where it reads them before writing them (`steady`):
    a `Session` puts them back before each run.
    """
    sizes = None
    kernels: dict = {}
    engines = passes > 1 if engines is None else engines
    if live_out is not None:
        live_out = [dense(space, lo, hi - lo) for space, lo, hi in live_out]
    merges = plan_merges(machine, instrs, footprints, constant)
    windows, progs = steady_windows(machine, instrs, constant)
    for _ in range(passes):
        ctx = Context(machine, constant, Scratch(sizes), engines, kernels, footprints, live_out)
        ctx.steady_windows, ctx.steady_progs = windows, progs
        steps = []
        for k, (ins, fp) in enumerate(zip(instrs, footprints)):
            ctx.next = instrs[k + 1] if k + 1 < len(instrs) else None
            merged = merges.get(k)
            if merged is None:
                steps.append(compile_step(ctx, ins))
            elif merged.member:  # done by its head; its writes were the head's
                steps.append(_nothing)
                fp = Footprint(fp.unit, fp.reads, [])
            else:
                ctx.merged = True  # what it writes is no single instruction's
                steps.append(compile_step(ctx, merged.head))
                ctx.merged = False
                fp = merged.footprint
            ctx.after(fp)
        ctx.merged_steps = sum(m.member for m in merges.values())
        sizes = ctx.scratch.sizes()
    return steps, ctx


def compile_step(ctx: Context, ins):
    """A no-argument callable that executes ``ins`` on ``ctx.machine``.

    Steps expect float warnings to be off (`np.errstate`): overflow to ±inf and NaN are part of
    the ISA's float semantics.
    """
    make = _COMPILERS.get(ins.mnemonic)
    step = make(ctx, ins.fields) if make is not None else None
    if step is None:
        ctx.plain_step()
        step = generic_step(ctx.machine, ins)
    store = ctx.pending_store()
    return step if store is None else _chain(store, step)


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
    jobs, rows, cols = mvm_jobs(f), f["rows"], f["cols"]
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
    shape4 = (f["n_batch"], f["n_outer"], f["n_inner"], f["seg_count"], f["seg_len"])
    strides4 = (f["batch_stride"], f["outer_stride"], f["inner_stride"], f["seg_stride"], 1)
    extent = sum((n - 1) * s for n, s in zip(shape4, strides4)) + 1
    raw = m.region(f["src_mem"], f["src_addr"], extent)
    src = as_strided(raw, shape=shape4, strides=strides4, writeable=False)
    window = (f["row0"], f["col0"], rows, cols)
    acc, scaled = f["acc"], (0 if plain else shift)
    dst = view(m, f["dst_mem"], f["dst_addr"], "i32", (jobs, cols), f["dst_stride"])
    y = ctx.scratch.get("mvm.y", (jobs, cols))
    yi = ctx.scratch.get("mvm.yi", (jobs, cols), np.int32) if acc or plain else None
    # the float32 result y can stand for dst in the next step; if nothing else reads dst, the
    # step leaves storing it to whoever does
    contiguous = jobs == 1 or f["dst_stride"] == 4 * cols
    copy = not acc and contiguous and _steady(ctx, arr, window)
    drop = copy and not ctx.merged and ctx.dead_after_next()
    # a compiled ADC pass reads int32 sums as fast as float32 ones, and onnxruntime's int32
    # product is the faster (no float output stage)
    ints = ctx.engines and not plain and not drop and fused.load() is not None
    if ints:
        yi = ctx.scratch.get("mvm.yi", (jobs, cols), np.int32)
    kshift = None if ints else shift if not plain else 0 if drop else None  # float32 scale
    kernel, out = _mvm_product(ctx, f, arr, window, kshift, (yi if ints else dst, yi, y))
    product = None
    if kernel is not None:  # the input bytes as uint8, int8 ones flipped by 0x80 (= x + 128)
        x = ctx.scratch.get("mvm.xu", (jobs, rows), np.uint8)
        if f["src_dtype"] == "i8":
            load = partial(np.bitwise_xor, src, np.uint8(0x80), out=x.reshape(shape4))
        else:
            load = partial(np.copyto, x.reshape(shape4), src)
        product = kernel.bind({"x": x}, {"y": out})  # None only for buffers it cannot bind
        ctx.engine_steps += product is not None
    if product is None:  # a float32 GEMM on the inputs cast to float32
        x = ctx.scratch.get("mvm.x", (jobs, rows))
        typed = src.view(np_dtype(f["src_dtype"]))
        load = partial(np.copyto, x.reshape(shape4), typed, casting="unsafe")
        product, out = partial(_matmul_window, arr, x, window, scaled, y), y
    gather = (x.dtype.str, f["src_mem"], f["src_addr"], f["src_dtype"], shape4, strides4)
    reuse = ctx.prev_gather == gather
    if not (
        f["dst_mem"] == f["src_mem"]
        and f["dst_addr"] < f["src_addr"] + extent
        and f["src_addr"] < dst_hull
    ):
        ctx._next_gather = gather  # the next step may reuse the gathered inputs

    def adc_to(res, keep=False):  # the ADC (if any) of the sums, into res (and y with keep)
        if plain:  # |y| <= 2^24 without one
            return _nothing if res is out else partial(np.copyto, res, out, casting="unsafe")
        if out is yi:  # int32 sums (ints), the float32 result into y with keep
            kernel = fused.adc_kernel(yi, shift, bits, False, res, keep=y if keep else False)
            if kernel is None:  # numpy's ADC, on the sums as float32
                to_float = partial(np.copyto, y, yi, casting="unsafe")
                kernel = _chain(to_float, nx.adc_kernel(y, shift, bits, False, res))
            return kernel
        return _adc(ctx, y, shift, bits, res, keep=keep)

    if drop and out is y:  # y as the result: q · 2^shift, or q when the next step rescales
        exp = (
            shift
            if not plain and _folds(ctx, f["dst_mem"], f["dst_addr"], jobs * cols, shift)
            else 0
        )
        finish = _nothing if plain else _adc(ctx, y, shift, bits, y, rescale=not exp)
        store = partial(np.copyto, dst, y, casting="unsafe")
        if exp:
            store = _chain(partial(np.multiply, y, F32(2.0**exp), out=y), store)
            ctx.folded_scales += 1
        ctx.leave_float(f["dst_mem"], f["dst_addr"], "i32", jobs * cols, y, exp, store)
    elif not acc:  # the result goes straight to memory, and to y for the next step
        floats = copy and (out is y or (ints and out is yi and _requantized(ctx, f, jobs * cols)))
        finish = adc_to(dst, keep=floats)
        if floats:
            ctx.leave_float(f["dst_mem"], f["dst_addr"], "i32", jobs * cols, y)  # int32(y)
    elif total is not None and total <= INT32_MAX:  # no sum can saturate: int32 adds
        finish = _chain(adc_to(yi), partial(np.add, dst, yi, out=dst))
    else:
        finish = _chain(adc_to(out), partial(nx.accumulate_i32_into, dst, out))
    fallback = generic_step(m, _Ins("xb.mvm", f))

    def step() -> None:
        if arr.cells is None:  # never written: the semantics allocate the zero cells
            ctx.gathered = None
            return fallback()
        if not (reuse and ctx.gathered == gather):
            load()  # the gather, as float32 or uint8
            ctx.gathered = gather
        product()
        finish()

    return step


def _adc(ctx: Context, y, shift: int, bits: int, out, rescale=True, keep=True):
    """The ADC of float32 sums ``y`` already scaled by 2^-shift, into ``out``: one compiled
    pass (`fused`) in a session that may use compiled kernels, else numpy's. ``keep``:
    whether ``y`` must hold the result too (numpy's pass leaves it there anyway)."""
    kernel = None
    if ctx.engines:
        kernel = fused.adc_kernel(y, shift, bits, True, out, rescale=rescale, keep=keep)
    return kernel or nx.adc_kernel(y, shift, bits, True, out, rescale=rescale)


def _prog(ctx: Context, f):
    """xb.prog of weights that are the same in every run (`steady`): decoded and checked once,
    stored into the window by one assignment."""
    values = ctx.steady_progs.get(ctx.index)
    if values is None:
        return None
    arr = ctx.machine.array(f["array"])
    return _store_cells(arr, arr.window(f["row0"], f["col0"], f["rows"], f["cols"]), values)


def _write(ctx: Context, f):
    """xb.write of int8 rows into an array whose cells hold every int8 value (no range scan),
    without device effects: one strided view of memory assigned to the window."""
    m = ctx.machine
    arr = m.array(f["array"])
    g = arr.group
    rows, cols = f["rows"], f["cols"]
    if m.device.affects(g) or not rows or not cols or g.cell_min > -128 or g.cell_max < 127:
        return None
    if f["row0"] + rows > arr.rows or f["col0"] + cols > arr.cols:
        return None  # the semantics say what is wrong
    src = view(m, f["src_mem"], f["src_addr"], "i8", (rows, cols), f["src_stride"])
    return _store_cells(arr, arr.window(f["row0"], f["col0"], rows, cols), src)


def _store_cells(arr, win, values):
    """A step storing ``values`` (fixed cells, or a view of memory read when the step runs)
    into the window ``win`` of array ``arr``, which gets zero cells first if it has none."""

    def step() -> None:
        if arr.cells is None:
            arr.cells = np.zeros((arr.rows, arr.cols), dtype=np.int8)
        arr.cells[win] = values
        arr.written()

    return step


def _matmul_window(arr, x, window, scaled, y) -> None:
    np.matmul(x, arr.window_f32(*window, scaled), out=y)


def _steady(ctx: Context, arr, window) -> bool:
    """Whether the window of the instruction being compiled holds the same cells in every run
    (so a step never falls back): no run writes them, or each run reprograms them alike
    before (`steady`)."""
    if ctx.index in ctx.steady_windows:
        return True
    r0, c0, rows, cols = window
    lo = r0 * arr.group.cols + c0
    hi = (r0 + rows - 1) * arr.group.cols + c0 + cols
    return arr.cells is not None and ctx.constant(f"A{arr.index}", lo, hi)


def _folds(ctx: Context, mem: str, addr: int, count: int, exp: int) -> bool:
    """Whether the next instruction requantizes the ``count`` int32 values at mem:addr to
    integers with per-channel scales s that no run changes and that can absorb 2^exp.

    (q · 2^exp) · s and q · (s · 2^exp) are the same real number, rounded once, when s · 2^exp
    is exact, which scaling up is unless it overflows: then the producer may leave q.
    """
    nxt = ctx.next
    if not exp or nxt is None or nxt.mnemonic != "cl.requant":
        return False
    g = nxt.fields
    if (g["src_mem"], g["src_addr"], g["src_dtype"]) != (mem, addr, "i32"):
        return False
    if g["rows"] * g["channels"] != count or g["dst_dtype"] == "f32":
        return False
    spans = [_span(g, "scale", 4 * g["channels"])]
    spans += [_span(g, "bias", 4 * g["channels"])] if g["has_bias"] else []
    if not all(ctx.constant(*span) for span in spans):
        return False
    scale = view(ctx.machine, g["scale_mem"], g["scale_addr"], "f32", (g["channels"],))
    return _foldable(scale, exp)


def _requantized(ctx: Context, f, count: int) -> bool:
    """Whether the next instruction is a requantization that may read the float copy of the
    ``count`` int32 values an xb.mvm with fields ``f`` writes (`_requant` does, for one plane)."""
    g = ctx.next.fields if ctx.next is not None else None
    return (
        g is not None
        and ctx.next.mnemonic in ("cl.requant", "nl.requant")
        and (g["src_mem"], g["src_addr"], g["src_dtype"]) == (f["dst_mem"], f["dst_addr"], "i32")
        and g["rows"] * g["channels"] == count
        and g["planes"] == 1  # `_requant_planes` reads memory
        and not (g["has_offset"] or g["has_row_scale"])
    )


def _foldable(scale: np.ndarray, exp: int) -> bool:
    """Whether every finite s of ``scale`` times 2^exp is finite (so the product is exact)."""
    finite = scale[np.isfinite(scale)]
    with np.errstate(over="ignore"):
        return bool(np.isfinite(finite * F32(2.0**exp)).all())


def _mvm_product(ctx: Context, f, arr, window, shift, outs):
    """An `engines` kernel for an xb.mvm whose window no run changes and what it writes, or
    (None, None).

    Of ``outs`` = (dst, yi, y) it writes the float32 ``y`` (the sums times 2^-shift) when
    ``shift`` is given; else the int32 sums, straight into ``dst`` when nothing is added to it
    and it can be bound, or into ``yi`` (an ADC's caller passes ``yi`` as ``dst``).
    """
    if not ctx.engines or not _steady(ctx, arr, window):
        return None, None
    jobs = mvm_jobs(f)
    cells = ctx.steady_windows.get(ctx.index)
    if cells is None:
        cells = np.ascontiguousarray(arr.cells[arr.window(*window)])
    signed = f["src_dtype"] == "i8"
    key = ("xb.mvm", jobs, signed, shift, cells.tobytes(), cells.shape)
    kernel = ctx.kernel(key, lambda: engines.mvm_kernel(jobs, cells, signed, shift))
    if kernel is None:
        return None, None
    dst, yi, y = outs
    if shift is not None:  # float32 sums (times 2^-shift)
        return kernel, y
    return kernel, (dst if not f["acc"] and engines.bindable(dst) else yi)


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
    if f["planes"] != 1 or f["has_offset"] or f["has_row_scale"]:
        return _requant_planes(ctx, f)
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
    integral = f["dst_dtype"] != "f32"
    copy = ctx.float_of(f["src_mem"], f["src_addr"], f["src_dtype"], rows * ch)
    # the sign of a zero input cannot show in an integer result; a copy that holds the values
    # times 2^-exp needs fixed scales that absorb 2^exp exactly (see `_folds`)
    if integral and copy is not None and (not copy.exp or (fixed and _foldable(scale, copy.exp))):
        ctx.take()
        x = copy.buf.reshape(shape)
        if copy.exp:
            scale = scale * F32(2.0**copy.exp)
    # an f32 result is computed in place in dst once the constants cannot be clobbered
    work = dst if not integral and fixed else ctx.scratch.get("work", shape)
    lo, hi = f["lo"], f["hi"]
    drop = left = False
    if f["dst_dtype"] in ("i8", "u8") and all(math.isinf(b) or b == int(b) for b in (lo, hi)):
        # rounded and clamped to whole bounds within the dtype's range, NaN made 0: the cast
        # changes nothing, so work ends holding exactly the stored integers
        drop, left = ctx.dead_after_next(), True
        store = partial(np.copyto, dst, work, casting="unsafe") if drop else None
        ctx.leave_float(f["dst_mem"], f["dst_addr"], f["dst_dtype"], rows * ch, work, 0, store)
    src_span, dst_span = _span(f, "src", x.nbytes), _span(f, "dst", dst.nbytes)
    # the compiled pass reads the constants row by row: they must not be what it writes
    clobbers = not left and not fixed and any(_overlap(dst_span, span) for span in spans)
    if ctx.engines and integral and not _overlap(src_span, dst_span) and not clobbers:
        # one compiled pass, into work when the next step reads the float copy
        one = fused.requant_kernel(
            work if left else dst, x, 1, scale, None, bias, f["zp"], lo, hi, dst.dtype
        )
        if one is not None:
            return (
                _chain(one, partial(np.copyto, dst, work, casting="unsafe"))
                if left and not drop
                else one
            )
    return nx.requant_kernel(dst, x, scale, bias, f["zp"], lo, hi, work, nan, not drop)


def _requant_planes(ctx: Context, f):
    """A crossbar readout with planes, offsets or row scales (`numerics.requant_planes`)."""
    m = ctx.machine
    rows, ch, planes = f["rows"], f["channels"], f["planes"]
    x = view(m, f["src_mem"], f["src_addr"], f["src_dtype"], (rows, planes * ch))
    dst = view(m, f["dst_mem"], f["dst_addr"], f["dst_dtype"], (rows, ch))
    if _overlap(_span(f, "src", x.nbytes), _span(f, "dst", dst.nbytes)):
        return None  # planes are read after the first result rows are written
    spans = [_span(f, "scale", 4 * planes * ch)]
    spans += [_span(f, "bias", 4 * ch)] if f["has_bias"] else []
    spans += [_span(f, "offset", 4 * planes * ch)] if f["has_offset"] else []
    if not all(ctx.constant(*span) for span in spans):
        return None  # vectors that change while running: the semantics read them each time
    scale = view(m, f["scale_mem"], f["scale_addr"], "f32", (planes * ch,)).copy()
    bias = view(m, f["bias_mem"], f["bias_addr"], "f32", (ch,)).copy() if f["has_bias"] else None
    offset = (
        view(m, f["offset_mem"], f["offset_addr"], "i32", (planes * ch,)).copy()
        if f["has_offset"]
        else None
    )
    if not (np.isfinite(scale).all() and (bias is None or np.isfinite(bias).all())):
        return None
    rs = (
        view(m, f["row_scale_mem"], f["row_scale_addr"], "f32", (rows,))
        if f["has_row_scale"]
        else None
    )
    rs_span = _span(f, "row_scale", 4 * rows) if rs is not None else None
    clobbers = rs_span is not None and _overlap(_span(f, "dst", dst.nbytes), rs_span)
    if ctx.engines and offset is None and not clobbers:  # (row scales are read row by row)
        one_pass = fused.requant_kernel(dst, x, planes, scale, rs, bias, f["zp"], f["lo"], f["hi"])
        if one_pass is not None:
            return one_pass
    work = ctx.scratch.get("work", (rows, ch))
    return nx.requant_planes_kernel(
        dst, x, planes, scale, offset, rs, bias, f["zp"], f["lo"], f["hi"], work
    )


def _quant(ctx: Context, f):
    m = ctx.machine
    n = f["count"]
    if not n:
        return None
    x = view(m, f["src_mem"], f["src_addr"], "f32", (n,))
    dst = view(m, f["dst_mem"], f["dst_addr"], f["dst_dtype"], (n,))
    work = ctx.scratch.get("work", (n,))
    return nx.quant_kernel(dst, x, f["scale"], f["zp"], work, f["lo"], f["hi"])


def _dquant(ctx: Context, f):
    m = ctx.machine
    rows, n = f["rows"], f["n"]
    src, dst = _span(f, "src", 4 * rows * n), _span(f, "dst", rows * n)
    scale = _span(f, "scale", 4 * rows)
    if _overlap(src, dst) or _overlap(src, scale) or _overlap(dst, scale):
        return None  # the semantics read every row before writing
    x = view(m, f["src_mem"], f["src_addr"], "f32", (rows, n))
    q = view(m, f["dst_mem"], f["dst_addr"], "i8", (rows, n))
    scales = view(m, f["scale_mem"], f["scale_addr"], "f32", (rows,))
    return nx.dquant_kernel(x, q, scales, f["bits"], ctx.scratch.get("work", (rows, n)))


def _dwconv(ctx: Context, f):
    m = ctx.machine
    h, w, c, kh, kw = f["h"], f["w"], f["c"], f["kh"], f["kw"]
    oh, ow = out_hw(f)
    src_span = _span(f, "src", h * w * c)
    dst_span = _span(f, "dst", 4 * oh * ow * c)
    if _overlap(src_span, dst_span):
        return None  # the blocks would read rows already overwritten
    x = view(m, f["src_mem"], f["src_addr"], f["src_dtype"], (h, w, c))
    wgt = view(m, f["wgt_mem"], f["wgt_addr"], "i8", (kh, kw, c))
    dst = view(m, f["dst_mem"], f["dst_addr"], "i32", (oh, ow, c))
    constant = ctx.constant(*_span(f, "wgt", kh * kw * c))
    geometry = (f["stride_h"], f["stride_w"]), (f["pad_t"], f["pad_l"], f["pad_b"], f["pad_r"])
    dil, pad = (f["dil_h"], f["dil_w"]), f["pad_value"]
    if ctx.engines and constant:  # the weights are baked into the kernel
        step = _dwconv_kernel(ctx, f, x, wgt, dst, (geometry, dil, pad))
        if step is not None:
            return step
    fixed = nx.dwconv_weights(wgt, ow) if constant else None

    def step() -> None:
        wtile = fixed if fixed is not None else nx.dwconv_weights(wgt, ow)
        nx.dwconv(x, wgt, *geometry, dil, pad, out=dst, wtile=wtile)

    return step


def _dwconv_kernel(ctx: Context, f, x, wgt, dst, geometry):
    """The dw.conv step as an `engines` kernel, or None.

    Its input is the float32 copy the previous step left, when there is one; it leaves one of
    its own result (the float32 sums) when the next instruction requantizes that result to
    integers, and then stores the int32 sums only if something else may read them.
    """
    h, w, c = x.shape
    count = dst.size
    copy = ctx.float_of(f["src_mem"], f["src_addr"], f["src_dtype"], h * w * c)
    copy = None if copy is None or copy.exp else copy
    nxt = ctx.next
    to_float = (
        nxt is not None
        and nxt.mnemonic == "cl.requant"
        and nxt.fields["dst_dtype"] != "f32"
        and (nxt.fields["src_mem"], nxt.fields["src_addr"]) == (f["dst_mem"], f["dst_addr"])
        and nxt.fields["src_dtype"] == "i32"
        and nxt.fields["rows"] * nxt.fields["channels"] == count
    )
    drop = to_float and ctx.dead_after_next()
    weights = wgt.copy()
    (stride, pads), dil, pad = geometry
    # the float32 sums in xb.mvm's result buffer, never this step's input (only requants leave
    # int8 copies): one large buffer fewer in the cache
    yf = ctx.scratch.get("mvm.y", (1, *dst.shape)) if to_float else None
    xin = x[None] if copy is None else copy.buf.reshape(1, h, w, c)
    info = np.iinfo(x.dtype)
    exact = engines.dwconv_exact(*wgt.shape[:2], engines.absmax(weights), max(-info.min, info.max))
    step = None
    if exact and info.min <= pad <= info.max:  # one compiled pass, when numba is there
        outs = (None if drop else dst, None if yf is None else yf[0])
        step = fused.dwconv_kernel(xin[0], weights, stride, pads, dil, pad, *outs)
    if step is None:
        kinds = (copy is not None, to_float, not drop)  # float in, float out, int32 out
        key = ("dw.conv", x.shape, x.dtype.str, weights.tobytes(), geometry, kinds)
        kernel = ctx.kernel(
            key,
            lambda: engines.dwconv_kernel(
                x.shape, weights, stride, pads, dil, pad, *kinds, x_dtype=x.dtype
            ),
        )
        if kernel is None:
            return None
        step = kernel.bind(xin, None if drop else dst[None], yf)
        if step is None:
            return None
    ctx.engine_steps += 1
    if copy is not None:
        ctx.take()
    if to_float:
        store = partial(np.copyto, dst, yf[0], casting="unsafe") if drop else None
        ctx.leave_float(f["dst_mem"], f["dst_addr"], "i32", count, yf, 0, store)
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


def _call(ctx: Context, f):
    """cl.call on read-only views of its inputs (no copies) when no output overlaps an input:
    a kernel that returns a view of an input (Reshape, Split) is then stored before anything
    overwrites what the view shows."""
    m = ctx.machine
    if not 0 <= f["call"] < len(m.calls):
        return None  # the semantics say what is wrong
    c = m.calls[f["call"]]

    def spans(ops):
        return [
            (op.mem, op.addr, op.addr + math.prod(op.shape) * itemsize(op.dtype))
            for op in ops
            if op is not None
        ]

    outs = spans(c.outputs)
    if any(_overlap(a, b) for a in spans(c.inputs) for b in outs):
        return None
    views = [
        None if op is None else view(m, op.mem, op.addr, op.dtype, op.shape) for op in c.outputs
    ]
    return partial(call_kernel, m, f, m.view, views)


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
    "cl.call": _call,
    "cl.copy": _copy,
    "xb.mvm": _mvm,
    "xb.write": _write,
    "xb.prog": _prog,
    "cl.requant": _requant,
    "nl.requant": _requant,
    "cl.quant": _quant,
    "nl.quant": _quant,
    "cl.dquant": _dquant,
    "nl.dquant": _dquant,
    "cl.eltwise": _eltwise,
    "nl.eltwise": _eltwise,
    "cl.dwconv": _dwconv,
    "dw.conv": _dwconv,
    "cl.gelu": _gelu,
    "nl.gelu": _gelu,
}
