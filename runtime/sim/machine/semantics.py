"""What each instruction does to the machine: one short function per mnemonic.

`SEMANTICS` maps every mnemonic of the ISA table to a function ``(machine, fields) -> None``. The
arithmetic lives in `numerics`; these functions only move operands between memory and numerics.
Large operands are read through `Machine.view` (no copy) where the kernel computes its whole
result into new arrays before the store, so overlapping source and destination stay correct.
Fields are assumed to have passed `footprint.check_program` (static checks); what can only be
known while running (packed codes, gather indices, events) raises `SimError` here.
"""

from __future__ import annotations

import numpy as np

from ...isa.packing import check_packed, packed_nbytes, unpack
from ...isa.table import BY_MNEMONIC
from ...kernels import library
from . import numerics as nx
from .footprint import out_hw
from .machine import Machine, SimError, np_dtype

# --- control ---------------------------------------------------------------------------------


def _halt(m: Machine, f) -> None:
    m.halted = True


def _barrier(m: Machine, f) -> None:
    """Only timing: program order already orders everything functionally."""


def _wait(m: Machine, f) -> None:
    if f["ev"] not in m.events:
        raise SimError(f"wait on event {f['ev']}, which was not signalled: the program would hang")
    m.events.discard(f["ev"])


def _signal(m: Machine, f) -> None:
    m.events.add(f["ev"])


# --- dma -------------------------------------------------------------------------------------


def _dma(m: Machine, f) -> None:
    rows = m.load_rows(
        f["src_mem"], f["src_addr"], "u8", f["rows"], f["row_bytes"], f["src_stride"]
    )
    m.store_rows(f["dst_mem"], f["dst_addr"], rows, "u8", f["dst_stride"])


def _fill(m: Machine, f) -> None:
    m.region(f["dst_mem"], f["dst_addr"], f["bytes"])[:] = f["value"]


# --- arrays ----------------------------------------------------------------------------------


# Values a checked packed format can hold (t2's code 10 and i4's -8 are rejected on reading).
PACKED_RANGE = {"t2": (-1, 1), "i4": (-7, 7)}


def _xb_prog(m: Machine, f) -> None:
    count = f["rows"] * f["cols"]
    raw = m.region(f["src_mem"], f["src_addr"], packed_nbytes(f["fmt"], count))
    problem = check_packed(f["fmt"], raw, count) if count else None
    if problem and "padding" not in problem:  # bits after the last weight may hold anything
        raise SimError(f"packed weights at {f['src_mem']}:{f['src_addr']}: {problem}")
    values = unpack(f["fmt"], raw, count).reshape(f["rows"], f["cols"])
    m.write_cells(f["array"], f["row0"], f["col0"], values, PACKED_RANGE[f["fmt"]])


def _xb_write(m: Machine, f) -> None:
    values = m.load_rows(f["src_mem"], f["src_addr"], "i8", f["rows"], f["cols"], f["src_stride"])
    # int8 values: no scan when the cells hold all of them (dynamic arrays of int8 cells)
    m.write_cells(f["array"], f["row0"], f["col0"], values, (-128, 127))


def _xb_mvm(m: Machine, f) -> None:
    x = nx.gather_vectors(
        m.mem[f["src_mem"]],
        f["src_addr"],
        f["n_outer"],
        f["n_inner"],
        f["outer_stride"],
        f["inner_stride"],
        f["seg_count"],
        f["seg_len"],
        f["seg_stride"],
        f["n_batch"],
        f["batch_stride"],
    ).view(np_dtype(f["src_dtype"]))
    y = m.evaluate(f["array"], f["row0"], f["col0"], f["cols"], x, f["adc_shift"])
    dst = (f["dst_mem"], f["dst_addr"])
    if f["acc"]:
        old = m.load_rows(*dst, "i32", y.shape[0], f["cols"], f["dst_stride"])
        y = nx.accumulate_i32(old, y)
    m.store_rows(*dst, y, "i32", f["dst_stride"])


# --- cluster and nonlinear kernels -------------------------------------------------------------


def _rowwise(fn):
    def run(m: Machine, f) -> None:
        x = m.view(f["src_mem"], f["src_addr"], "f32", (f["rows"], f["n"]))
        m.store(f["dst_mem"], f["dst_addr"], fn(x), "f32")

    run.__doc__ = f"dst = {fn.__name__}(src) row by row."
    return run


def _layernorm(m: Machine, f) -> None:
    x = m.view(f["src_mem"], f["src_addr"], "f32", (f["rows"], f["n"]))
    gamma = m.view(f["gamma_mem"], f["gamma_addr"], "f32", f["n"])
    beta = m.view(f["beta_mem"], f["beta_addr"], "f32", f["n"])
    m.store(f["dst_mem"], f["dst_addr"], nx.layernorm(x, gamma, beta, f["eps"]), "f32")


def _elementwise(fn):
    def run(m: Machine, f) -> None:
        x = m.view(f["src_mem"], f["src_addr"], "f32", f["count"])
        m.store(f["dst_mem"], f["dst_addr"], fn(x), "f32")

    run.__doc__ = f"dst = {fn.__name__}(src) elementwise."
    return run


def _requant(m: Machine, f) -> None:
    rows, ch, planes = f["rows"], f["channels"], f["planes"]
    x = m.view(f["src_mem"], f["src_addr"], f["src_dtype"], (rows, planes * ch))
    scale = m.load(f["scale_mem"], f["scale_addr"], "f32", planes * ch)
    bias = m.load(f["bias_mem"], f["bias_addr"], "f32", ch) if f["has_bias"] else None
    dtype = np_dtype(f["dst_dtype"])
    if planes == 1 and not f["has_offset"] and not f["has_row_scale"]:
        y = nx.requant(x, scale, bias, f["zp"], f["lo"], f["hi"], dtype)
    else:
        offset = (
            m.load(f["offset_mem"], f["offset_addr"], "i32", planes * ch)
            if f["has_offset"]
            else None
        )
        rs = (
            m.load(f["row_scale_mem"], f["row_scale_addr"], "f32", rows)
            if f["has_row_scale"]
            else None
        )
        y = nx.requant_planes(x, planes, scale, offset, rs, bias, f["zp"], f["lo"], f["hi"], dtype)
    m.store(f["dst_mem"], f["dst_addr"], y, f["dst_dtype"])


def _quant(m: Machine, f) -> None:
    x = m.view(f["src_mem"], f["src_addr"], "f32", f["count"])
    y = nx.quant(x, f["scale"], f["zp"], np_dtype(f["dst_dtype"]), f["lo"], f["hi"])
    m.store(f["dst_mem"], f["dst_addr"], y, f["dst_dtype"])


def _dquant(m: Machine, f) -> None:
    x = m.view(f["src_mem"], f["src_addr"], "f32", (f["rows"], f["n"]))
    q, scales = nx.dquant(x, f["bits"])
    m.store(f["dst_mem"], f["dst_addr"], q, "i8")
    m.store(f["scale_mem"], f["scale_addr"], scales, "f32")


def _call(m: Machine, f) -> None:
    call_kernel(m, f, m.load)


def call_kernel(m: Machine, f, load, outs=None) -> None:
    """cl.call: the call's kernel on its operands read by ``load`` (a copy, or a read-only view
    when no output can overwrite an input before the kernel is done with it); each result is
    stored, or copied into ``outs[i]`` (a writable view of its operand's memory) when given."""
    c = m.calls[f["call"]]
    inputs = [None if op is None else load(op.mem, op.addr, op.dtype, op.shape) for op in c.inputs]
    # the outputs the node asks for: up to its last present one (absent ones in between stay
    # absent), as the interpreter counts them
    wanted = max((i + 1 for i, op in enumerate(c.outputs) if op is not None), default=0)
    try:
        outputs = library.call(c.kernel, inputs, c.params, c.opset, wanted, c.layout)
    except library.KernelError as err:
        raise SimError(f"call {f['call']} ({c.kernel}): {err}") from None
    for i, (op, y) in enumerate(zip(c.outputs, outputs)):
        if op is None:
            continue
        y = np.asarray(y)
        if y.dtype != np_dtype(op.dtype).newbyteorder("=") or y.shape != tuple(op.shape):
            raise SimError(
                f"call {f['call']} ({c.kernel}): output {i} is {y.dtype} {list(y.shape)}, the "
                f"program expects {op.dtype} {list(op.shape)}"
            )
        if outs is None:
            m.store(op.mem, op.addr, y, op.dtype)
        else:
            np.copyto(outs[i], y)  # one copy, strided results (transposes) too


def _eltwise(m: Machine, f) -> None:
    shape = (f["rows"], f["n"])
    a = m.load(f["src_mem"], f["src_addr"], f["dtype"], shape)
    b = m.load(f["src2_mem"], f["src2_addr"], f["dtype"], f["n"] if f["bcast"] else shape)
    y = nx.eltwise(f["op"], a, b, np_dtype(f["dtype"]))
    m.store(f["dst_mem"], f["dst_addr"], y, f["dtype"])


def _hwc_geometry(f):
    stride = (f["stride_h"], f["stride_w"])
    pads = (f["pad_t"], f["pad_l"], f["pad_b"], f["pad_r"])
    return stride, pads


def _pool(m: Machine, f) -> None:
    out_hw(f)
    x = m.load(f["src_mem"], f["src_addr"], f["dtype"], (f["h"], f["w"], f["c"]))
    stride, pads = _hwc_geometry(f)
    y = nx.pool(f["op"], x, f["kh"], f["kw"], stride, pads)
    m.store(f["dst_mem"], f["dst_addr"], y, f["dtype"])


def _dwconv(m: Machine, f) -> None:
    out_hw(f)
    x = m.view(f["src_mem"], f["src_addr"], f["src_dtype"], (f["h"], f["w"], f["c"]))
    w = m.load(f["wgt_mem"], f["wgt_addr"], "i8", (f["kh"], f["kw"], f["c"]))
    stride, pads = _hwc_geometry(f)
    y = nx.dwconv(x, w, stride, pads, (f["dil_h"], f["dil_w"]), f["pad_value"])
    m.store(f["dst_mem"], f["dst_addr"], y, "i32")


def _matmul(m: Machine, f) -> None:
    dt = f["dtype"]
    a = m.load_rows(f["a_mem"], f["a_addr"], dt, f["m"], f["k"], f["a_stride"])
    if f["trans_b"]:
        b = m.load_rows(f["b_mem"], f["b_addr"], dt, f["n"], f["k"], f["b_stride"]).T
    else:
        b = m.load_rows(f["b_mem"], f["b_addr"], dt, f["k"], f["n"], f["b_stride"])
    y = nx.matmul_i8(a, b) if dt == "i8" else nx.matmul_f32(a, b)
    m.store_rows(f["dst_mem"], f["dst_addr"], y, "i32" if dt == "i8" else "f32", f["dst_stride"])


def _transpose(m: Machine, f) -> None:
    x = m.load(f["src_mem"], f["src_addr"], f["dtype"], (f["rows"], f["cols"]))
    m.store(f["dst_mem"], f["dst_addr"], np.ascontiguousarray(x.T), f["dtype"])


def _copy(m: Machine, f) -> None:
    data = m.region(f["src_mem"], f["src_addr"], f["bytes"]).copy()
    m.region(f["dst_mem"], f["dst_addr"], f["bytes"])[:] = data


def _gather(m: Machine, f) -> None:
    idx = m.load(f["idx_mem"], f["idx_addr"], "i32", f["count"]).astype(np.int64)
    bad = (idx < 0) | (idx >= f["n_rows"])
    if bad.any():
        raise SimError(f"gather index {idx[bad][0]} outside 0..{f['n_rows'] - 1}")
    table = m.load(f["table_mem"], f["table_addr"], "u8", (f["n_rows"], f["row_bytes"]))
    m.store(f["dst_mem"], f["dst_addr"], table[idx], "u8")


SEMANTICS = {
    "halt": _halt,
    "barrier": _barrier,
    "wait": _wait,
    "signal": _signal,
    "dma": _dma,
    "fill": _fill,
    "xb.prog": _xb_prog,
    "xb.write": _xb_write,
    "xb.mvm": _xb_mvm,
    "cl.requant": _requant,
    "cl.quant": _quant,
    "cl.dquant": _dquant,
    "cl.call": _call,
    "cl.eltwise": _eltwise,
    "cl.pool": _pool,
    "cl.dwconv": _dwconv,
    "cl.matmul": _matmul,
    "cl.transpose": _transpose,
    "cl.copy": _copy,
    "cl.gather": _gather,
    "dw.conv": _dwconv,
}
for _name in ("requant", "quant", "dquant", "eltwise"):  # the same job on the nonlinear unit
    SEMANTICS[f"nl.{_name}"] = SEMANTICS[f"cl.{_name}"]
for _prefix in ("cl", "nl"):
    SEMANTICS[f"{_prefix}.softmax"] = _rowwise(nx.softmax)
    SEMANTICS[f"{_prefix}.layernorm"] = _layernorm
    for _fn in (nx.gelu, nx.sigmoid, nx.tanh, nx.exp):
        SEMANTICS[f"{_prefix}.{_fn.__name__}"] = _elementwise(_fn)

_missing = sorted(set(BY_MNEMONIC) - set(SEMANTICS))
if _missing:  # the table grew: every instruction needs semantics before it can run
    raise ImportError(f"no semantics for {', '.join(_missing)}")


def execute(m: Machine, ins) -> None:
    """Run one decoded instruction on ``m``."""
    SEMANTICS[ins.mnemonic](m, ins.fields)
