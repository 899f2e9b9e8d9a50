"""dynamic-array-map: the run-time products (``quant.dynamic_matmul``) onto the dynamic arrays.

For every group (batch, head) of a product, every column tile of the array's width and every row
tile of its height, an ``imc.write`` puts that tile of the written operand (Kᵀ or V codes) into
a dynamic array and an ``imc.mvm`` streams the group's input vectors (Q or P codes) through it,
the row tiles' ADC readings adding up in one int32 accumulator. Consecutive writes go to
consecutive arrays of the group, so the write of one tile overlaps the products of the tiles
before it (``schedule`` sees the cells each write replaces and orders reuse of an array after
its reads). The float result is the accumulator cast to float32 times the per-row scales and,
when present, the per-column scales: cores' jobs ``nonlinear-offload`` places.

A product whose ``quant.head_axis`` names the axis of its leading (group) dimensions that is the
attention head (``attention-split`` sets it) gives every write and MVM of a group that head as
``head``; the debug table carries it into prog.bin, and the run report has a row per head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..backend.nodes import layer_name
from ..backend.target import module_target
from ..dialects import imc
from ..dialects import onnx as onnx_dialect
from ..dialects.quant import DynamicMatmulOp
from ..ir.attributes import BoolAttr, IntegerAttr, StringAttr
from ..ir.builder import Builder
from ..ir.builtin import ModuleOp
from ..ir.types import RankedTensorType, f32, i32
from ..pm import Pass, PassFailure, register_pass
from .attention_split import dynamic_group


@register_pass
@dataclass(frozen=True)
class DynamicArrayMapPass(Pass):
    """Turns every ``quant.dynamic_matmul`` into writes of its run-time operand into the
    target's dynamic arrays and MVM jobs over them, round robin over the arrays."""

    name = "dynamic-array-map"
    summary = "Map run-time products (attention) onto the dynamic arrays: xb.write + xb.mvm"

    def run(self, module: ModuleOp) -> bool:
        products = [op for op in module.walk() if isinstance(op, DynamicMatmulOp)]
        if not products:
            return False
        target = module_target(module)
        group = dynamic_group(target)
        if group is None:
            raise PassFailure(
                f"target '{target.name}' has no dynamic arrays for this product",
                products[0].location,
            )
        counter = _RoundRobin(group.first, int(group.count))
        for op in products:
            # attention-split names its products' roles (QK, PV) in a discardable attribute
            role = op.get_attr("quant.role") or "product"
            _rewrite(op, group, counter, f"{layer_name(op)} {role}")
        return True

    def ensures(self, module: ModuleOp) -> None:
        for op in module.walk():
            if isinstance(op, DynamicMatmulOp):
                raise PassFailure("a run-time product was left unmapped", op.location)


class _RoundRobin:
    def __init__(self, first: int, count: int):
        self.first, self.count, self.next = first, count, 0

    def take(self) -> int:
        array = self.first + self.next
        self.next = (self.next + 1) % self.count
        return array


def _heads(op: DynamicMatmulOp, lead: list[int]):
    """``group index -> {"head": head}`` for a product whose ``quant.head_axis`` names its head
    axis among the leading dimensions ``lead`` (groups run in row-major order over them);
    ``-> {}`` for any other product."""
    axis = op.get_attr("quant.head_axis")
    if axis is None:
        return lambda g: {}
    if not 0 <= axis < len(lead):
        raise PassFailure(
            f"quant.head_axis {axis} is not one of the product's {len(lead)} group axes",
            op.location,
        )
    inner = math.prod(lead[axis + 1 :])
    return lambda g: {"head": IntegerAttr(g // inner % lead[axis])}


def _rewrite(op: DynamicMatmulOp, group, arrays: _RoundRobin, name: str) -> None:
    a, a_scale, bt = op.operands[:3]
    b_scale = op.b_scale()
    *lead, m, k = a.type.shape
    n = bt.type.shape[-1]
    groups = math.prod(lead)
    rows = min(int(op.get_attr("array_rows")), int(group.rows))
    if rows != int(op.get_attr("array_rows")):
        raise PassFailure(
            f"the product reads {op.get_attr('array_rows')} rows per ADC reading; the dynamic "
            f"arrays have {group.rows}",
            op.location,
        )
    cols = int(group.cols)
    heads = _heads(op, lead)
    loc = op.location
    b = Builder.before(op)
    acc_type = RankedTensorType((groups * m, n), i32)
    acc = b.insert(
        imc.EmptyOp.create(
            result_types=[acc_type], attributes={"buffers": imc.unallocated()}, location=loc
        )
    ).results[0]
    shift = IntegerAttr(int(op.get_attr("adc_shift")))
    for g in range(groups):
        for c0 in range(0, n, cols):
            width = min(cols, n - c0)
            for r0 in range(0, k, rows):
                height = min(rows, k - r0)
                write = imc.WriteOp.create(
                    [bt],
                    [imc.window_type(height, width)],
                    {
                        "src_offset": IntegerAttr((g * k + r0) * n + c0),
                        "src_stride": IntegerAttr(n),
                        "array": IntegerAttr(arrays.take()),
                        "row0": IntegerAttr(0),
                        "col0": IntegerAttr(0),
                        "layer": StringAttr(name),
                        **heads(g),
                    },
                    location=loc,
                )
                window = b.insert(write).results[0]
                gather = {
                    "x_offset": g * m * k + r0,
                    "seg_count": 1,
                    "seg_len": height,
                    "seg_stride": 0,
                    "inner_stride": k,
                    "outer_stride": 0,
                    "n_inner": m,
                    "n_outer": 1,
                    "dst_row": g * m,
                    "dst_col": c0,
                }
                attrs = {key: IntegerAttr(v) for key, v in gather.items()}
                attrs.update(
                    acc_mode=BoolAttr(r0 > 0),
                    adc_shift=shift,
                    layer=StringAttr(name),
                    buffers=imc.unallocated(),
                    **heads(g),
                )
                mvm = imc.MvmOp.create([a, window, acc], [acc_type], attrs, location=loc)
                acc = b.insert(mvm).results[0]
    shaped = RankedTensorType((*lead, m, n), i32)
    acc = b.insert(imc.ReshapeOp.create([acc], [shaped], location=loc)).results[0]
    y_type = RankedTensorType((*lead, m, n), f32)
    ops = onnx_dialect.ONNX_OPS
    y = b.insert(ops["Cast"].create([acc], [y_type], {"to": IntegerAttr(1)}, location=loc)).results[
        0
    ]
    for scale in (a_scale, b_scale):
        if scale is not None:
            y = b.insert(ops["Mul"].create([y, scale], [y_type], location=loc)).results[0]
    op.results[0].replace_all_uses_with(y)
    op.erase()
