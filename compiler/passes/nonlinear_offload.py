"""nonlinear-offload: every op the arrays do not run gets a home on another unit.

The cluster's RISC-V cores are general purpose: any ONNX op the frontend accepts, and the fused
``nn`` ops, run there as a call of the cores' kernel library (``imc.kernel``: exactly the op's
semantics, a per-kernel cycle model in the target). The activation conversions around crossbar
layers become the cores' dedicated jobs (``imc.quant`` for the DAC's static quantization,
``imc.dquant`` for per-vector dynamic quantization). Where the target has a nonlinear unit,
softmax, LayerNorm and GELU run there instead (``nl.*``; the same bits as the cores' kernels),
and so do the crossbars' periphery jobs (requantization, quantization). Constants
stay constants: they become data in the program. An op with no home is refused here, before any code is emitted, with its node.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from imcc.runtime.kernels import library

from ..backend.layout import NCHW_TO_NHWC, NHWC_TO_NCHW, transpose
from ..backend.nodes import layer_name, require_static_shapes
from ..backend.target import module_target
from ..dialects import imc
from ..dialects.func import FuncOp, ReturnOp
from ..dialects.nn import GeluOp, LayerNormOp, NNOp
from ..dialects.onnx import (
    AddOp,
    ConstantOp,
    MulOp,
    NoValueOp,
    OnnxOp,
    SoftmaxOp,
    SubOp,
    module_opset,
)
from ..dialects.quant import DepthwiseConvOp, DynamicQuantizeOp, QuantizeOp, code_range
from ..ir.attributes import (
    ArrayAttr,
    DictAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
)
from ..ir.builder import Builder
from ..ir.builtin import ModuleOp
from ..ir.core import Operation
from ..ir.types import RankedTensorType, i32
from ..ir.types import none as none_type
from ..pm import Pass, PassFailure, register_pass
from .combined_stationary_map import requant_attrs

#: Ops that are data or structure, not work: they stay as they are.
KEPT = (ConstantOp, NoValueOp, FuncOp, ReturnOp, ModuleOp)


def is_placed(op: Operation) -> bool:
    """Whether ``op`` is allowed at the imc level (an imc job, data, or structure)."""
    return isinstance(op, (imc.ImcOp, *KEPT))


@register_pass
@dataclass(frozen=True)
class NonlinearOffloadPass(Pass):
    """Turns every op that is not a crossbar job into a job of the cluster cores: quantize and
    dynamic_quantize into ``imc.quant`` / ``imc.dquant``, every onnx and nn op into an
    ``imc.kernel`` call of the cores' library. Refuses, naming the op and its ONNX node, an op
    no unit can run."""

    name = "nonlinear-offload"
    summary = "Give every non-crossbar op a home: cluster kernels, quantization jobs"

    def run(self, module: ModuleOp) -> bool:
        target = module_target(module)
        ncores = int(target.cores.count)
        opset = module_opset(module)
        changed = False
        dw_unit = "dw" if target.dwunit is not None else "cluster"
        has_nl = target.nlunit is not None
        for func in [op for op in module.body.ops if isinstance(op, FuncOp)]:
            for op in list(func.body.ops):
                if is_placed(op):
                    continue
                if isinstance(op, DepthwiseConvOp):
                    _depthwise(op, dw_unit, ncores, opset)
                    changed = True
                    continue
                new = _convert(op, ncores, opset)
                if has_nl and on_nonlinear_unit(op):
                    new.attributes["unit"] = StringAttr("nl")
                Builder.before(op).insert(new)
                for old, value in zip(op.results, new.results):
                    old.replace_all_uses_with(value)
                op.erase()
                changed = True
            if has_nl:
                changed |= _periphery_on_nonlinear_unit(func)
        return changed

    def requires(self, module: ModuleOp) -> None:
        require_static_shapes(module)

    def ensures(self, module: ModuleOp) -> None:
        for op in module.walk():
            if not is_placed(op):
                raise PassFailure(f"'{op.name}' has no unit to run on", op.location)


def _periphery_on_nonlinear_unit(func: FuncOp) -> bool:
    """Move the crossbars' periphery jobs (requantization, static and per-vector quantization)
    from the cores to the nonlinear unit: the same instructions, ``nl.*`` for ``cl.*``."""
    changed = False
    for op in func.body.ops:
        if (
            isinstance(op, imc.RequantOp | imc.QuantOp | imc.DQuantOp)
            and op.get_attr("unit") == "cluster"
        ):
            op.attributes["unit"] = StringAttr("nl")
            changed = True
    return changed


#: Kernel name -> (``nl.eltwise`` op, whether the operands commute) of the float32 elementwise
#: ops the nonlinear unit runs: residual adds, and the like.
ELTWISE = {AddOp.name: ("add", True), SubOp.name: ("sub", False), MulOp.name: ("mul", True)}


def eltwise_form(kernel: str, a, b, y) -> tuple[bool, bool] | None:
    """How ``nl.eltwise`` computes ``y = a op b`` (types): ``(swap, bcast)`` — the operands
    swapped (a row plus a matrix), the second one a row used for every row — or None when it
    cannot: float32 only, equal shapes or one operand a single row of the last axis."""
    if kernel not in ELTWISE or not all(isinstance(t, RankedTensorType) for t in (a, b, y)):
        return None
    if any(str(t.element_type) != "f32" for t in (a, b, y)) or not y.rank or not y.shape[-1]:
        return None
    row = (y.shape[-1],)

    def is_row(t) -> bool:
        return tuple(d for d in t.shape[:-1] if d != 1) == () and t.shape[-1:] == row

    if a.shape == y.shape and b.shape == y.shape:
        return False, False
    if a.shape == y.shape and is_row(b):
        return False, True
    if ELTWISE[kernel][1] and b.shape == y.shape and is_row(a):
        return True, True
    return None


def on_nonlinear_unit(op: Operation) -> bool:
    """Whether the nonlinear unit's instructions compute ``op`` (the same bits as the cores'
    kernel, see ``runtime/kernels/nonlinear``): a float32 softmax over the last axis, GELU (erf
    form), LayerNorm over the last axis with a scale and a shift of that axis's length, or a
    float32 add, subtract or multiply of equal shapes or by one row (`eltwise_form`)."""
    if op.name in ELTWISE and len(op.operands) == 2:
        a, b = (v.type for v in op.operands)
        return eltwise_form(op.name, a, b, op.results[0].type) is not None
    if not all(isinstance(v.type, RankedTensorType) for v in (*op.operands[:1], *op.results[:1])):
        return False
    x = op.operands[0].type
    if str(x.element_type) != "f32" or str(op.results[0].type.element_type) != "f32":
        return False
    if isinstance(op, GeluOp):
        return op.get_attr("approximate") == "none"
    if isinstance(op, SoftmaxOp):
        axis = op.get_attr("axis")
        if axis is None:
            axis = -1 if module_opset(op) >= 13 else 1
        return x.rank > 0 and axis % x.rank == x.rank - 1
    if isinstance(op, LayerNormOp) and x.rank and op.get_attr("axis") % x.rank == x.rank - 1:
        n = x.shape[-1]
        affine = op.operands[1:3]
        return len(affine) == 2 and all(
            isinstance(v.type, RankedTensorType)
            and str(v.type.element_type) == "f32"
            and int(np.prod(v.type.shape)) == n
            for v in affine
        )
    return False


def _common(op: Operation, ncores: int) -> dict:
    return {
        "unit": StringAttr("cluster"),
        "ncores": IntegerAttr(ncores),
        "layer": StringAttr(layer_name(op)),
        "buffers": imc.unallocated(),
    }


def _convert(op: Operation, ncores: int, opset: int) -> Operation:
    loc = op.location
    if isinstance(op, QuantizeOp):
        lo, hi = code_range(op.results[0].type.element_type, op.get_attr("bits"))
        attrs = {
            "scale": FloatAttr(op.get_attr("scale")),
            "zp": IntegerAttr(op.get_attr("zero_point")),
            "lo": IntegerAttr(lo),
            "hi": IntegerAttr(hi),
            **_common(op, ncores),
        }
        return imc.QuantOp.create(list(op.operands), op.result_types, attrs, location=loc)
    if isinstance(op, DynamicQuantizeOp):
        attrs = {"bits": IntegerAttr(op.get_attr("bits")), **_common(op, ncores)}
        return imc.DQuantOp.create(list(op.operands), op.result_types, attrs, location=loc)
    if isinstance(op, OnnxOp | NNOp):
        if not library.has_kernel(op.name):
            raise PassFailure(
                f"no unit of the target runs '{op.name}' (node '{layer_name(op)}'): the cores' "
                "kernel library has no kernel for it",
                loc,
            )
        params = DictAttr(tuple((k, v) for k, v in op.attributes.items() if "." not in k))
        attrs = {
            "kernel": StringAttr(op.name),
            "params": params,
            "opset": IntegerAttr(opset),
            **_common(op, ncores),
        }
        return imc.KernelOp.create(list(op.operands), op.result_types, attrs, location=loc)
    raise PassFailure(
        f"no unit of the target runs '{op.name}' (node '{layer_name(op)}')", op.location
    )


def _depthwise(op: DepthwiseConvOp, unit: str, ncores: int, opset: int) -> None:
    """quant.dwconv -> NHWC transpose, imc.dwconv on the depthwise unit (or the cores), the
    readout (imc.requant) and the transpose back; fold-layout removes the transposes."""
    b = Builder.before(op)
    loc = op.location
    g = op.geometry()
    x = transpose(b, op.operands[0], NCHW_TO_NHWC, opset, ncores, loc)
    n, c, ho, wo = op.results[0].type.shape
    ints = lambda v: ArrayAttr(tuple(IntegerAttr(int(i)) for i in v))  # noqa: E731
    attrs = {
        "weights": op.attributes["weights"],
        "kernel": ints(g["kernel_shape"]),
        "strides": ints(g["strides"]),
        "pads": ints(g["pads"]),
        "dilations": ints(g["dilations"]),
        "pad_value": IntegerAttr(op.get_attr("input_zero_point")),
        **_common(op, ncores),
        "unit": StringAttr(unit),
    }
    acc_t = RankedTensorType((n, ho, wo, c), i32)
    dw = b.insert(imc.DwConvOp.create([x], [acc_t], attrs, location=loc))
    acc2d = b.insert(
        imc.ReshapeOp.create(dw.results, [RankedTensorType((n * ho * wo, c), i32)], location=loc)
    )
    rq_attrs = requant_attrs(op.readout_params(), "cluster", ncores, layer_name(op))
    none = b.insert(NoValueOp.create(result_types=[none_type], location=loc)).results[0]
    nhwc = RankedTensorType((n, ho, wo, c), op.results[0].type.element_type)
    rq = b.insert(imc.RequantOp.create([acc2d.results[0], none], [nhwc], rq_attrs, location=loc))
    y = transpose(b, rq.results[0], NHWC_TO_NCHW, opset, ncores, loc)
    op.results[0].replace_all_uses_with(y)
    op.erase()
