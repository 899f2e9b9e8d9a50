"""The cores' kernel library as one callable table: names, calls, layouts and cycle models.

A kernel is named like the op it implements (``onnx.Conv``, ``nn.linear``) and computes exactly
what that op computes: the ONNX kernels follow ONNX semantics, the ``nn`` kernels the fused graph
ops. `call` runs one; ``layout="nhwc"`` runs an op defined on channels-first tensors on
channels-last data (operand 0 and result 0 are transposed around the kernel, which then sees
exactly what it would see in the channels-first program: the same bits). `work` gives the
kernel's cost class (a key of the target's ``cores.kernels``) and its amount of work, for the
cycle model ``setup + ⌈work / ncores⌉ · cost``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from . import nn
from .onnx import KERNELS, KernelContext, KernelError, UnsupportedOp
from .onnx.common import dense

__all__ = [
    "LAYOUTS",
    "KernelError",
    "UnsupportedOp",
    "call",
    "has_kernel",
    "kernel_names",
    "work",
]

LAYOUTS = ("", "nhwc")
ONNX_PREFIX = "onnx."


def _linear(inputs, params, ctx):
    return [nn.linear(*inputs)]


def _layer_norm(inputs, params, ctx):
    x, gamma, beta = inputs
    return [nn.layer_norm(x, gamma, beta, params["axis"], params["epsilon"])]


def _gelu(inputs, params, ctx):
    return [nn.gelu(inputs[0], params.get("approximate", "none"))]


def _attention(inputs, params, ctx):
    return [nn.attention(*inputs, params["num_heads"], params["scale"])]


NN_KERNELS: dict[str, Callable] = {
    "nn.linear": _linear,
    "nn.layer_norm": _layer_norm,
    "nn.gelu": _gelu,
    "nn.attention": _attention,
}


def kernel_names() -> list[str]:
    """Every kernel of the library, sorted."""
    return sorted([ONNX_PREFIX + t for t in KERNELS] + list(NN_KERNELS))


def has_kernel(name: str) -> bool:
    """Whether the library has a kernel called ``name``."""
    if name.startswith(ONNX_PREFIX):
        return name[len(ONNX_PREFIX) :] in KERNELS
    return name in NN_KERNELS


def call(
    name: str,
    inputs: Sequence[np.ndarray | None],
    params: dict,
    opset: int,
    num_outputs: int,
    layout: str = "",
) -> list[np.ndarray | None]:
    """Run kernel ``name`` on ``inputs`` with its attributes ``params``; KernelError if the
    inputs or attributes are invalid for it."""
    if layout not in LAYOUTS:
        raise KernelError(f"{name}: unknown layout '{layout}'")
    inputs = [None if v is None else dense(v) for v in inputs]
    if layout == "nhwc":
        inputs[0] = _to_channels_first(inputs[0], name)
    ctx = KernelContext(opset, num_outputs)
    if name.startswith(ONNX_PREFIX):
        kernel = KERNELS.get(name[len(ONNX_PREFIX) :])
        if kernel is None:
            raise UnsupportedOp(f"the kernel library has no kernel '{name}'")
        outputs = list(kernel(inputs, params, ctx))
    else:
        kernel = NN_KERNELS.get(name)
        if kernel is None:
            raise UnsupportedOp(f"the kernel library has no kernel '{name}'")
        with np.errstate(all="ignore"):
            outputs = kernel(inputs, params, ctx)
    outputs = outputs + [None] * (num_outputs - len(outputs))
    if layout == "nhwc":
        outputs[0] = _to_channels_last(outputs[0], name)
    return outputs[:num_outputs]


def _to_channels_first(x, name):
    if x is None or x.ndim < 3:
        raise KernelError(f"{name}: the nhwc layout needs an operand 0 of rank >= 3")
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


def _to_channels_last(y, name):
    if y is None or y.ndim < 3:
        raise KernelError(f"{name}: the nhwc layout needs a result 0 of rank >= 3")
    return np.ascontiguousarray(np.moveaxis(y, 1, -1))


# --- cycle models -------------------------------------------------------------------------------

#: Cost classes (keys of ``cores.kernels`` in a target) of the ONNX kernels; others are "eltwise".
_CLASS = {
    **dict.fromkeys(("Conv", "ConvTranspose", "MatMul", "Gemm"), "matmul_f32"),
    **dict.fromkeys(("Exp", "Log", "Erf", "Pow", "Sqrt", "Reciprocal", "Div"), "exp"),
    **dict.fromkeys(("Sigmoid", "HardSigmoid", "HardSwish"), "sigmoid"),
    "Tanh": "tanh",
    **dict.fromkeys(("Softmax", "LogSoftmax"), "softmax"),
    **dict.fromkeys(("LayerNormalization", "BatchNormalization", "LRN"), "layernorm"),
    "Gelu": "gelu",
    **dict.fromkeys(("MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"), "pool"),
    "Transpose": "transpose",
    **dict.fromkeys(
        (
            "Concat",
            "Slice",
            "Split",
            "Pad",
            "Expand",
            "Tile",
            "Gather",
            "Identity",
            "Dropout",
            "Reshape",
            "Flatten",
            "Squeeze",
            "Unsqueeze",
            "Cast",
            "CastLike",
            "ConstantOfShape",
            "Constant",
            "Range",
            "Shape",
            "Size",
        ),
        "copy",
    ),
}
_NN_CLASS = {
    "nn.linear": "matmul_f32",
    "nn.layer_norm": "layernorm",
    "nn.gelu": "gelu",
    "nn.attention": "matmul_f32",
}


def _elements(shapes) -> int:
    return sum(math.prod(s) for s in shapes if s is not None)


def work(
    name: str,
    in_shapes: Sequence[tuple[int, ...] | None],
    out_shapes: Sequence[tuple[int, ...] | None],
    out_itemsize: int,
    params: dict,
) -> tuple[str, int]:
    """(cost class, units of work) of one call: MACs for products, bytes for data movement,
    pooling-window taps for pooling, elements otherwise."""
    cls = _NN_CLASS.get(name) or _CLASS.get(name[len(ONNX_PREFIX) :], "eltwise")
    out = _elements(out_shapes)
    if cls == "copy":
        return cls, out * out_itemsize
    if cls == "pool":
        return cls, max(_elements(in_shapes[:1]), out)
    if cls != "matmul_f32":
        return cls, max(out, _elements(in_shapes[:1]))
    return cls, _macs(name, in_shapes, out_shapes, params)


def _macs(name, in_shapes, out_shapes, params) -> int:
    out = _elements(out_shapes[:1])
    x, w = in_shapes[0], in_shapes[1] if len(in_shapes) > 1 else None
    if name in ("onnx.Conv", "onnx.ConvTranspose") and w is not None:
        # Conv: each output takes C/group · prod(kernel) products (W is [M, C/group, k...]);
        # ConvTranspose: each input feeds M/group · prod(kernel) outputs (W is [C, M/group, k...])
        base = out if name == "onnx.Conv" else _elements(in_shapes[:1])
        return base * math.prod(w[1:])
    if name == "nn.attention" and x is not None:
        # Q·Kᵀ and P·V: 2 · batch · S² · (heads · head size) products
        seq, width = x[-2], x[-1]
        return 2 * math.prod(x[:-2]) * seq * seq * width
    if x is not None and len(x) >= 1:
        return out * x[-1]
    return out
