"""Reference semantics of the ``nn`` dialect, registered with the interpreter on import.

One numpy function per op, written as the op's docstring states it; they are the executable
definition against which the fusion passes are tested (a fused module must compute what the onnx
graph it came from computed). Statistics and products stay in the input's float type, except GELU,
which is evaluated in float64 and rounded once (as the onnx Gelu kernel is).
"""

from __future__ import annotations

import numpy as np
from imcc.runtime.kernels.nn import attention, gelu, layer_norm, linear

from ..dialects import nn
from ..ir.core import Operation
from .interpreter import Array, Interpreter, InterpreterError, register_interpreter


def _checked(op: Operation, fn, *args) -> list[np.ndarray]:
    try:
        with np.errstate(all="ignore"):
            return [fn(*args)]
    except ValueError as exc:  # numpy's shape errors: the IR types did not describe the data
        raise InterpreterError(f"'{op.name}' failed: {exc}", op.location) from None


@register_interpreter(nn.LinearOp)
def _linear(op: Operation, inputs: list[Array], interp: Interpreter) -> list[Array]:
    return _checked(op, linear, *inputs)


@register_interpreter(nn.LayerNormOp)
def _layer_norm(op: Operation, inputs: list[Array], interp: Interpreter) -> list[Array]:
    x, gamma, beta = inputs
    return _checked(op, layer_norm, x, gamma, beta, op.get_attr("axis"), op.get_attr("epsilon"))


@register_interpreter(nn.GeluOp)
def _gelu(op: Operation, inputs: list[Array], interp: Interpreter) -> list[Array]:
    return _checked(op, gelu, inputs[0], op.get_attr("approximate"))


@register_interpreter(nn.AttentionOp)
def _attention(op: Operation, inputs: list[Array], interp: Interpreter) -> list[Array]:
    heads, scale = op.get_attr("num_heads"), op.get_attr("scale")
    return _checked(op, attention, *inputs, heads, scale)
