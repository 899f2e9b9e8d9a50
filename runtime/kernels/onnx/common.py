"""Types and small helpers shared by every kernel family.

A kernel is a plain function ``(inputs, attrs, ctx) -> outputs``:

* ``inputs`` follows the ONNX input order; an omitted optional input is ``None`` (trailing
  omitted inputs may also be absent from the list, so kernels read them through `opt`);
* ``attrs`` holds every schema attribute, defaults filled in, as plain Python/numpy values
  (the compiler fills them from the op schemas);
* ``ctx`` carries what the node itself cannot tell: the opset version and how many outputs
  the node asks for.

Kernels never write into their inputs; an output may alias an input (Reshape returns a view).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class KernelContext:
    """What a kernel needs to know beyond its inputs and attributes.

    ``opset`` is the version of the default ONNX domain the model imports; ``num_outputs``
    is the number of outputs the node declares (Split, Dropout's mask, MaxPool's indices,
    LayerNormalization's stash outputs depend on it). ``max_bytes`` caps the result a kernel
    that makes large tensors from small inputs (ConstantOfShape, Range, Tile, Expand) may
    allocate; ``None`` means the size budget (``imcc.runtime.budget``).
    """

    opset: int
    num_outputs: int = 1
    max_bytes: int | None = None

    def check_result(self, op: str, count: int, itemsize: int) -> None:
        """Raise KernelError before allocating ``count`` elements beyond the cap."""
        from ... import budget

        nbytes = int(count) * int(itemsize)
        try:
            cap = budget.limit() if self.max_bytes is None else self.max_bytes
        except budget.BudgetError as exc:
            raise KernelError(str(exc)) from None
        if nbytes > cap:
            raise KernelError(
                f"{op}: the result would take {nbytes:,} bytes, more than the limit of {cap:,} "
                f"({budget.ENV} raises it)"
            )


Inputs = Sequence[np.ndarray | None]
Kernel = Callable[[Inputs, dict[str, Any], KernelContext], list[np.ndarray]]


class KernelError(ValueError):
    """An ONNX node cannot be evaluated because its inputs or attributes are invalid."""


class UnsupportedOp(KernelError):
    """The op type, or one of its attribute values, is outside what the interpreter supports."""


def dense(x: np.ndarray) -> np.ndarray:
    """``x`` stored densely in C order (the same array when it already is; 0-d stays 0-d)."""
    x = np.asarray(x)
    return x if x.flags.c_contiguous else np.array(x, order="C", copy=True)


def opt(inputs: Inputs, index: int) -> np.ndarray | None:
    """Return optional input ``index``, or None when it is omitted or absent."""
    return inputs[index] if index < len(inputs) else None


def need(inputs: Inputs, index: int, op: str) -> np.ndarray:
    """Return required input ``index`` or raise a KernelError naming the op."""
    value = opt(inputs, index)
    if value is None:
        raise KernelError(f"{op}: required input #{index} is missing")
    return value


def same_type(op: str, *values: np.ndarray | None) -> None:
    """Reject operands whose element types differ where the ONNX type constraint ties them.

    numpy would silently promote (float32 with float64 gives float64); ONNX never does.
    """
    types = [v.dtype for v in values if v is not None]
    if any(t != types[0] for t in types[1:]):
        raise KernelError(f"{op}: operand element types differ ({', '.join(map(str, types))})")


def required(attrs: dict[str, Any], name: str, op: str) -> Any:
    """Return a required attribute or raise a KernelError naming it."""
    if attrs.get(name) is None:
        raise KernelError(f"{op}: required attribute '{name}' is missing")
    return attrs[name]


def norm_axis(axis: int, rank: int, op: str) -> int:
    """Map a possibly negative axis into ``[0, rank)``, rejecting out-of-range values."""
    if not -rank <= axis < max(rank, 1):
        raise KernelError(f"{op}: axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def norm_axes(axes: Sequence[int], rank: int, op: str) -> tuple[int, ...]:
    """Normalise a list of axes and reject duplicates."""
    result = tuple(norm_axis(int(a), rank, op) for a in axes)
    if len(set(result)) != len(result):
        raise KernelError(f"{op}: repeated axis in {list(axes)}")
    return result


def int_list(value: np.ndarray | Sequence[int] | None) -> list[int] | None:
    """Turn an int tensor or list (axes, shapes, pads given as inputs) into Python ints."""
    if value is None:
        return None
    return [int(v) for v in np.asarray(value).reshape(-1)]


def scalar(value: np.ndarray) -> Any:
    """Return the single element of a scalar or one-element tensor as a Python value."""
    array = np.asarray(value)
    if array.size != 1:
        raise KernelError(f"expected a scalar tensor, got shape {list(array.shape)}")
    return array.reshape(-1)[0].item()


def unidirectional(value: np.ndarray, shape: tuple[int, ...], op: str, what: str) -> np.ndarray:
    """Check that ``value`` broadcasts to ``shape`` without changing it (ONNX unidirectional)."""
    try:
        out = np.broadcast_shapes(value.shape, shape)
    except ValueError:
        out = None
    if out != tuple(shape):
        raise KernelError(
            f"{op}: {what} of shape {list(value.shape)} does not broadcast to {list(shape)}"
        )
    return value
