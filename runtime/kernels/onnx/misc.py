"""Identity, inference-mode Dropout and Constant."""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import Inputs, KernelContext, KernelError, UnsupportedOp, need, opt, scalar

# Constant's value attributes and how each becomes a tensor.
_CONSTANT_FORMS = {
    "value": lambda v: np.asarray(v),
    "sparse_value": lambda v: np.asarray(v),
    "value_float": lambda v: np.array(v, dtype=np.float32),
    "value_floats": lambda v: np.array(v, dtype=np.float32).reshape(-1),
    "value_int": lambda v: np.array(v, dtype=np.int64),
    "value_ints": lambda v: np.array(v, dtype=np.int64).reshape(-1),
    "value_string": lambda v: np.array(v, dtype=object),
    "value_strings": lambda v: np.array(list(v), dtype=object).reshape(-1),
}


def identity(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Identity: the input itself."""
    return [need(inputs, 0, "Identity")]


def dropout(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Dropout in inference: the input unchanged and an all-true mask.

    Training mode is accepted only with ratio 0, where it is the same thing; random masks
    are out of scope for a reference interpreter that must be deterministic.
    """
    x = need(inputs, 0, "Dropout")
    if ctx.opset >= 12:
        ratio_t, mode_t = opt(inputs, 1), opt(inputs, 2)
        ratio = 0.5 if ratio_t is None else float(scalar(ratio_t))
        training = mode_t is not None and bool(scalar(mode_t))
    else:
        # Before opset 12 the runtime chose the mode; the interpreter always infers.
        ratio, training = 0.0, False
    if training and ratio != 0.0:
        raise UnsupportedOp(f"Dropout: training mode with ratio {ratio} is not supported")
    outputs = [x]
    if ctx.num_outputs > 1:
        # The mask became bool in opset 10; before that it had the data's type.
        mask_type = np.bool_ if ctx.opset >= 10 else x.dtype
        outputs.append(np.ones(x.shape, dtype=mask_type))
    return outputs


def constant(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Constant: exactly one of value, sparse_value, value_float(s), value_int(s), value_string(s)."""
    given = [name for name in _CONSTANT_FORMS if attrs.get(name) is not None]
    if len(given) != 1:
        raise KernelError(f"Constant: exactly one value attribute expected, got {given or 'none'}")
    return [_CONSTANT_FORMS[given[0]](attrs[given[0]])]


KERNELS = {"Identity": identity, "Dropout": dropout, "Constant": constant}
