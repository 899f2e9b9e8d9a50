"""One semantics test per ISA instruction, each against a plain numpy computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _simkit import ANALOG, DIGITAL, DYNAMIC, machine, put, run
from imcc.runtime.isa.packing import pack
from imcc.runtime.isa.table import BY_MNEMONIC
from imcc.runtime.sim.machine.footprint import CheckError
from imcc.runtime.sim.machine.machine import SimError

RNG = np.random.default_rng(0)
F32 = np.float32


def test_every_instruction_has_a_semantics_test():
    names = {"test_" + m.replace(".", "_") for m in BY_MNEMONIC}
    missing = sorted(n for n in names if n not in globals())
    assert not missing


# --- control -----------------------------------------------------------------------------------


def test_halt():
    m = machine()
    run(m, "halt")
    assert m.halted


def test_barrier():
    m = machine()
    put(m, "L1", 0, [1, 2, 3], "i8")
    before = m.mem["L1"].copy()
    run(m, "barrier")
    assert not m.halted and np.array_equal(m.mem["L1"], before)


def test_signal():
    m = machine()
    run(m, "signal", ev=3)
    assert m.events == {3}


def test_wait():
    m = machine()
    run(m, "signal", ev=5)
    run(m, "wait", ev=5)
    assert m.events == set()
    with pytest.raises(SimError, match="not signalled"):
        run(m, "wait", ev=5)


# --- dma ---------------------------------------------------------------------------------------


def test_dma():
    m = machine()
    src = RNG.integers(0, 256, size=(4, 10), dtype=np.uint8)
    put(m, "L2", 100, src, "u8")
    run(
        m,
        "dma",
        src_mem="L2",
        src_addr=102,
        dst_mem="L1",
        dst_addr=7,
        rows=4,
        row_bytes=5,
        src_stride=10,
        dst_stride=6,
    )
    got = m.load_rows("L1", 7, "u8", 4, 5, 6)
    assert np.array_equal(got, src[:, 2:7])
    assert m.mem["L1"][12] == 0  # the stride gap stays untouched
    with pytest.raises(CheckError, match="overlap"):
        run(
            m,
            "dma",
            src_mem="L1",
            src_addr=0,
            dst_mem="L1",
            dst_addr=4,
            rows=1,
            row_bytes=8,
            src_stride=8,
            dst_stride=8,
        )


def test_fill():
    m = machine()
    run(m, "fill", dst_mem="L1", dst_addr=10, bytes=7, value=0xAB)
    assert list(m.mem["L1"][9:18]) == [0] + [0xAB] * 7 + [0]


# --- arrays ------------------------------------------------------------------------------------


def test_xb_prog():
    m = machine()
    w = RNG.integers(-1, 2, size=(5, 7)).astype(np.int8)
    m.region("L2", 64, len(pack("t2", w)))[:] = np.frombuffer(pack("t2", w), np.uint8)
    run(
        m,
        "xb.prog",
        array=ANALOG + 1,
        row0=2,
        col0=3,
        rows=5,
        cols=7,
        fmt="t2",
        src_mem="L2",
        src_addr=64,
    )
    cells = m.array(ANALOG + 1).cells
    assert np.array_equal(cells[2:7, 3:10], w) and np.count_nonzero(cells) == np.count_nonzero(w)
    w4 = RNG.integers(-7, 8, size=(3, 4)).astype(np.int8)
    m.region("L2", 200, 6)[:] = np.frombuffer(pack("i4", w4), np.uint8)
    run(
        m,
        "xb.prog",
        array=ANALOG,
        row0=0,
        col0=0,
        rows=3,
        cols=4,
        fmt="i4",
        src_mem="L2",
        src_addr=200,
    )
    assert np.array_equal(m.array(ANALOG).cells[:3, :4], w4)
    with pytest.raises(SimError, match="does not fit"):  # int4 values on ternary cells
        run(
            m,
            "xb.prog",
            array=DIGITAL,
            row0=0,
            col0=0,
            rows=3,
            cols=4,
            fmt="i4",
            src_mem="L2",
            src_addr=200,
        )
    m.mem["L2"][300] = 0b10  # the invalid t2 code
    with pytest.raises(SimError, match="invalid"):
        run(
            m,
            "xb.prog",
            array=ANALOG,
            row0=0,
            col0=0,
            rows=1,
            cols=4,
            fmt="t2",
            src_mem="L2",
            src_addr=300,
        )


def test_xb_write():
    m = machine()
    k = RNG.integers(-128, 128, size=(6, 9), dtype=np.int8)
    m.store_rows("L1", 0, k, "i8", 16)
    run(
        m,
        "xb.write",
        array=DYNAMIC,
        row0=1,
        col0=2,
        rows=6,
        cols=9,
        src_mem="L1",
        src_addr=0,
        src_stride=16,
    )
    assert np.array_equal(m.array(DYNAMIC).cells[1:7, 2:11], k)
    with pytest.raises(CheckError, match="dynamic"):
        run(
            m,
            "xb.write",
            array=ANALOG,
            row0=0,
            col0=0,
            rows=1,
            cols=1,
            src_mem="L1",
            src_addr=0,
            src_stride=1,
        )


def _im2col(x, kh, kw, stride):
    """Plain numpy im2col of an HWC image (no padding): (oh*ow, kh*kw*c)."""
    h, w, c = x.shape
    oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    cols = [
        x[i * stride : i * stride + kh, j * stride : j * stride + kw, :].reshape(-1)
        for i in range(oh)
        for j in range(ow)
    ]
    return np.stack(cols), oh, ow


def test_xb_mvm():
    """A strided 3x3 conv through the im2col gather, with the ADC and with acc."""
    x = RNG.integers(-128, 128, size=(7, 9, 2), dtype=np.int8)
    w = RNG.integers(-7, 8, size=(18, 5), dtype=np.int8)
    patches, oh, ow = _im2col(x, 3, 3, 2)
    exact = patches.astype(np.int64) @ w.astype(np.int64)
    shift = 4
    adc = np.clip(np.rint(exact / 2**shift), -128, 127).astype(np.int64) * 2**shift
    for mode, want in (("ideal", exact), ("adc", adc)):
        m = machine(mode)
        m.write_cells(ANALOG, 4, 3, w)
        put(m, "L1", 0, x, "i8")
        fields = dict(
            array=ANALOG,
            row0=4,
            col0=3,
            rows=18,
            cols=5,
            src_mem="L1",
            src_addr=0,
            seg_count=3,
            seg_len=6,
            seg_stride=18,
            inner_stride=4,
            outer_stride=36,
            n_inner=ow,
            n_outer=oh,
            dst_mem="L1",
            dst_addr=4096,
            dst_stride=24,
            adc_shift=shift,
        )
        run(m, "xb.mvm", **fields)
        got = m.load_rows("L1", 4096, "i32", oh * ow, 5, 24)
        assert np.array_equal(got, want), mode
        run(m, "xb.mvm", **{**fields, "acc": True})
        assert np.array_equal(m.load_rows("L1", 4096, "i32", oh * ow, 5, 24), 2 * want)
    assert np.abs(exact).max() > 127 * 2**shift  # the ADC really clipped something


def test_xb_mvm_digital_is_exact_and_u8():
    m = machine("adc")
    w = RNG.integers(-1, 2, size=(32, 8)).astype(np.int8)
    x = RNG.integers(0, 256, size=(3, 32), dtype=np.uint8)
    m.write_cells(DIGITAL, 0, 0, w)
    put(m, "L2", 0, x, "u8")
    run(
        m,
        "xb.mvm",
        array=DIGITAL,
        row0=0,
        col0=0,
        rows=32,
        cols=8,
        src_mem="L2",
        src_addr=0,
        src_dtype="u8",
        seg_len=32,
        inner_stride=32,
        n_inner=3,
        dst_mem="L2",
        dst_addr=1024,
        dst_stride=32,
        adc_shift=0,
    )
    want = x.astype(np.int64) @ w.astype(np.int64)
    assert np.abs(want).max() > 127  # an 8-bit ADC would have clipped
    assert np.array_equal(m.load("L2", 1024, "i32", (3, 8)), want)


# --- cluster and nonlinear kernels ---------------------------------------------------------------


def _softmax_ref(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / np.cumsum(e, axis=1, dtype=F32)[:, -1:]


def _check_rowwise(prefix, name, ref, ncores):
    m = machine()
    x = RNG.standard_normal((3, 37)).astype(F32) * 4
    put(m, "L1", 0, x, "f32")
    run(
        m,
        f"{prefix}.{name}",
        **ncores,
        src_mem="L1",
        src_addr=0,
        dst_mem="L1",
        dst_addr=1024,
        rows=3,
        n=37,
    )
    assert np.array_equal(m.load("L1", 1024, "f32", (3, 37)), ref(x))


def test_cl_softmax():
    _check_rowwise("cl", "softmax", _softmax_ref, {"ncores": 4})


def test_nl_softmax():
    _check_rowwise("nl", "softmax", _softmax_ref, {})


def _check_layernorm(prefix, ncores):
    m = machine()
    x = RNG.standard_normal((4, 24)).astype(F32) * 3 + 1
    g, b = RNG.standard_normal(24).astype(F32), RNG.standard_normal(24).astype(F32)
    put(m, "L1", 0, x, "f32")
    put(m, "L2", 0, g, "f32")
    put(m, "L2", 256, b, "f32")
    run(
        m,
        f"{prefix}.layernorm",
        **ncores,
        src_mem="L1",
        src_addr=0,
        dst_mem="L1",
        dst_addr=512,
        rows=4,
        n=24,
        gamma_mem="L2",
        gamma_addr=0,
        beta_mem="L2",
        beta_addr=256,
        eps=1e-5,
    )
    n = F32(24)
    d = x - np.cumsum(x, axis=1, dtype=F32)[:, -1:] / n
    var = np.cumsum(d * d, axis=1, dtype=F32)[:, -1:] / n
    want = d / np.sqrt(var + F32(1e-5)) * g + b
    got = m.load("L1", 512, "f32", (4, 24))
    assert np.array_equal(got, want)
    x64 = x.astype(np.float64)
    ref64 = (x64 - x64.mean(1, keepdims=True)) / np.sqrt(x64.var(1, keepdims=True) + 1e-5) * g + b
    assert np.allclose(got, ref64, atol=1e-5)


def test_cl_layernorm():
    _check_layernorm("cl", {"ncores": 8})


def test_nl_layernorm():
    _check_layernorm("nl", {})


def _check_elementwise(prefix, name, ref, atol=0.0):
    m = machine()
    x = np.concatenate([RNG.standard_normal(50) * 5, [0.0, -100.0, 100.0]]).astype(F32)
    put(m, "L1", 0, x, "f32")
    ncores = {"ncores": 2} if prefix == "cl" else {}
    run(
        m,
        f"{prefix}.{name}",
        **ncores,
        src_mem="L1",
        src_addr=0,
        dst_mem="L1",
        dst_addr=512,
        count=x.size,
    )
    got = m.load("L1", 512, "f32", x.size)
    want = ref(x)
    if atol:
        assert np.allclose(got, want, rtol=3e-7, atol=atol)
    else:
        assert np.array_equal(got, want)


def _gelu_ref(x):
    return np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(float)])


def _sigmoid_ref(x):
    with np.errstate(over="ignore"):
        return F32(1) / (F32(1) + np.exp(-x))


def test_cl_gelu():
    _check_elementwise("cl", "gelu", _gelu_ref, atol=1e-7)


def test_nl_gelu():
    _check_elementwise("nl", "gelu", _gelu_ref, atol=1e-7)


def test_cl_sigmoid():
    _check_elementwise("cl", "sigmoid", _sigmoid_ref)


def test_nl_sigmoid():
    _check_elementwise("nl", "sigmoid", _sigmoid_ref)


def test_cl_tanh():
    _check_elementwise("cl", "tanh", np.tanh)


def test_nl_tanh():
    _check_elementwise("nl", "tanh", np.tanh)


def _exp_ref(x):
    with np.errstate(over="ignore"):
        return np.exp(x.astype(np.float64)).astype(F32)


def test_cl_exp():
    _check_elementwise("cl", "exp", _exp_ref, atol=1e-30)


def test_nl_exp():
    _check_elementwise("nl", "exp", _exp_ref, atol=1e-30)


def _requant_on(unit):
    m = machine()
    acc = RNG.integers(-50_000, 50_000, size=(5, 6)).astype(np.int32)
    acc[0, 0] = 2**31 - 1
    scale = RNG.uniform(0.001, 0.01, 6).astype(F32)
    bias = RNG.uniform(-20, 20, 6).astype(F32)
    put(m, "L1", 0, acc, "i32")
    put(m, "L2", 0, scale, "f32")
    put(m, "L2", 64, bias, "f32")
    common = dict(
        src_mem="L1",
        src_addr=0,
        src_dtype="i32",
        dst_mem="L1",
        dst_addr=512,
        rows=5,
        channels=6,
        scale_mem="L2",
        scale_addr=0,
        has_bias=True,
        bias_mem="L2",
        bias_addr=64,
    )
    v = acc.astype(F32) * scale + bias
    run(
        m, f"{unit}.requant", **common, dst_dtype="i8", zp=3, lo=3.0, hi=127.0
    )  # ReLU at the zero point
    want = np.clip(np.clip(np.rint(v) + 3, 3, 127), -128, 127).astype(np.int8)
    assert np.array_equal(m.load("L1", 512, "i8", (5, 6)), want)
    assert want.min() == 3 and want.max() == 127  # both clamps were exercised
    run(m, f"{unit}.requant", **common, dst_dtype="f32")
    assert np.array_equal(m.load("L1", 512, "f32", (5, 6)), v)
    run(m, f"{unit}.requant", **common, dst_dtype="u8", zp=128)
    want = np.clip(np.rint(v) + 128, 0, 255).astype(np.uint8)
    assert np.array_equal(m.load("L1", 512, "u8", (5, 6)), want)
    with pytest.raises(CheckError, match="zp"):
        run(m, f"{unit}.requant", **common, dst_dtype="f32", zp=1)


def test_cl_requant():
    _requant_on("cl")


def test_nl_requant():
    _requant_on("nl")


def test_cl_requant_planes_offset_and_row_scale():
    m = machine()
    planes, ch, rows = 3, 4, 5
    acc = RNG.integers(-50_000, 50_000, size=(rows, planes * ch)).astype(np.int32)
    scale = RNG.uniform(-0.01, 0.01, planes * ch).astype(F32)
    offset = RNG.integers(-1000, 1000, size=planes * ch).astype(np.int32)
    rs = RNG.uniform(0.5, 2.0, rows).astype(F32)
    bias = RNG.uniform(-1, 1, ch).astype(F32)
    put(m, "L1", 0, acc, "i32")
    for addr, values, dtype in ((0, scale, "f32"), (256, offset, "i32"), (512, rs, "f32")):
        put(m, "L2", addr, values, dtype)
    put(m, "L2", 768, bias, "f32")
    run(m, "cl.requant", src_mem="L1", src_addr=0, src_dtype="i32", dst_mem="L1", dst_addr=1024,
        dst_dtype="f32", rows=rows, channels=ch, scale_mem="L2", scale_addr=0, has_bias=True,
        bias_mem="L2", bias_addr=768, planes=planes, has_offset=True, offset_mem="L2",
        offset_addr=256, has_row_scale=True, row_scale_mem="L2", row_scale_addr=512)  # fmt: skip
    t = (acc.astype(np.int64) - offset).astype(F32).reshape(rows, planes, ch)
    s = scale.reshape(planes, ch)
    v = t[:, 0] * s[0]
    for j in range(1, planes):  # planes summed in order, in float32
        v = v + t[:, j] * s[j]
    want = v * rs[:, None] + bias
    assert np.array_equal(m.load("L1", 1024, "f32", (rows, ch)), want)


def _dquant_on(unit):
    m = machine()
    x = RNG.standard_normal((3, 7)).astype(F32)
    x[1] = 0.0  # an all-zero row gets scale 1
    put(m, "L1", 0, x, "f32")
    run(m, f"{unit}.dquant", src_mem="L1", src_addr=0, dst_mem="L1", dst_addr=256, scale_mem="L1",
        scale_addr=512, rows=3, n=7, bits=8)  # fmt: skip
    scale = (np.abs(x).max(axis=1) / F32(127)).astype(F32)
    scale[1] = 1.0
    q = np.clip(np.rint(x / scale[:, None]), -127, 127).astype(np.int8)
    assert np.array_equal(m.load("L1", 512, "f32", 3), scale)
    assert np.array_equal(m.load("L1", 256, "i8", (3, 7)), q)
    assert np.abs(q[[0, 2]]).max(axis=1).tolist() == [127, 127]


def test_cl_dquant():
    _dquant_on("cl")


def test_nl_dquant():
    _dquant_on("nl")


def test_cl_call():
    from imcc.runtime.isa.calls import Call, Operand
    from imcc.runtime.kernels.onnx import KERNELS, KernelContext

    m = machine()
    x = RNG.standard_normal((1, 2, 5, 5)).astype(F32)
    w = RNG.standard_normal((3, 2, 3, 3)).astype(F32)
    put(m, "L1", 0, x, "f32")
    put(m, "L2", 0, w, "f32")
    params = {"pads": [1, 1, 1, 1], "strides": [2, 2], "group": 1}
    m.calls = [
        Call(
            "onnx.Conv",
            [Operand("L1", 0, "f32", x.shape), Operand("L2", 0, "f32", w.shape), None],
            [Operand("L1", 1024, "f32", (1, 3, 3, 3))],
            params,
            17,
        ),
        Call("onnx.Shape", [Operand("L1", 0, "f32", x.shape)], [Operand("L2", 512, "i64", (4,))]),
        Call("onnx.Relu", [Operand("L1", 0, "f32", x.shape)], [Operand("L2", 512, "f32", (9,))]),
    ]
    run(m, "cl.call", call=0)
    want = KERNELS["Conv"]([x, w, None], params, KernelContext(17))[0]
    assert np.array_equal(m.load("L1", 1024, "f32", (1, 3, 3, 3)), want)
    run(m, "cl.call", call=1)
    assert m.load("L2", 512, "i64", 4).tolist() == [1, 2, 5, 5]
    with pytest.raises(
        SimError, match=r"output 0 is float32 \[1, 2, 5, 5\], the program expects f32 \[9\]"
    ):
        run(m, "cl.call", call=2)
    with pytest.raises(CheckError, match="not in the call table"):
        run(m, "cl.call", call=3)


def _quant_on(unit):
    m = machine()
    x = np.array([0.25, 0.75, -0.25, 1.25, 100.0, -100.0, 0.5, 1.5], dtype=F32)
    put(m, "L1", 0, x, "f32")
    run(
        m,
        f"{unit}.quant",
        src_mem="L1",
        src_addr=0,
        dst_mem="L1",
        dst_addr=64,
        dst_dtype="i8",
        count=8,
        scale=0.5,
        zp=0,
    )
    # x / 0.5 = 0.5, 1.5, -0.5, 2.5, ... : ties go to even
    assert list(m.load("L1", 64, "i8", 8)) == [0, 2, 0, 2, 127, -128, 1, 3]


def test_cl_quant():
    _quant_on("cl")


def test_nl_quant():
    _quant_on("nl")


def _eltwise_on(unit, op):
    m = machine()
    a = RNG.integers(-(2**31), 2**31, size=(3, 5), dtype=np.int64).astype(np.int32)
    b = RNG.integers(-(2**31), 2**31, size=(3, 5), dtype=np.int64).astype(np.int32)
    put(m, "L1", 0, a, "i32")
    put(m, "L1", 64, b, "i32")
    run(
        m,
        f"{unit}.eltwise",
        op=op,
        dtype="i32",
        src_mem="L1",
        src_addr=0,
        src2_mem="L1",
        src2_addr=64,
        dst_mem="L1",
        dst_addr=128,
        rows=3,
        n=5,
    )
    fn = {
        "add": np.add,
        "sub": np.subtract,
        "mul": np.multiply,
        "max": np.maximum,
        "min": np.minimum,
    }
    want = np.clip(fn[op](a.astype(object), b.astype(object)), -(2**31), 2**31 - 1).astype(np.int32)
    assert np.array_equal(m.load("L1", 128, "i32", (3, 5)), want)
    fa = RNG.standard_normal((3, 5)).astype(F32)
    fb = RNG.standard_normal(5).astype(F32)
    put(m, "L1", 0, fa, "f32")
    put(m, "L1", 64, fb, "f32")
    run(
        m,
        f"{unit}.eltwise",
        op=op,
        dtype="f32",
        src_mem="L1",
        src_addr=0,
        src2_mem="L1",
        src2_addr=64,
        dst_mem="L1",
        dst_addr=0,
        rows=3,
        n=5,
        bcast=True,
    )  # in place
    assert np.array_equal(m.load("L1", 0, "f32", (3, 5)), fn[op](fa, fb[None, :]))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "max", "min"])
def test_cl_eltwise(op):
    _eltwise_on("cl", op)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "max", "min"])
def test_nl_eltwise(op):
    _eltwise_on("nl", op)


def test_cl_pool():
    m = machine()
    x = RNG.integers(-128, 128, size=(5, 6, 3), dtype=np.int8)
    put(m, "L1", 0, x, "i8")
    geo = dict(
        h=5, w=6, c=3, kh=3, kw=3, stride_h=2, stride_w=2, pad_t=1, pad_l=1, pad_b=1, pad_r=1
    )
    run(
        m,
        "cl.pool",
        op="max",
        dtype="i8",
        src_mem="L1",
        src_addr=0,
        dst_mem="L1",
        dst_addr=512,
        **geo,
    )
    run(
        m,
        "cl.pool",
        op="avg",
        dtype="i8",
        src_mem="L1",
        src_addr=0,
        dst_mem="L1",
        dst_addr=1024,
        **geo,
    )
    want_max = np.zeros((3, 3, 3), np.int8)
    want_avg = np.zeros((3, 3, 3), np.int8)
    for oy in range(3):
        for ox in range(3):
            ys = slice(max(oy * 2 - 1, 0), min(oy * 2 + 2, 5))
            xs = slice(max(ox * 2 - 1, 0), min(ox * 2 + 2, 6))
            win = x[ys, xs, :].astype(F32)
            want_max[oy, ox] = win.max(axis=(0, 1))
            total = np.cumsum(win.reshape(-1, 3), axis=0, dtype=F32)[-1]
            want_avg[oy, ox] = np.rint(total / F32(win.shape[0] * win.shape[1]))
    assert np.array_equal(m.load("L1", 512, "i8", (3, 3, 3)), want_max)
    assert np.array_equal(m.load("L1", 1024, "i8", (3, 3, 3)), want_avg)


def _check_dwconv(mnemonic, extra):
    m = machine()
    x = RNG.integers(-128, 128, size=(6, 7, 4), dtype=np.int8)
    w = RNG.integers(-128, 128, size=(3, 3, 4), dtype=np.int8)
    put(m, "L1", 0, x, "i8")
    put(m, "L2", 0, w, "i8")
    run(
        m,
        mnemonic,
        **extra,
        src_mem="L1",
        src_addr=0,
        wgt_mem="L2",
        wgt_addr=0,
        dst_mem="L1",
        dst_addr=1024,
        h=6,
        w=7,
        c=4,
        kh=3,
        kw=3,
        stride_h=1,
        stride_w=2,
        pad_t=2,
        pad_l=1,
        pad_b=2,
        pad_r=1,
        dil_h=2,
        dil_w=1,
        pad_value=-5,
    )
    xp = np.full((10, 9, 4), -5, np.int64)
    xp[2:8, 1:8] = x
    oh, ow = (10 - 4 - 1) // 1 + 1, (9 - 2 - 1) // 2 + 1
    want = np.zeros((oh, ow, 4), np.int64)
    for oy in range(oh):
        for ox in range(ow):
            for i in range(3):
                for j in range(3):
                    want[oy, ox] += xp[oy + 2 * i, 2 * ox + j] * w[i, j]
    assert np.array_equal(m.load("L1", 1024, "i32", (oh, ow, 4)), want)


def test_cl_dwconv():
    _check_dwconv("cl.dwconv", {"ncores": 8})


def test_dw_conv():
    _check_dwconv("dw.conv", {})


def test_cl_matmul():
    m = machine()
    a = RNG.integers(-128, 128, size=(3, 5), dtype=np.int8)
    bt = RNG.integers(-128, 128, size=(4, 5), dtype=np.int8)  # stored n x k
    m.store_rows("L1", 0, a, "i8", 8)
    m.store_rows("L1", 64, bt, "i8", 6)
    run(
        m,
        "cl.matmul",
        dtype="i8",
        a_mem="L1",
        a_addr=0,
        b_mem="L1",
        b_addr=64,
        dst_mem="L1",
        dst_addr=256,
        m=3,
        k=5,
        n=4,
        a_stride=8,
        b_stride=6,
        dst_stride=20,
        trans_b=True,
    )
    want = a.astype(np.int64) @ bt.T.astype(np.int64)
    assert np.array_equal(m.load_rows("L1", 256, "i32", 3, 4, 20), want)
    fa = RNG.standard_normal((2, 7)).astype(F32)
    fb = RNG.standard_normal((7, 3)).astype(F32)
    m.store("L2", 0, fa, "f32")
    m.store("L2", 256, fb, "f32")
    run(
        m,
        "cl.matmul",
        dtype="f32",
        a_mem="L2",
        a_addr=0,
        b_mem="L2",
        b_addr=256,
        dst_mem="L2",
        dst_addr=512,
        m=2,
        k=7,
        n=3,
        a_stride=28,
        b_stride=12,
        dst_stride=12,
    )
    acc = np.zeros((2, 3), F32)
    for t in range(7):  # the defined order: t ascending, product then sum, in float32
        acc = acc + fa[:, t : t + 1] * fb[t : t + 1, :]
    assert np.array_equal(m.load("L2", 512, "f32", (2, 3)), acc)


def test_cl_transpose():
    m = machine()
    x = RNG.standard_normal((3, 5)).astype(F32)
    put(m, "L1", 0, x, "f32")
    run(
        m,
        "cl.transpose",
        dtype="f32",
        src_mem="L1",
        src_addr=0,
        dst_mem="L1",
        dst_addr=100,
        rows=3,
        cols=5,
    )
    assert np.array_equal(m.load("L1", 100, "f32", (5, 3)), x.T)


def test_cl_copy():
    m = machine()
    data = RNG.integers(0, 256, 33, dtype=np.uint8)
    put(m, "L2", 5, data, "u8")
    run(m, "cl.copy", src_mem="L2", src_addr=5, dst_mem="L1", dst_addr=1, bytes=33)
    assert np.array_equal(m.mem["L1"][1:34], data) and m.mem["L1"][34] == 0


def test_cl_gather():
    m = machine()
    table = RNG.standard_normal((6, 4)).astype(F32)
    idx = np.array([5, 0, 0, 3], np.int32)
    put(m, "L2", 0, table, "f32")
    put(m, "L1", 0, idx, "i32")
    fields = dict(
        table_mem="L2",
        table_addr=0,
        idx_mem="L1",
        idx_addr=0,
        dst_mem="L1",
        dst_addr=64,
        count=4,
        n_rows=6,
        row_bytes=16,
    )
    run(m, "cl.gather", **fields)
    assert np.array_equal(m.load("L1", 64, "f32", (4, 4)), table[idx])
    put(m, "L1", 0, [1, 6, 0, 0], "i32")
    with pytest.raises(SimError, match="index 6"):
        run(m, "cl.gather", **fields)


# --- static checks shared by all instructions ----------------------------------------------------


def test_out_of_range_accesses_are_rejected_before_running():
    m = machine()
    with pytest.raises(CheckError, match="outside L1"):
        run(m, "fill", dst_mem="L1", dst_addr=16 * 1024 - 4, bytes=8)
    with pytest.raises(CheckError, match="exceeds array"):
        run(
            m,
            "xb.mvm",
            array=ANALOG,
            row0=20,
            col0=0,
            rows=16,
            cols=4,
            src_mem="L1",
            src_addr=0,
            seg_len=16,
            inner_stride=16,
            n_inner=1,
            dst_mem="L1",
            dst_addr=0,
            dst_stride=16,
        )
    with pytest.raises(CheckError, match="does not exist"):
        run(
            m,
            "xb.prog",
            array=99,
            row0=0,
            col0=0,
            rows=1,
            cols=1,
            fmt="t2",
            src_mem="L2",
            src_addr=0,
        )
    with pytest.raises(CheckError, match="seg_count"):
        run(
            m,
            "xb.mvm",
            array=ANALOG,
            row0=0,
            col0=0,
            rows=16,
            cols=4,
            src_mem="L1",
            src_addr=0,
            seg_len=15,
            inner_stride=16,
            n_inner=1,
            dst_mem="L1",
            dst_addr=0,
            dst_stride=16,
        )
    with pytest.raises(CheckError, match="rows overlap|smaller than a row"):
        run(
            m,
            "xb.mvm",
            array=ANALOG,
            row0=0,
            col0=0,
            rows=16,
            cols=4,
            src_mem="L1",
            src_addr=0,
            seg_len=16,
            inner_stride=16,
            n_inner=2,
            dst_mem="L1",
            dst_addr=0,
            dst_stride=8,
        )


def test_units_missing_from_the_target_are_rejected():
    m = machine(target=__import__("imcc.runtime.targets", fromlist=["x"]).load_target("fat"))
    with pytest.raises(CheckError, match="no depthwise unit"):
        run(
            m,
            "dw.conv",
            src_mem="L1",
            src_addr=0,
            wgt_mem="L1",
            wgt_addr=0,
            dst_mem="L1",
            dst_addr=0,
            h=3,
            w=3,
            c=1,
            kh=3,
            kw=3,
        )
    with pytest.raises(CheckError, match="no nonlinear unit"):
        run(m, "nl.exp", src_mem="L1", src_addr=0, dst_mem="L1", dst_addr=0, count=1)
