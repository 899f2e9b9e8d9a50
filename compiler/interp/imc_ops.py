"""Reference semantics of the ``imc`` dialect, registered with the interpreter on import.

Every function calls the runtime's own arithmetic (``imcc.runtime.sim.machine.numerics``) and the
cores' kernel library (``imcc.runtime.kernels.library``), the very functions the simulator runs for
the instructions these ops become: a module at the imc level and its binary agree bit for bit by
construction. Arrays read through the target's ADC (the simulator's default ``adc`` mode); digital
arrays give exact sums.
"""

from __future__ import annotations

import numpy as np
from imcc.runtime.kernels import library
from imcc.runtime.sim.machine import numerics as nx

from ..backend.target import module_target, weight_group
from ..dialects import imc
from ..ir.core import Operation
from ..ir.types import NoneType, numpy_dtype
from .interpreter import Array, Interpreter, InterpreterError, register_interpreter


def _fail(op: Operation, message: str):
    raise InterpreterError(f"'{op.name}' {message}", op.location)


@register_interpreter(imc.WeightsOp)
def _weights(op: imc.WeightsOp, inputs: list[Array], interp: Interpreter) -> list[Array]:
    return [op.attributes["cells"].array]


@register_interpreter(imc.WriteOp)
def _write(op: imc.WriteOp, inputs: list[Array], interp: Interpreter) -> list[Array]:
    rows, cols = op.shape
    flat = np.ascontiguousarray(inputs[0]).reshape(-1)
    start, stride = int(op.get_attr("src_offset")), int(op.get_attr("src_stride"))
    index = start + stride * np.arange(rows)[:, None] + np.arange(cols)[None, :]
    return [flat[index]]


def _array_group(op: imc.MvmOp, interp: Interpreter):
    target = module_target(interp.module)
    window = op.operands[1].owner
    index = window.get_attr("array") if isinstance(window, imc.WeightsOp | imc.WriteOp) else None
    if index is None:
        return weight_group(target)
    return target.group_of(int(index))


@register_interpreter(imc.MvmOp)
def _mvm(op: imc.MvmOp, inputs: list[Array], interp: Interpreter) -> list[Array]:
    x, cells, acc = inputs
    g = op.gather()
    flat = np.ascontiguousarray(x).reshape(-1)
    vectors = nx.gather_vectors(
        flat,
        g["x_offset"],
        g["n_outer"],
        g["n_inner"],
        g["outer_stride"],
        g["inner_stride"],
        g["seg_count"],
        g["seg_len"],
        g["seg_stride"],
        g["n_batch"],
        g["batch_stride"],
    )
    y = nx.exact_matmul(vectors, cells)
    group = _array_group(op, interp)
    if group.kind == "digital":
        y = nx.saturate(y, np.int32)
    else:
        y = nx.adc(y, int(op.get_attr("adc_shift")), int(group.adc_bits))
    out = np.array(acc, dtype=np.int32, copy=True)
    r0, c0 = op.get_attr("dst_row"), op.get_attr("dst_col")
    block = (slice(r0, r0 + y.shape[0]), slice(c0, c0 + y.shape[1]))
    out[block] = nx.accumulate_i32(out[block], y) if op.get_attr("acc_mode") else y
    return [out]


@register_interpreter(imc.RequantOp)
def _requant(op: imc.RequantOp, inputs: list[Array], interp: Interpreter) -> list[Array]:
    x, row_scale = inputs
    y_type = op.results[0].type
    y = nx.requant_planes(
        x,
        int(op.get_attr("planes")),
        op.dense("scale"),
        op.dense("offset"),
        row_scale,
        op.dense("bias"),
        int(op.get_attr("zp")),
        op.get_attr("lo"),
        op.get_attr("hi"),
        numpy_dtype(y_type.element_type),
    )
    return [y.reshape(y_type.shape)]


@register_interpreter(imc.QuantOp)
def _quant(op: imc.QuantOp, inputs: list[Array], interp: Interpreter) -> list[Array]:
    dtype = numpy_dtype(op.results[0].type.element_type)
    scale, zp, lo, hi = (op.get_attr(k) for k in ("scale", "zp", "lo", "hi"))
    q = nx.quant(inputs[0], scale, zp, dtype, lo, hi)
    return [q]


@register_interpreter(imc.DQuantOp)
def _dquant(op: imc.DQuantOp, inputs: list[Array], interp: Interpreter) -> list[Array]:
    x = inputs[0]
    q, scales = nx.dquant(x.reshape(-1, x.shape[-1]), int(op.get_attr("bits")))
    return [q.reshape(x.shape), scales.reshape(op.results[1].type.shape)]


@register_interpreter(imc.DwConvOp)
def _dwconv(op: imc.DwConvOp, inputs: list[Array], interp: Interpreter) -> list[Array]:
    _, strides, pads, dil = op.geometry()
    w, pad = op.attributes["weights"].array, int(op.get_attr("pad_value"))
    return [np.stack([nx.dwconv(img, w, strides, pads, dil, pad) for img in inputs[0]])]


@register_interpreter(imc.KernelOp)
def _kernel(op: imc.KernelOp, inputs: list[Array], interp: Interpreter) -> list[Array]:
    present = [not isinstance(r.type, NoneType) for r in op.results]
    wanted = max((i + 1 for i, p in enumerate(present) if p), default=0)
    try:
        outputs = library.call(
            op.get_attr("kernel"),
            inputs,
            op.get_attr("params"),
            int(op.get_attr("opset")),
            wanted,
            op.get_attr("layout", ""),
        )
    except library.KernelError as exc:
        _fail(op, f"failed: {exc}")
    outputs = list(outputs) + [None] * (len(present) - len(outputs))
    return [np.asarray(out) if p else None for out, p in zip(outputs, present)]


@register_interpreter(imc.EmptyOp)
def _empty(op: imc.EmptyOp, inputs: list[Array], interp: Interpreter) -> list[Array]:
    t = op.results[0].type
    return [np.zeros(t.shape, dtype=numpy_dtype(t.element_type))]


@register_interpreter(imc.PadOp)
def _pad(op: imc.PadOp, inputs: list[Array], interp: Interpreter) -> list[Array]:
    t, left, b, r = op.get_attr("pads")
    x = inputs[0]
    return [np.pad(x, ((0, 0), (t, b), (left, r), (0, 0)), constant_values=op.get_attr("value"))]


@register_interpreter(imc.CopyOp)
def _copy(op: imc.CopyOp, inputs: list[Array], interp: Interpreter) -> list[Array]:
    return [np.array(inputs[0], copy=True)]


def _box(op, shape) -> tuple[slice, ...]:
    return tuple(slice(o, o + n) for o, n in zip(op.get_attr("offsets"), shape))


@register_interpreter(imc.ExtractOp)
def _extract(op: imc.ExtractOp, inputs: list[Array], interp: Interpreter) -> list[Array]:
    return [np.array(inputs[0][_box(op, op.results[0].type.shape)], copy=True)]


@register_interpreter(imc.InsertOp)
def _insert(op: imc.InsertOp, inputs: list[Array], interp: Interpreter) -> list[Array]:
    part, dest = inputs
    y = np.array(dest, copy=True)
    y[_box(op, part.shape)] = part
    return [y]


@register_interpreter(imc.ReshapeOp)
def _reshape(op: imc.ReshapeOp, inputs: list[Array], interp: Interpreter) -> list[Array]:
    return [np.ascontiguousarray(inputs[0]).reshape(op.results[0].type.shape)]


@register_interpreter(imc.BarrierOp, imc.SignalOp, imc.WaitOp)
def _sync(op: Operation, inputs: list[Array], interp: Interpreter) -> list[Array]:
    return []
