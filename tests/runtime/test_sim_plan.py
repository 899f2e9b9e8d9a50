"""Compiled steps (`plan`) compute exactly what the plain semantics compute, byte for byte.

Each test runs instructions on two machines with the same random memory: one through
`semantics.execute`, one through `plan.compile_body`'s steps, and compares every memory byte:
numpy steps, onnxruntime kernels, steps reading the previous step's float copy, and steps that
leave out a store only the next step would read (those bytes must keep their old value).
The byte-set arithmetic of the session's dataflow analysis is checked against boolean masks.
"""

from __future__ import annotations

import numpy as np
import pytest
from _simkit import ANALOG, DIGITAL, DYNAMIC, machine, program
from imcc.runtime.isa.calls import Call, Operand
from imcc.runtime.isa.encoding import Instr
from imcc.runtime.isa.program import Const, Tensor
from imcc.runtime.sim import run_program
from imcc.runtime.sim.fast import engines
from imcc.runtime.sim.fast.dataflow import ByteSet, overlaps
from imcc.runtime.sim.fast.plan import compile_body
from imcc.runtime.sim.machine import numerics as nx
from imcc.runtime.sim.machine.footprint import Range, footprint
from imcc.runtime.sim.machine.semantics import execute
from test_sim_session import TINY, assert_same, reference_run

F32 = np.float32


def _twins(seed: int, mode: str = "adc"):
    """Two machines with the same random L1/L2 bytes and the same programmed arrays."""
    rng = np.random.default_rng(seed)
    ms = [machine(mode), machine(mode)]
    l1 = rng.integers(0, 256, ms[0].mem["L1"].size, dtype=np.uint8)
    l2 = rng.integers(0, 256, ms[0].mem["L2"].size, dtype=np.uint8)
    cells = {ANALOG: rng.integers(-7, 8, (32, 32)), DYNAMIC: rng.integers(-128, 128, (16, 16))}
    cells[DIGITAL] = rng.integers(-1, 2, (32, 32))
    for m in ms:
        m.mem["L1"][:], m.mem["L2"][:] = l1, l2
        for index, w in cells.items():
            m.write_cells(index, 0, 0, w.astype(np.int8))
    return ms


def _same_after(
    instrs,
    seed: int,
    mode: str = "adc",
    constant=lambda *a: False,
    kernels=None,
    setup=None,
    live_out=None,
    dead=(),
    runs=2,
):
    """Run ``instrs`` (mnemonic, fields) both ways, compare all memory; return the context.

    ``kernels``: `compile_body`'s ``engines``. ``setup(machine)`` stores chosen values over the
    random memory of both machines.
    ``live_out``: passed to `compile_body`; the byte ranges ``dead`` (space, lo, hi) are then
    compared with their initial bytes instead: the steps must not have written them.
    ``runs``: twice by default, the second run starting from what the first left everywhere;
    once where a second run would read what the first wrote and so hide a change of order.
    """
    plain, compiled = _twins(seed, mode)
    for m in (plain, compiled) if setup else ():
        setup(m)
    before = {mem: compiled.mem[mem].copy() for mem in ("L1", "L2")}
    ins = [Instr.make(mn, f) for mn, f in instrs]
    fps = [footprint(i, plain.target, plain.calls) for i in ins]
    steps, ctx = compile_body(compiled, ins, fps, constant, engines=kernels, live_out=live_out)
    with np.errstate(all="ignore"):
        for _ in range(runs):
            for i in ins:
                execute(plain, i)
            for step in steps:
                step()
    for mem in ("L1", "L2"):
        want = plain.mem[mem].copy()
        for space, lo, hi in dead:
            if space == mem:
                want[lo:hi] = before[mem][lo:hi]
        assert np.array_equal(want, compiled.mem[mem]), mem
    return ctx


def _mvm(array=ANALOG, rows=32, cols=32, jobs=6, src=0, dst=4096, **kw):
    fields = {
        "array": array,
        "row0": 0,
        "col0": 0,
        "rows": rows,
        "cols": cols,
        "src_mem": "L1",
        "src_addr": src,
        "seg_len": rows,
        "inner_stride": rows,
        "n_inner": jobs,
        "dst_mem": "L1",
        "dst_addr": dst,
        "dst_stride": 4 * cols,
    }
    return "xb.mvm", {**fields, **kw}


@pytest.mark.parametrize("fixed", [False, True], ids=["numpy", "kernels"])
@pytest.mark.parametrize("mode", ["ideal", "adc"])
@pytest.mark.parametrize("seed", range(3))
def test_mvm_steps(mode, seed, fixed):
    # fixed: the arrays count as constant, so windows within the bounds run onnxruntime kernels
    rng = np.random.default_rng(seed)
    kernels = 0
    for _ in range(12):
        array = int(rng.choice([ANALOG, DYNAMIC, DIGITAL]))
        size = 16 if array == DYNAMIC else 32
        rows, cols = int(rng.integers(1, size + 1)), int(rng.integers(1, size + 1))
        segs = int(rng.integers(1, 3))
        rows -= rows % segs
        rows = max(rows, segs)
        fields = {
            "array": array,
            "rows": rows,
            "cols": cols,
            "jobs": int(rng.integers(1, 9)),
            "src_dtype": str(rng.choice(["i8", "u8"])),
            "adc_shift": int(rng.integers(0, 8)),
            "seg_count": segs,
            "seg_len": rows // segs,
            "seg_stride": int(rng.integers(40, 90)),
            "inner_stride": int(rng.integers(1, 50)),
            "n_outer": int(rng.integers(1, 3)),
            "outer_stride": 300,
            "dst_stride": 4 * cols + 4 * int(rng.integers(0, 3)),
            "dst": 4096 + int(rng.choice([0, 0, 1, 2])),  # int32 results at odd addresses too
        }
        first = _mvm(**{**fields, "acc": False})
        again = _mvm(**{**fields, "acc": True})  # the same gather: reuses the gathered inputs
        ctx = _same_after([first, again, again], seed, mode, constant=lambda *a: fixed)
        kernels += ctx.engine_steps
    assert (kernels > 0) == fixed


@pytest.mark.parametrize("start", [2**31 - 5, -(2**31) + 5])
def test_mvm_accumulation_saturates_when_it_can(start):
    # dst holds values near the int32 limits that the analysis knows nothing about: saturate
    ms = _twins(0, "ideal")
    for m in ms:
        m.store("L1", 8192, np.full((6, 32), start, np.int32), "i32")
        m.store("L1", 0, np.full((6, 32), -100 if start < 0 else 100, np.int8), "i8")
    ins = Instr.make(*_mvm(dst=8192, acc=True))
    steps, _ = compile_body(ms[1], [ins], [footprint(ins, TINY)], lambda *a: False)
    execute(ms[0], ins)
    steps[0]()
    got = ms[1].load("L1", 8192, "i32", (6, 32))
    assert np.array_equal(got, ms[0].load("L1", 8192, "i32", (6, 32)))
    assert (got == (2**31 - 1 if start > 0 else -(2**31))).any()


def test_a_repeated_gather_is_read_again_after_its_bytes_change():
    fill = ("fill", {"dst_mem": "L1", "dst_addr": 0, "bytes": 64, "value": 5})
    _same_after([_mvm(), fill, _mvm(acc=True)], 1)
    # an mvm whose output overwrites its own input: the next one must gather again
    _same_after([_mvm(dst=0, jobs=2), _mvm(dst=0, jobs=2, acc=True)], 2)


def test_a_fallback_step_does_not_leave_stale_gathered_inputs():
    # array 1 is never written: its step takes the plain semantics, and the next step, with the
    # same gather, must not take the inputs gathered before the fill for its own
    write = {
        "array": DYNAMIC,
        "row0": 0,
        "col0": 0,
        "rows": 1,
        "cols": 4,
        "src_mem": "L1",
        "src_addr": 1024,
        "src_stride": 4,
    }
    fill = {"dst_mem": "L1", "dst_addr": 0, "bytes": 8, "value": 1}
    small = {"rows": 16, "cols": 16, "jobs": 2}
    prog = program(
        [
            ("xb.write", write),
            _mvm(array=DYNAMIC, dst=256, **small),
            ("fill", fill),
            _mvm(array=ANALOG + 1, dst=512, **small),
            _mvm(array=DYNAMIC, dst=768, **small),
        ],
        [
            Tensor("x", "input", "i8", (64,), "L1", 0),
            Tensor("w", "const", "i8", (4,), "L1", 1024),
            Tensor("y", "output", "i32", (2, 16), "L1", 768),
        ],
        [Const.from_values("w", "i8", [1, 2, 3, 4])],
    )
    x = {"x": np.full(64, 3, np.int8)}
    assert_same(run_program(prog, x, TINY, "ideal"), reference_run(prog, x, TINY, "ideal"))


@pytest.mark.parametrize("dst_dtype", ["i8", "u8", "i32", "f32"])
def test_requant_steps(dst_dtype):
    rng = np.random.default_rng(3)
    for k in range(8):
        rows, ch = int(rng.integers(1, 40)), int(rng.integers(1, 20))
        fields = {
            "src_mem": "L1",
            "src_addr": 64,
            "src_dtype": str(rng.choice(["i8", "u8", "i32"])),
            "dst_mem": "L1",
            "dst_addr": 64 if k % 3 == 0 else 8192,
            "dst_dtype": dst_dtype,
            "rows": rows,
            "channels": ch,
            "scale_mem": "L2",
            "scale_addr": 4 * k,
            "has_bias": bool(k % 2),
            "bias_mem": "L2",
            "bias_addr": 400 + 4 * k,
            "zp": 0 if dst_dtype == "f32" else int(rng.integers(-5, 5)),
            "lo": float(rng.choice([-np.inf, -20.0, 0.0])),
            "hi": float(rng.choice([np.inf, 90.0])),
        }
        # random L2 bytes as constants: NaN, infinities and subnormals among them
        _same_after([("cl.requant", fields)], k, constant=lambda *a: True)
        _same_after([("cl.requant", fields)], k)


def test_quant_and_eltwise_steps():
    for k in range(6):
        quant = {
            "src_mem": "L2",
            "src_addr": 4 * k,
            "dst_mem": "L1",
            "dst_addr": 100 + k,
            "dst_dtype": "u8" if k % 2 else "i8",
            "count": 700,
            "scale": 0.5,
            "zp": k - 3,
        }
        add = {
            "op": ["add", "sub", "mul", "max", "min"][k % 5],
            "dtype": "f32",
            "bcast": bool(k % 2),
            "src_mem": "L2",
            "src_addr": 0,
            "src2_mem": "L2",
            "src2_addr": 4000 + 4 * k,
            "dst_mem": "L2",
            "dst_addr": 0 if k < 3 else 12000,
            "rows": 9,
            "n": 70,
        }
        _same_after([("cl.quant", quant), ("cl.eltwise", add)], k)


@pytest.mark.parametrize("seed", range(3))
def test_dwconv_steps(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    monkeypatch.setattr(nx, "_DW_BLOCK", int(rng.choice([1, 40, 500])))  # many blocks
    monkeypatch.setattr(engines, "DW_BLOCK_ELEMS", int(rng.choice([1, 40, 500])))
    kernels = 0
    for _ in range(6):
        h, w, c = (int(v) for v in rng.integers(1, 12, 3))
        kh, kw = (int(v) for v in rng.integers(1, 4, 2))
        f = {
            "src_mem": "L1",
            "src_addr": 0,
            "wgt_mem": "L2",
            "wgt_addr": 0,
            "dst_mem": "L1",
            "dst_addr": 2048 + int(rng.choice([0, 0, 2])),  # misaligned: the numpy path
            "h": h,
            "w": w,
            "c": c,
            "kh": kh,
            "kw": kw,
            "stride_h": int(rng.integers(1, 3)),
            "stride_w": int(rng.integers(1, 3)),
            "dil_h": int(rng.integers(1, 3)),
            "dil_w": 1,
            "pad_t": int(rng.integers(0, 3)),
            "pad_l": 1,
            "pad_b": int(rng.integers(0, 2)),
            "pad_r": 0,
            "pad_value": int(rng.integers(-128, 128)),
        }
        try:
            footprint(Instr.make("dw.conv", f), TINY)
        except Exception:
            continue
        # constant weights: an onnxruntime kernel (when the output is aligned)
        kernels += _same_after([("dw.conv", f)], seed, constant=lambda *a: True).engine_steps
        assert _same_after([("dw.conv", f)], seed).engine_steps == 0
    assert kernels > 0


def _chain(rq1=None, rq2=None, dw=None):
    """xb.mvm → cl.requant (int8) → dw.conv → cl.requant (int8) → cl.requant (f32), in L2:
    each step may read the float32 copy of its input that the step before left."""
    h, w, c, jobs, rows = 6, 5, 32, 30, 24
    mvm = _mvm(rows=rows, cols=c, jobs=jobs, src_mem="L2", dst_mem="L2", dst=1024, adc_shift=4)
    requant = {"src_dtype": "i32", "dst_dtype": "i8", "rows": jobs, "channels": c, "zp": 0}
    requant.update(src_mem="L2", dst_mem="L2", scale_mem="L1", bias_mem="L1", has_bias=True)
    first = {**requant, "src_addr": 1024, "dst_addr": 5120, "lo": 0.0, "hi": 127.0}
    first = {**first, "scale_addr": 0, "bias_addr": 128, **(rq1 or {})}
    conv = {"src_mem": "L2", "src_addr": 5120, "wgt_mem": "L1", "wgt_addr": 512}
    conv.update(dst_mem="L2", dst_addr=6144, h=h, w=w, c=c, kh=3, kw=3)
    conv = {**conv, "pad_t": 1, "pad_l": 1, "pad_b": 1, "pad_r": 1, **(dw or {})}
    second = {**requant, "src_addr": 6144, "dst_addr": 10240, "lo": -128.0, "hi": 127.0}
    second = {**second, "scale_addr": 256, "bias_addr": 384, **(rq2 or {})}
    last = {**requant, "src_dtype": "i8", "src_addr": 10240, "dst_dtype": "f32"}
    last.update(dst_addr=11264, scale_addr=0, bias_addr=0, has_bias=False, lo=-np.inf, hi=np.inf)
    return [
        mvm,
        ("cl.requant", first),
        ("dw.conv", conv),
        ("cl.requant", second),
        ("cl.requant", last),
    ]


def _chain_constants(m) -> None:
    rng = np.random.default_rng(9)
    m.store("L2", 0, rng.integers(-128, 128, 30 * 24), "i8")
    m.store("L1", 0, np.full(32, 2.0**-3, F32), "f32")  # rq1 clips: |q · 2^4 · 2^-3| <= 256
    m.store("L1", 128, rng.normal(0, 8, 32).astype(F32), "f32")
    m.store("L1", 256, rng.uniform(1e-3, 2e-2, 32).astype(F32), "f32")
    m.store("L1", 384, np.where(rng.random(32) < 0.3, -0.0, rng.normal(0, 30, 32)), "f32")
    m.store("L1", 512, rng.integers(-128, 128, 9 * 32), "i8")


@pytest.mark.parametrize(
    "change, fused",
    [
        ({}, 3),  # the requants read the float32 results of mvm and dw.conv, dw.conv that of rq1
        ({"rq1": {"hi": 126.5}}, 2),  # not whole: the stored int8 differs from the float value
        ({"rq1": {"dst_dtype": "u8", "hi": 255.0}}, 2),  # dw.conv reads int8, not uint8
        ({"rq2": {"dst_dtype": "f32", "lo": -np.inf, "hi": np.inf}}, 2),  # -0.0 would show
        ({"rq2": {"src_addr": 6148, "rows": 29}}, 2),  # not the bytes dw.conv wrote
        ({"dw": {"pad_value": -3, "stride_w": 2}, "rq2": {"rows": 18}}, 3),
    ],
)
def test_steps_read_the_float_copies_their_producers_leave(change, fused):
    instrs = _chain(**change)
    ctx = _same_after(instrs, 0, constant=lambda *a: True, setup=_chain_constants)
    assert (ctx.engine_steps, ctx.fused_steps) == (2, fused)
    # without kernels only the requant after the mvm can fuse (its ADC output is float32)
    ctx = _same_after(instrs, 0, constant=lambda *a: True, setup=_chain_constants, kernels=False)
    assert (ctx.engine_steps, ctx.fused_steps) == (0, 1)
    # a window that runs may rewrite: no float copy (its step could fall back)
    ctx = _same_after(instrs, 0, setup=_chain_constants, kernels=False)
    assert ctx.fused_steps == 0


# the chain's intermediates and result: acc1, hq, acc2, d, p
ACC1, HQ, ACC2 = ("L2", 1024, 1024 + 3840), ("L2", 5120, 5120 + 960), ("L2", 6144, 6144 + 3840)
D, P = ("L2", 10240, 10240 + 960), ("L2", 11264, 11264 + 3840)


@pytest.mark.parametrize("kernels", [True, False])
def test_results_only_the_next_step_reads_are_not_stored(kernels):
    # with the body's outputs known, acc1, hq and acc2 are read by their next step alone, from
    # its float copy: never stored (d is stored just before the f32 requant, which reads
    # memory); the requant after the mvm takes q and scales by s · 2^4 itself
    kw = {"constant": lambda *a: True, "setup": _chain_constants, "kernels": kernels}
    dead = (ACC1, HQ, ACC2) if kernels else (ACC1,)
    ctx = _same_after(_chain(), 0, live_out=[P], dead=dead, **kw)
    if kernels:
        assert (ctx.fused_steps, ctx.dropped_stores, ctx.folded_scales) == (3, 4, 1)
    else:  # without kernels dw.conv reads memory: hq is stored just before it
        assert (ctx.fused_steps, ctx.dropped_stores, ctx.folded_scales) == (1, 3, 1)
    # what a later step or the body's reader reads is stored
    ctx = _same_after(_chain(), 0, live_out=[P, ACC2], dead=dead[:2], **kw)
    assert ctx.dropped_stores == 3  # acc1, hq, d
    everything = [("L1", 0, 16384), ("L2", 0, 65536)]
    assert _same_after(_chain(), 0, live_out=everything, **kw).dropped_stores == 0
    assert _same_after(_chain(), 0, **kw).dropped_stores == 0  # outputs unknown


def test_a_later_reader_keeps_the_store_and_a_scale_that_would_overflow_is_not_folded():
    instrs = _chain()
    reread = {**instrs[1][1], "dst_addr": 12800}  # reads acc1 again, two steps after the mvm
    ctx = _same_after(
        [*instrs[:3], ("cl.requant", reread)],
        0,
        constant=lambda *a: True,
        setup=_chain_constants,
        live_out=[("L2", 12800, 12800 + 960)],
        dead=(HQ,),
    )
    assert (ctx.dropped_stores, ctx.folded_scales) == (1, 0)  # hq only (dw.conv: no reader)

    def huge(m):
        _chain_constants(m)
        m.store("L1", 0, np.full(32, 3e37, F32), "f32")  # 3e37 · 2^4 overflows float32

    kw = {"constant": lambda *a: True, "setup": huge, "live_out": [P]}
    ctx = _same_after(_chain(), 0, dead=(ACC1, HQ, ACC2), **kw)
    assert (ctx.dropped_stores, ctx.folded_scales, ctx.fused_steps) == (4, 0, 3)
    # scales that may change between runs cannot absorb 2^4: the mvm leaves q · 2^4 in y
    # (and dw.conv, whose weights may change too, reads memory: hq is stored before it)
    kw.update(setup=_chain_constants, constant=lambda space, lo, hi: space != "L1")
    ctx = _same_after(_chain(), 0, dead=(ACC1,), **kw)
    assert (ctx.dropped_stores, ctx.folded_scales, ctx.fused_steps) == (3, 0, 1)


def test_a_next_step_reading_the_result_otherwise_keeps_the_store():
    # the requant after the mvm takes its bias from acc1's first bytes, read from memory
    instrs = _chain(rq1={"bias_mem": "L2", "bias_addr": 1024})
    ctx = _same_after(
        instrs,
        0,
        constant=lambda space, lo, hi: space != "L2",
        setup=_chain_constants,
        live_out=[P],
        dead=(HQ, ACC2),
    )
    assert (ctx.fused_steps, ctx.dropped_stores) == (3, 3)  # hq, acc2 and d, not acc1


def test_a_dropped_store_is_made_before_a_step_that_reads_memory():
    # the requant after the mvm writes f32: it cannot take the float copy, so acc1 is stored
    # just before it (q · 2^4: the mvm did not leave q, the requant's result is not integral)
    instrs = _chain(rq1={"dst_dtype": "f32", "lo": -np.inf, "hi": np.inf})[:2]
    ctx = _same_after(instrs, 0, constant=lambda *a: True, setup=_chain_constants, live_out=[HQ])
    assert (ctx.fused_steps, ctx.dropped_stores, ctx.folded_scales) == (0, 1, 0)


def test_float_results_never_read_float_copies():
    # the ADC leaves -0.0 where it rounds small negative sums to 0; a float32 requant of the
    # copy would keep that sign (−0 · s + −0 = −0), of the int32 zero it would not
    mvm = _mvm(rows=24, cols=32, jobs=30, src_mem="L2", dst_mem="L2", dst=1024, adc_shift=6)
    requant = {"src_mem": "L2", "src_addr": 1024, "src_dtype": "i32", "dst_mem": "L2"}
    requant.update(dst_addr=8192, dst_dtype="f32", rows=30, channels=32, zp=0, lo=-1e9, hi=1e9)
    requant.update(scale_mem="L1", scale_addr=0, bias_mem="L1", bias_addr=128, has_bias=True)

    def setup(m):
        m.store("L2", 0, np.random.default_rng(1).integers(-128, 128, 30 * 24), "i8")
        m.store("L1", 0, np.full(32, 0.25, F32), "f32")
        m.store("L1", 128, np.full(32, -0.0, F32), "f32")

    ctx = _same_after([mvm, ("cl.requant", requant)], 0, constant=lambda *a: True, setup=setup)
    assert (ctx.engine_steps, ctx.fused_steps) == (1, 0)


def test_int32_requants_leave_no_float_copy():
    # saturating to int32 happens outside the float32 work buffer: values beyond 2^31 and NaN
    # are stored clamped and as 0, while the buffer keeps them
    base = {"src_mem": "L2", "dst_mem": "L2", "rows": 8, "channels": 16, "zp": 0, "lo": -np.inf}
    base.update(hi=np.inf, scale_mem="L1", scale_addr=0, bias_mem="L1", bias_addr=0)
    wide = {**base, "src_addr": 0, "src_dtype": "i8", "dst_addr": 1024, "dst_dtype": "i32"}
    narrow = {**base, "src_addr": 1024, "src_dtype": "i32", "dst_addr": 2048, "dst_dtype": "i8"}

    def setup(m):
        m.store("L2", 0, np.arange(-64, 64), "i8")
        scale = np.full(16, 3e8, F32)
        scale[3] = np.nan
        m.store("L1", 0, scale, "f32")

    wide["has_bias"] = narrow["has_bias"] = False
    ctx = _same_after([("cl.requant", wide), ("cl.requant", narrow)], 0, setup=setup)
    assert ctx.fused_steps == 0


def test_gelu_dma_and_copy_steps():
    gelu = {"src_mem": "L2", "src_addr": 0, "dst_mem": "L2", "dst_addr": 0, "count": 5000}
    dma = {
        "src_mem": "L1",
        "src_addr": 0,
        "dst_mem": "L2",
        "dst_addr": 30000,
        "rows": 7,
        "row_bytes": 33,
        "src_stride": 40,
        "dst_stride": 50,
    }
    cp = {"src_mem": "L2", "src_addr": 30000, "dst_mem": "L1", "dst_addr": 5000, "bytes": 999}
    _same_after(
        [
            ("cl.gelu", gelu),
            ("nl.gelu", {**gelu, "dst_addr": 40000}),
            ("dma", dma),
            ("cl.copy", cp),
        ],
        4,
    )


def _replicas(m):
    """Arrays ANALOG and ANALOG + 1 hold the same cells, ANALOG + 2 others."""
    w = m.array(ANALOG).cells
    m.write_cells(ANALOG + 1, 0, 0, w)
    m.write_cells(ANALOG + 2, 0, 0, np.flipud(w).copy())


def _replica_run(acc=False, dst_gap=0, arrays=(ANALOG, ANALOG + 1), src1=None):
    """Two windows (columns 0..15, 16..31) on each of two replicas, replica by replica: jobs
    0..4 on the first, 5..8 on the second, input rows 32 bytes apart, results 128."""
    run = []
    for r, (array, jobs, src, dst) in enumerate(zip(arrays, (5, 4), (0, 160), (4096, 4736))):
        src = src if r == 0 or src1 is None else src1
        for c0 in (0, 16):
            run.append(
                _mvm(
                    array=array,
                    cols=16,
                    jobs=jobs,
                    src=src,
                    dst=dst + 4 * c0 + dst_gap * r,
                    col0=c0,
                    dst_stride=128,
                    acc=acc,
                )
            )
    return run


@pytest.mark.parametrize("kernels", [False, True], ids=["numpy", "kernels"])
@pytest.mark.parametrize("mode", ["ideal", "adc"])
def test_replicated_windows_run_as_one_product(kernels, mode):
    run = _replica_run()
    ctx = _same_after(run + _replica_run(acc=True), 2, mode, lambda *a: True, kernels, _replicas)
    assert ctx.merged_steps == 4  # each window's second replica, in both runs


@pytest.mark.parametrize(
    "case",
    [
        dict(arrays=(ANALOG, ANALOG + 2)),  # other cells
        dict(dst_gap=4),  # results that do not continue the first replica's
        dict(src1=200),  # inputs that do not continue the first replica's
    ],
    ids=["cells", "results", "inputs"],
)
def test_windows_that_do_not_continue_each_other_are_not_merged(case):
    ctx = _same_after(_replica_run(**case), 3, "adc", lambda *a: True, None, _replicas)
    assert ctx.merged_steps == 0


@pytest.mark.parametrize("outer_stride, merged", [(96, 2), (128, 0)], ids=["continues", "gaps"])
def test_windows_with_an_outer_loop_merge_when_it_continues_the_inner_one(outer_stride, merged):
    # replica 1: jobs 0..5 as 2 outer x 3 inner, inputs 32 bytes apart; replica 2: jobs 6..9
    run = []
    for array, src, dst, outer in ((ANALOG, 0, 4096, 2), (ANALOG + 1, 192, 4864, 1)):
        src = src if outer_stride == 96 else 256
        for c0 in (0, 16):
            loops = dict(n_inner=3 if outer == 2 else 4, n_outer=outer, outer_stride=outer_stride)
            run.append(
                _mvm(array=array, cols=16, src=src, dst=dst + 4 * c0, col0=c0, dst_stride=128)
            )
            run[-1][1].update(loops)
    ctx = _same_after(run, 5, "adc", lambda *a: True, None, _replicas)
    assert ctx.merged_steps == merged


def test_an_instruction_does_not_move_over_one_it_depends_on():
    first, _, second, _ = _replica_run()
    # between the replicas, an instruction writes into the second one's inputs: no merge
    between = _mvm(array=ANALOG + 2, cols=4, jobs=1, src=1000, dst=170, dst_stride=16)
    ctx = _same_after([first, between, second], 4, "adc", lambda *a: True, None, _replicas, runs=1)
    assert ctx.merged_steps == 0
    # elsewhere, it changes nothing
    between = _mvm(array=ANALOG + 2, cols=4, jobs=1, src=1000, dst=2000, dst_stride=16)
    ctx = _same_after([first, between, second], 4, "adc", lambda *a: True, None, _replicas)
    assert ctx.merged_steps == 1
    # other instructions in between too: a DMA elsewhere, and one into the inputs
    dma = {"src_mem": "L2", "src_addr": 0, "dst_mem": "L1", "dst_addr": 3000, "rows": 2}
    dma.update(row_bytes=16, src_stride=16, dst_stride=16)
    ctx = _same_after([first, ("dma", dma), second], 4, "adc", lambda *a: True, None, _replicas)
    assert ctx.merged_steps == 1
    into = [first, ("dma", {**dma, "dst_addr": 200}), second]
    ctx = _same_after(into, 4, "adc", lambda *a: True, None, _replicas, runs=1)
    assert ctx.merged_steps == 0
    ctx = _same_after(_replica_run(), 4, "adc", lambda *a: False, None, _replicas)
    assert ctx.merged_steps == 0  # cells a run may rewrite


@pytest.mark.parametrize("stride", [16, 40, 7, 0], ids=["dense", "gaps", "overlapping", "zero"])
def test_write_steps_then_mvm_steps_on_the_written_cells(stride):
    write = {"array": DYNAMIC, "row0": 3, "col0": 2, "rows": 9, "cols": 14}
    write.update(src_mem="L2", src_addr=100, src_stride=stride)
    instrs = [
        ("xb.write", write),
        _mvm(array=DYNAMIC, rows=16, cols=16, jobs=5, dst=8192),
        ("xb.write", {**write, "row0": 0, "src_addr": 7000}),
        _mvm(array=DYNAMIC, rows=16, cols=16, jobs=5, dst=8192, acc=True),
    ]
    ctx = _same_after(instrs, 9)
    assert ctx.plain_steps == 0
    # cells the writes and the plain semantics leave must agree too
    plain, compiled = _twins(9)
    ins = [Instr.make(mn, f) for mn, f in instrs]
    steps, _ = compile_body(compiled, ins, [footprint(i, TINY) for i in ins], lambda *a: False)
    for i, step in zip(ins, steps):
        execute(plain, i)
        step()
        assert np.array_equal(plain.array(DYNAMIC).cells, compiled.array(DYNAMIC).cells)


def _rows(tiny: bool):
    """A setup storing rows of ordinary floats, zeros and an exact extreme over the random
    bytes; ``tiny`` adds a row of subnormals, whose scale loses precision."""

    def setup(m):
        rng = np.random.default_rng(7)
        x = (rng.standard_normal((12, 50)) * 10.0 ** rng.uniform(-30, 30, (12, 1))).astype(F32)
        x[3] = 0
        x[7, 9] = np.finfo(F32).max
        if tiny:
            x[5, :] = np.float32(1e-45)
        m.mem["L2"][0 : x.nbytes] = x.view(np.uint8).reshape(-1)

    return setup


@pytest.mark.parametrize("unit", ["cl", "nl"])
@pytest.mark.parametrize("values", ["random-bytes", "finite", "subnormal"])
def test_dquant_steps(unit, values):
    fields = {"src_mem": "L2", "src_addr": 0, "dst_mem": "L1", "dst_addr": 300, "bits": 8}
    fields.update(scale_mem="L1", scale_addr=2000, rows=12, n=50)
    setup = None if values == "random-bytes" else _rows(values == "subnormal")
    ctx = _same_after([(f"{unit}.dquant", fields)], 5, setup=setup)
    assert ctx.plain_steps == 0
    # a destination over the source takes the semantics' path, which reads x first
    _same_after([(f"{unit}.dquant", {**fields, "dst_mem": "L2", "dst_addr": 40})], 6)


def _calls(m):
    m.calls = [
        Call(
            "onnx.Reshape",
            [Operand("L2", 0, "f32", (6, 10)), Operand("L2", 800, "i64", (2,))],
            [Operand("L1", 64, "f32", (10, 6))],
            opset=14,
        ),
        Call(
            "onnx.Split",
            [Operand("L2", 0, "f32", (6, 10))],  # outputs over the input
            [Operand("L2", 8, "f32", (3, 10)), Operand("L2", 200, "f32", (3, 10))],
            {"axis": 0, "num_outputs": 2},
            opset=18,
        ),
        Call(
            "onnx.Gather",
            [Operand("L2", 1000, "f32", (40, 8)), Operand("L2", 800, "i64", (2,))],
            [Operand("L1", 512, "f32", (2, 8))],
            {"axis": 0},
            opset=13,
        ),
        Call(  # a strided result
            "onnx.Transpose",
            [Operand("L2", 0, "f32", (6, 10))],
            [Operand("L1", 1024, "f32", (10, 6))],
            {"perm": [1, 0]},
            opset=13,
        ),
    ]
    m.mem["L2"][800:816] = np.array([10, 6], np.int64).view(np.uint8)


def test_call_steps_read_views_unless_an_output_overlaps_an_input():
    ctx = _same_after([("cl.call", {"ncores": 8, "call": k}) for k in range(4)], 8, setup=_calls)
    assert ctx.plain_steps == 1  # the Split, whose outputs overwrite its input


# --- the byte sets of the dataflow analysis ----------------------------------------------------


def test_byte_sets_match_boolean_masks():
    rng = np.random.default_rng(5)
    for _ in range(200):
        a, b, mask_a, mask_b = ByteSet(), ByteSet(), np.zeros(200, bool), np.zeros(200, bool)
        for s, mask in ((a, mask_a), (b, mask_b)):
            for _ in range(int(rng.integers(0, 6))):
                lo = rng.integers(0, 200, 3)
                hi = lo + rng.integers(0, 30, 3)
                s.add(lo, np.minimum(hi, 200))
                for x, y in zip(lo, np.minimum(hi, 200)):
                    mask[x:y] = True
        assert _mask(a).tolist() == mask_a.tolist()
        both = a.intersect(b)
        assert _mask(both).tolist() == (mask_a & mask_b).tolist()
        lo, hi = sorted(rng.integers(0, 200, 2))
        gaps = np.zeros(200, bool)
        for x, y in zip(*a.minus(lo, hi)):
            gaps[x:y] = True
        want = np.zeros(200, bool)
        want[lo:hi] = True
        assert gaps.tolist() == (want & ~mask_a).tolist()


def _mask(s: ByteSet) -> np.ndarray:
    out = np.zeros(200, bool)
    for lo, hi in s.intervals():
        out[lo:hi] = True
    return out


def test_strided_ranges_overlap_only_where_their_rows_do():
    left = Range("L1", 0, 7 * 64 + 16, 8 * 16, 16, 64)  # 8 rows of 16 bytes, 64 apart
    right = Range("L1", 16, 16 + 7 * 64 + 16, 8 * 16, 16, 64)  # the next 16 bytes of each row
    assert not overlaps(left, right)
    assert not overlaps(left, Range("L1", 20, 24, 4))  # inside the hull, between rows
    assert overlaps(left, Range("L1", 60, 70, 10))  # touches row 1
    assert overlaps(left, Range("L1", 10, 20, 10)) and not overlaps(left, Range("L2", 0, 9, 9))
