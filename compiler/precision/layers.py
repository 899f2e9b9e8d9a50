"""Crossbar layers: the ops whose static weight a crossbar holds, seen as ``y = W·x + b``.

Before quantization a crossbar layer is an ``nn.linear`` with a constant weight (``fuse-linear``
made every MatMul/Gemm with a constant weight one) or a 2-D, group-1 ``onnx.Conv`` with a constant
weight (BatchNormalization already folded in). Depthwise and grouped convolutions map badly to
crossbars (they run on the digital units) and stay float. After quantization a layer is a
``quant.linear`` / ``quant.conv``; :func:`build_layer_op` makes one from a :class:`Layer` and the
cells chosen for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dialects import nn
from ..dialects import onnx as onnx_dialect
from ..dialects.quant import ConvOp, CrossbarLayerOp, LinearOp
from ..ir.attributes import ArrayAttr, DenseElementsAttr, IntegerAttr, StringAttr
from ..ir.builtin import ModuleOp
from ..ir.core import Operation, Value
from ..ir.diagnostics import NameLoc
from ..ir.rewriter import constant_value, is_trivially_dead
from ..ir.types import NoneType, RankedTensorType, f32
from .numerics.crossbar import (
    CrossbarWeights,
    conv_matrix,
    conv_output_hw,
    gather_rows,
    im2col,
    im2col_rows,
)

#: The float crossbar layers before quantization: a product with a constant weight, a convolution.
FLOAT_LINEAR = nn.LinearOp
FLOAT_CONV = onnx_dialect.ConvOp


@dataclass(eq=False)
class Layer:
    """One crossbar layer: its op, float weight ``[O, K]``, bias, input value and conv geometry.

    For a layer that is already quantized, ``weight`` is the weight its cells represent.
    """

    op: Operation
    name: str
    kind: str
    weight: np.ndarray
    bias: np.ndarray | None
    geometry: dict | None = None

    @property
    def x(self) -> Value:
        """The layer's input (read from the op: replacing the layer before changes it)."""
        return self.op.operands[0]

    @property
    def shape(self) -> tuple[int, int]:
        """(out channels, fan-in)."""
        return tuple(int(d) for d in self.weight.shape)

    def rows(self, x: np.ndarray, pad_value=0, index: np.ndarray | None = None) -> np.ndarray:
        """The crossbar input rows ``[M, K]`` for an input tensor of this layer (only rows
        ``index`` when given)."""
        if self.kind == "conv":
            g = self.geometry
            geometry = (g["kernel_shape"], g["strides"], g["pads"], g["dilations"], pad_value)
            if index is not None:
                return im2col_rows(x, index, *geometry)
            return im2col(x, *geometry)[0]
        rows = x.reshape(-1, x.shape[-1])
        return rows if index is None else rows[index]

    def row_count(self, x: np.ndarray) -> int:
        """M, the number of crossbar input rows of input ``x``."""
        if self.kind != "conv":
            return int(np.prod(x.shape[:-1]))
        g = self.geometry
        ho, wo = conv_output_hw(
            x.shape[2:], g["kernel_shape"], g["strides"], g["pads"], g["dilations"]
        )
        return x.shape[0] * ho * wo

    def tile_rows(self, array_rows: int) -> int:
        """The layer's row-tile height on arrays of ``array_rows`` rows: a convolution's tiles
        never straddle two kernel rows (contiguous kw·C inputs of an NHWC image)."""
        if self.kind != "conv":
            return array_rows
        kh, kw = self.geometry["kernel_shape"]
        channels = self.weight.shape[1] // (kh * kw)
        return gather_rows(array_rows, kw * channels, kh)

    def reference(self, rows: np.ndarray) -> np.ndarray:
        """The float layer output ``rows @ Wᵀ + b`` (float32)."""
        y = np.asarray(rows, np.float32) @ self.weight.T
        return y if self.bias is None else y + self.bias


def layer_name(op: Operation, index: int) -> str:
    """The ONNX node name of the layer, else ``<op>#index``."""
    loc = op.location
    return loc.name if isinstance(loc, NameLoc) else f"{op.name}#{index}"


def _const(value: Value) -> np.ndarray | None:
    attr = constant_value(value)
    return None if not isinstance(attr, DenseElementsAttr) else attr.array


def _float32(t) -> bool:
    return isinstance(t, RankedTensorType) and t.element_type == f32


def as_layer(op: Operation, index: int = 0) -> Layer | None:
    """The crossbar layer ``op`` is, or None when it is not one (depthwise conv, dynamic weight,
    float types other than f32, non-2-D conv, auto padding)."""
    if isinstance(op, CrossbarLayerOp):
        w = op.crossbar_weights().dense()
        geometry = op.geometry() if isinstance(op, ConvOp) else None
        kind = "conv" if isinstance(op, ConvOp) else "linear"
        return Layer(op, layer_name(op, index), kind, w, op.bias(), geometry)
    if isinstance(op, FLOAT_LINEAR):
        return _linear_layer(op, index)
    if isinstance(op, FLOAT_CONV):
        return _conv_layer(op, index)
    return None


def _linear_layer(op: Operation, index: int) -> Layer | None:
    parts = _linear_parts(op)
    if parts is None:
        return None
    w, bias = parts
    return Layer(op, layer_name(op, index), "linear", np.asarray(w, np.float32), bias)


def _linear_parts(op: Operation) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The constant weight and bias of a float ``nn.linear`` crossbar layer (the IR's arrays,
    not copies), or None when it is not one."""
    x, w_val, b_val = op.operands
    w = _const(w_val)
    if w is None or w.ndim != 2 or not _float32(x.type) or not _float32(op.results[0].type):
        return None
    bias = None if isinstance(b_val.type, NoneType) else _const(b_val)
    if bias is None and not isinstance(b_val.type, NoneType):
        return None
    return w, bias


def _conv_layer(op: Operation, index: int) -> Layer | None:
    parts = _conv_parts(op)
    if parts is None:
        return None
    w, bias = parts
    kernel = tuple(int(k) for k in w.shape[2:])
    geometry = {
        "kernel_shape": kernel,
        "strides": tuple(int(v) for v in (op.get_attr("strides") or (1, 1))),
        "pads": tuple(int(v) for v in (op.get_attr("pads") or (0, 0, 0, 0))),
        "dilations": tuple(int(v) for v in (op.get_attr("dilations") or (1, 1))),
    }
    matrix = conv_matrix(np.asarray(w, np.float32))
    return Layer(op, layer_name(op, index), "conv", matrix, bias, geometry)


def _conv_parts(op: Operation) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The constant weight and bias of a float ``onnx.Conv`` crossbar layer (the IR's arrays,
    not copies), or None when it is not one."""
    x, w_val = op.operands[0], op.operands[1]
    w = _const(w_val)
    if w is None or w.ndim != 4 or not _float32(x.type) or not _float32(op.results[0].type):
        return None
    if op.get_attr("group", 1) != 1 or op.get_attr("auto_pad", "NOTSET") != "NOTSET":
        return None
    bias = None
    if len(op.operands) > 2 and not isinstance(op.operands[2].type, NoneType):
        bias = _const(op.operands[2])
        if bias is None:
            return None
    return w, bias


def main_block(module: ModuleOp):
    """The body of the module's main function (``@main`` or the only function)."""
    from ..interp.interpreter import main_function

    return main_function(module).body


def float_layers(module: ModuleOp) -> list[Layer]:
    """Every not-yet-quantized crossbar layer of the main function, in program order."""
    return [as_layer(op, i) for i, op in float_layer_ops(module)]


def float_layer_ops(module: ModuleOp) -> list[tuple[int, Operation]]:
    """``(index in the block, op)`` of every not-yet-quantized crossbar layer, in program order:
    what :func:`float_layers` lists, without making every layer's float weight matrix at once
    (``as_layer(op, index)`` makes one layer's when it is needed)."""
    out = []
    for i, op in enumerate(main_block(module).ops):
        if isinstance(op, FLOAT_LINEAR) and _linear_parts(op) is not None:
            out.append((i, op))
        elif isinstance(op, FLOAT_CONV) and _conv_parts(op) is not None:
            out.append((i, op))
    return out


def quant_layers(module: ModuleOp) -> list[CrossbarLayerOp]:
    """Every quantized crossbar layer op of the main function, in program order."""
    return [op for op in main_block(module).ops if isinstance(op, CrossbarLayerOp)]


def build_layer_op(
    layer: Layer,
    w: CrossbarWeights,
    bias: np.ndarray | None,
    array_rows: int,
    x: Value | None = None,
    x_scale: Value | None = None,
) -> CrossbarLayerOp:
    """A ``quant.linear``/``quant.conv`` computing ``layer`` with weights ``w``; its input is
    the layer's float input unless ``x`` (codes) and ``x_scale`` (dynamic scales) are given."""
    attrs = {
        "weights": DenseElementsAttr.from_array(
            np.asarray(w.cells, np.int8), f"{layer.name}.cells"
        ),
        "format": StringAttr(w.fmt),
        "scale": DenseElementsAttr.from_array(np.asarray(w.scale, np.float32)),
        "array_rows": IntegerAttr(layer.tile_rows(int(array_rows))),
    }
    if w.scale_neg is not None:
        attrs["scale_neg"] = DenseElementsAttr.from_array(np.asarray(w.scale_neg, np.float32))
    if bias is not None:
        attrs["bias"] = DenseElementsAttr.from_array(np.asarray(bias, np.float32))
    result = layer.op.results[0].type
    x = layer.x if x is None else x
    if layer.kind == "conv":
        for key, values in layer.geometry.items():
            attrs[key] = ArrayAttr(tuple(IntegerAttr(int(v)) for v in values))
        return ConvOp.create([x], [result], attrs, location=layer.op.location)
    scale = x_scale if x_scale is not None else _none_value(layer.op)
    return LinearOp.create([x, scale], [result], attrs, location=layer.op.location)


def _none_value(op: Operation) -> Value:
    """A ``none`` value for the absent input-scale operand (reusing the op's own if it has one)."""
    for v in op.operands:
        if isinstance(v.type, NoneType):
            return v
    novalue = onnx_dialect.NoValueOp.create(result_types=[NoneType()], location=op.location)
    op.parent.insert(op.parent.index_of(op), novalue)
    return novalue.results[0]


def replace_layer(old: Operation, new_ops: list[Operation]) -> None:
    """Insert ``new_ops`` before ``old``, route its uses to the last one's result, erase ``old``
    and any constant that fed only it."""
    block = old.parent
    at = block.index_of(old)
    for i, op in enumerate(new_ops):
        block.insert(at + i, op)
    old.results[0].replace_all_uses_with(new_ops[-1].results[0])
    feeders = [v.owner for v in old.operands if isinstance(v.owner, Operation)]
    old.erase()
    for op in feeders:
        # Weight constants and absent-value markers that fed only the old op go with it.
        if op.parent is not None and not op.operands and is_trivially_dead(op):
            op.erase()
